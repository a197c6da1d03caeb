"""What makes a training run stoppable, crash-safe and exactly resumable, on one process or many.

Exact resume needs, besides the weights and optimiser: the data order, the augmentations and the
random draws inside a step. The order is a pure function of (seed, epoch) (:class:`EpochSampler`),
augmentations are a function of (seed, epoch, index) (datasets.base), and the in-step draws (automask
noise, SEEM point sampling) come from generators re-seeded from (seed, rank, step) before every step
(:func:`seed_step`), so no random state has to be saved and every rank of a distributed run replays
its own draws. Stopping is only honoured between optimiser steps (:class:`GracefulStop`), so a saved
state is never half-updated; states are written atomically (:func:`atomic_save`), so a kill at any
moment leaves the previous one usable.
"""
from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

TMP_SUFFIX = ".tmp"


class EpochSampler(Sampler[int]):
    """This rank's sample indices for one epoch, starting at global batch ``start_batch``.

    The epoch's order is a permutation drawn from (seed, epoch) only, cut into global batches of
    ``batch_size * world_size`` samples (the last partial one is dropped, as Monodepth2 does); rank r
    takes the r-th slice of ``batch_size`` from each. So a one-process run with batch 2B and a
    two-process run with batch B train on the same samples at every step, and a resumed run (on any
    rank) rebuilds the same order and skips the batches already trained on without loading them.
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside a world of {world_size} processes")
        if num_samples < batch_size * world_size:
            processes = f" x {world_size} processes" if world_size > 1 else ""
            raise ValueError(f"the training set has {num_samples} samples, fewer than one batch of "
                             f"{batch_size}{processes}; check the data path and split, or lower optim.batch_size")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Optimiser steps per epoch (global batches)."""
        return self.num_samples // (self.batch_size * self.world_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_samples)
        batches = order[:self.batches_per_epoch * self.batch_size * self.world_size].reshape(
            self.batches_per_epoch, self.world_size, self.batch_size)
        yield from batches[self.start_batch:, self.rank].reshape(-1).tolist()

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) so weight init repeats across runs and ranks."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def seed_step(seed: int, rank: int, step: int, stream: int = 0) -> None:
    """Re-seed the global generators from (seed, rank, step, stream) before a step.

    Draws inside a step then depend on nothing a kill can lose, and ranks draw differently from each
    other (different SEEM points on different samples). ``stream`` separates uses, e.g. validation.
    """
    state = np.random.SeedSequence((seed, rank, step, stream)).generate_state(2, np.uint32)
    random.seed(int(state[0]))
    np.random.seed(int(state[0]))
    torch.manual_seed(int(state[0]) << 32 | int(state[1]))


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` so that it holds either the old or the whole new state, also after a
    kill -9 or a power cut: write ``path.tmp``, flush it to disk, rename it over ``path``, sync the folder."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with open(tmp, "wb") as file:
        torch.save(obj, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def remove_stale_tmp(folders: Iterable[Path]) -> list[Path]:
    """Delete ``*.tmp`` files a killed save left behind (they are never complete states)."""
    removed = []
    for folder in folders:
        for path in sorted(folder.glob("*" + TMP_SUFFIX)) if folder.is_dir() else []:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def non_finite(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or Inf (one device sync per device)."""
    by_device: dict[torch.device, list[str]] = {}
    for name, t in tensors.items():
        if torch.is_tensor(t) and t.is_floating_point() and t.numel():
            by_device.setdefault(t.device, []).append(name)
    bad = []
    for names in by_device.values():
        finite = torch.stack([torch.isfinite(tensors[name]).all() for name in names]).tolist()
        bad += [name for name, ok in zip(names, finite) if not ok]
    return bad


class GracefulStop:
    """Context manager turning the first SIGINT (Ctrl-C) or SIGTERM into a request the training
    loop polls between steps; a second Ctrl-C raises KeyboardInterrupt at once.

    Raising inside an optimiser step would leave a half-updated model to checkpoint; polling keeps
    every saved state consistent. Outside the main thread signals cannot be caught and it is inert.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, announce: bool = True) -> None:
        self.requested = False
        self.announce = announce
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        if self.announce:
            print(f"\n{signal.Signals(signum).name} received: stopping after this step and saving "
                  "(Ctrl-C again to abort without saving)", flush=True)

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


def ignore_stop_signals_in_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: Ctrl-C reaches the whole process group, and a worker dying of
    it would break the main process's final save; the main process alone decides when to stop."""
    for signum in GracefulStop.SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


class LossReadings:
    """Each step's loss brought to the host without making the host wait for the device.

    Reading a CUDA loss right after its step (``.item()``) would stall the host until the GPU has
    finished that step, so the GPU would sit idle while the next step is queued. Instead the value
    is copied into pinned memory asynchronously and read one step later, when it has long arrived
    (:meth:`take` with ``keep_newest``); on the CPU it is there at once.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._pending: list[tuple[int, torch.Tensor, torch.cuda.Event | None]] = []

    def put(self, step: int, value: torch.Tensor) -> None:
        """Start bringing ``value`` (a scalar tensor of step ``step``) to the host."""
        value = value.detach()
        if self.device.type != "cuda":
            self._pending.append((step, value, None))
            return
        host = torch.empty(value.shape, dtype=value.dtype, pin_memory=True)
        host.copy_(value, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self._pending.append((step, host, event))

    def take(self, keep_newest: bool) -> list[tuple[int, float]]:
        """(step, value) of every pending reading, or of all but the newest one (``keep_newest``,
        and only on CUDA: elsewhere nothing is gained by waiting)."""
        keep = 1 if keep_newest and self.device.type == "cuda" else 0
        ready, self._pending = self._pending[:len(self._pending) - keep], self._pending[len(self._pending) - keep:]
        readings = []
        for step, value, event in ready:
            if event is not None:
                event.synchronize()
            readings.append((step, value.item()))
        return readings
