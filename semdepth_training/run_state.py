"""What makes a training run stoppable and exactly resumable.

Exact resume needs three things besides the weights and optimiser: the data order, the
augmentations and the global RNG streams. The order is a pure function of (seed, epoch)
(:class:`EpochSampler`), augmentations are a function of (seed, epoch, index) (datasets.base), and
the RNG streams (automask noise, SEEM point sampling) are saved and restored. Stopping is only
honoured between optimiser steps (:class:`GracefulStop`), so a saved state is never half-updated.
"""
from __future__ import annotations

import random
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """One epoch's sample indices: a permutation drawn from (seed, epoch) only, trimmed to whole
    batches (Monodepth2 drops the last partial batch), starting at batch ``start_batch``.

    Because nothing else feeds the permutation, a resumed run rebuilds the same order and skips the
    batches it already trained on without loading them.
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int) -> None:
        if num_samples < batch_size:
            raise ValueError(f"the training set has {num_samples} samples, fewer than one batch of "
                             f"{batch_size}; check the data path and split, or lower optim.batch_size")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // self.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_samples)
        yield from order[self.start_batch * self.batch_size:self.batches_per_epoch * self.batch_size].tolist()

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) so weight init and noise repeat across runs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global RNG streams as tensors and plain values (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    random.setstate(_as_tuples(state["python"]))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value: Any) -> Any:
    """random.setstate wants nested tuples; a serialised state may come back with lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


class GracefulStop:
    """Context manager turning the first SIGINT (Ctrl-C) or SIGTERM into a request the training
    loop polls between steps; a second Ctrl-C raises KeyboardInterrupt at once.

    Raising inside an optimiser step would leave a half-updated model to checkpoint; polling keeps
    every saved state consistent. Outside the main thread signals cannot be caught and it is inert.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
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
