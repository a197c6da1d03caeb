"""A one-element mailbox between the subscription callback and the processing thread.

Holding only the newest frame is what keeps latency bounded when the camera is faster than the
network: a frame that arrives while another waits replaces it, and the replaced one is counted.
"""
from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class FrameSlot(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[T, float] | None = None

    def put(self, item: T) -> bool:
        """Store the newest item with its arrival time; True when it replaced one nobody took."""
        with self._cond:
            replaced = self._item is not None
            self._item = (item, time.monotonic())
            self._cond.notify()
        return replaced

    def take(self, timeout: float) -> tuple[T, float] | None:
        """Wait up to `timeout` s for an item and remove it; returns (item, arrival monotonic time)."""
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
        return item
