"""Log each kind of problem at most once per period, so a broken camera cannot flood the log.

Problems are throttled by a stable kind (e.g. "data_size", "step_too_small"), never by their formatted
text: two faults of different kinds are both logged in the same period, and one fault whose numbers
change from frame to frame is still one kind.
"""
from __future__ import annotations

import threading
import time


class ProblemThrottle:
    """Decides whether a problem of some kind is due for logging, and counts what it held back."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()  # the callback and worker threads both report problems

    def due(self, kind: str) -> int | None:
        """None when ``kind`` was logged within the period (the occurrence is counted); otherwise the
        number of occurrences held back since it was last logged (0 the first time)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -float("inf")) < self.period_s:
                self._held[kind] = self._held.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._held.pop(kind, 0)
