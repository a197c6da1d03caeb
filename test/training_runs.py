"""Helpers for tests that run `semdepth train` as a user does: in its own process (or under torchrun),
watched through its output and its run folder, and killed for real."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")


def write_config(path: Path, **sections: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(sections, sort_keys=False))
    return path


def train_command(*args: str, processes: int = 1) -> list[str]:
    """`python -m semdepth_training train ...`, under `torchrun --standalone` for several processes."""
    if processes == 1:
        return [sys.executable, "-m", "semdepth_training", "train", *args]
    return [str(TORCHRUN), "--standalone", "--nproc_per_node", str(processes), "-m", "semdepth_training",
            "train", *args]


def run_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


class Training:
    """A training process whose output lines are collected as they come (stdout and stderr together)."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"training exited ({self.process.returncode}) before {text!r}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output}")
            time.sleep(0.005)

    def wait_for_file(self, path: Path, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"training exited before {path} appeared:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} did not appear within {timeout} s:\n{self.output}")
            time.sleep(0.001)

    def rank_pid(self, rank: int) -> int:
        """The pid of torchrun's worker with this RANK (read from /proc)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        for child in children:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            if f"RANK={rank}".encode() in environ:
                return int(child)
        raise AssertionError(f"no worker with RANK={rank} among {children}")

    def kill(self, pid: int | None = None) -> None:
        """SIGKILL the training (or one of its workers), as the OOM killer or a pulled plug would."""
        os.kill(self.process.pid if pid is None else pid, signal.SIGKILL)

    def wait(self, timeout: float = 180.0) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError(f"training still running after {timeout} s:\n{self.output}") from None
        self._reader.join(10)
        return code


def run_training(command: list[str], timeout: float = 180.0) -> Training:
    """Run to the end and require success."""
    training = Training(command)
    code = training.wait(timeout)
    assert code == 0, f"exit {code}:\n{training.output}"
    return training


def load_state(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "resume.pt", map_location="cpu", weights_only=True)


def assert_same_state(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    """Bit-identical weights, BatchNorm statistics and Adam moments, at the same position."""
    assert (actual["step"], actual["epoch"], actual["batch_in_epoch"]) == \
        (expected["step"], expected["epoch"], expected["batch_in_epoch"])
    tensors = {**{("model", k): (v, actual["model"][k]) for k, v in expected["model"].items()},
               **{("pose_net", k): (v, actual["pose_net"][k]) for k, v in expected["pose_net"].items()}}
    for index, moments in expected["optimizer"]["state"].items():
        tensors.update({("adam", index, k): (v, actual["optimizer"]["state"][index][k]) for k, v in moments.items()})
    different = [key for key, (a, b) in tensors.items() if not torch.equal(a, b)]
    assert not different, f"{len(different)} of {len(tensors)} tensors differ, e.g. {different[:3]}"
