"""Log each distinct problem at most once per period, so a broken camera cannot flood the log."""
from __future__ import annotations

import re
import threading
import time


class ProblemThrottle:
    """Decides whether a problem message is due for logging.

    Messages that differ only in numbers (byte counts, sizes) are the same problem; different problems
    are logged independently so a second fault is not hidden behind the first.
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()  # the callback and worker threads both report problems

    def due(self, message: str) -> bool:
        key = re.sub(r"\d+(\.\d+)?", "#", message)
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -float("inf")) < self.period_s:
                return False
            self._last[key] = now
        return True
