"""Data-parallel training across processes, launched by ``torchrun`` (no launcher of our own).

``torchrun`` starts one process per GPU (or CPU slot) and tells each its place through the
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT); :func:`init_world` joins them into a
process group (NCCL between GPUs, gloo on CPU) with a timeout, so a rank that dies can never leave
the others waiting for ever. Without those variables everything here is a no-op on one process.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from semdepth_ros.predictor import resolve_device

BACKENDS = ("auto", "nccl", "gloo")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes, and its device."""

    device: torch.device
    rank: int = 0
    size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, TensorBoard and progress bars."""
        return self.rank == 0

    def any(self, *flags: bool) -> list[bool]:
        """Each flag, true on every rank if it is true on any: ranks must agree to stop at one step."""
        if not self.distributed:
            return list(flags)
        values = torch.tensor([float(f) for f in flags], device=self.device)
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return [v > 0 for v in values.tolist()]

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over ranks (a new tensor; the input is left alone)."""
        if not self.distributed:
            return values
        total = values.detach().clone().to(self.device)
        dist.all_reduce(total)
        return total

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in DistributedDataParallel (itself on one process).

        ``static_graph``: each wrapped module runs one forward per step and the set of parameters
        that get gradients is fixed by the config (e.g. the heads of scales left out of
        ``loss.scales`` never do), which DDP then learns once instead of searching the autograd
        graph every step as ``find_unused_parameters`` would. The module must return only outputs
        that reach the loss (the trainer's DepthBranch and PoseBranch do).
        """
        if not self.distributed:
            return module
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids, static_graph=True)

    def broadcast_buffers(self, module: nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics) to every rank: without synchronised
        BatchNorm each rank updates them from its own samples, and rank 0's are the ones saved."""
        if self.distributed:
            for buffer in module.buffers():
                dist.broadcast(buffer, 0)


@contextmanager
def init_world(device: str, backend: str = "auto", timeout_minutes: float = 30.0) -> Iterator[World]:
    """Join the process group that ``torchrun`` set up in the environment, and leave it at the end.

    Each process takes GPU ``LOCAL_RANK`` (modulo the GPUs it sees, so that several processes may
    share one GPU with gloo, e.g. to measure the overhead). ``backend`` "auto" is NCCL on CUDA and
    gloo on CPU. A collective that waits longer than ``timeout_minutes`` (a dead or stuck rank)
    raises instead of hanging; ``torchrun`` itself stops the other ranks as soon as one exits.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = resolve_device(device)
    if size == 1:
        yield World(chosen)
        return
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(chosen)
    if backend == "auto":
        backend = "nccl" if chosen.type == "cuda" else "gloo"
    if backend == "nccl" and chosen.type != "cuda":
        raise ValueError("run.dist_backend nccl needs CUDA devices; use gloo (or auto) on CPU")
    dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
    try:
        yield World(chosen, rank, size)
    finally:
        dist.destroy_process_group()
