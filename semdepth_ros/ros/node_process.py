"""Run the depth node in a child process (tests and scripts/node_latency.py talk to it over DDS).

A separate process is what users run, so measurements and tests include the real DDS path. rclpy-free.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child that imports the same semdepth_ros as this process (installed or not),
    logs unbuffered and uncoloured."""
    child = dict(os.environ if env is None else env)
    child["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, child.get("PYTHONPATH")) if p)
    child.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "0")
    child.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    child.setdefault("PYTHONUNBUFFERED", "1")
    return child


def node_command(ros_args: list[str]) -> list[str]:
    """`python -m semdepth_ros.ros.depth_node --ros-args ...` with this interpreter."""
    return [sys.executable, "-m", "semdepth_ros.ros.depth_node", "--ros-args", *ros_args]


class NodeProcess:
    """The node with stdout and stderr captured in `log_path`; stop() sends SIGINT like Ctrl-C."""

    def __init__(self, ros_args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(node_command(ros_args), stdout=self._log, stderr=subprocess.STDOUT,
                                        env=child_env(env))

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float) -> bool:
        """Wait until `text` appears in the log (False on timeout or when the process ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return True
            if not self.alive():
                return text in self.log_text()
            time.sleep(0.1)
        return False

    def stop(self, timeout: float = 10.0) -> int:
        """SIGINT, then SIGKILL if it does not exit in `timeout` s; returns the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode
