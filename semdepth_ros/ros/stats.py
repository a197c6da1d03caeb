"""Frame counters, latency percentiles and throughput for the node's periodic report.

The subscription callbacks and the worker thread both count, so every method takes a lock.
"""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np

COUNTERS = ("received", "processed", "dropped", "errors", "idle", "camera_info_errors")
"""received: frames taken from DDS; processed: frames published; dropped: frames replaced by a newer
one before the worker took them; errors: frames skipped for bad input or failed inference; idle: frames
discarded because no output had a subscriber (so received = processed + dropped + errors + idle, plus
the frame in flight); camera_info_errors: unusable camera_info messages. Frames that the keep-last-1
input reader replaced before the executor took them never arrive: compare received with the camera's
rate to see them."""


@dataclasses.dataclass(frozen=True)
class StatsReport:
    counters: dict[str, int]          # totals since start
    fps: float                        # processed frames per second over the last period
    latency_p50_ms: float             # receive -> publish, over the last period (NaN if none)
    latency_p90_ms: float

    def line(self) -> str:
        """One human-readable log line."""
        counts = " ".join(f"{name}={value}" for name, value in self.counters.items())
        if np.isnan(self.latency_p50_ms):
            return f"{counts} fps={self.fps:.1f} (no frames this period)"
        return (f"{counts} fps={self.fps:.1f} latency p50={self.latency_p50_ms:.1f} ms "
                f"p90={self.latency_p90_ms:.1f} ms")


class FrameStats:
    """Totals since start; fps and latency percentiles per reporting period."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._latencies: list[float] = []
        self._processed_at_report = 0
        self._report_time = time.monotonic()

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] += n

    def total(self, name: str) -> int:
        with self._lock:
            return self._counters[name]

    def record_latency(self, seconds: float) -> None:
        with self._lock:
            self._latencies.append(seconds)

    def report(self) -> StatsReport:
        """Snapshot the totals and close the current period."""
        now = time.monotonic()
        with self._lock:
            counters = dict(self._counters)
            latencies, self._latencies = self._latencies, []
            processed = counters["processed"] - self._processed_at_report
            elapsed = max(now - self._report_time, 1e-9)
            self._processed_at_report, self._report_time = counters["processed"], now
        p50, p90 = (np.percentile(np.asarray(latencies) * 1e3, [50, 90]).tolist() if latencies
                    else (float("nan"), float("nan")))
        return StatsReport(counters, processed / elapsed, p50, p90)
