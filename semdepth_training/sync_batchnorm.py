"""Synchronised BatchNorm: statistics over the whole distributed batch instead of each rank's slice.

With it, B samples on each of N processes normalise exactly like one process with N*B samples (the
per-rank statistics of plain BatchNorm are noisier and differ from rank to rank). CUDA uses
``torch.nn.SyncBatchNorm``; PyTorch's version refuses CPU tensors, so CPU runs (gloo) get
:class:`CPUSyncBatchNorm`, the same computation in plain differentiable collectives.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose backward is the sum of the ranks' gradients: every rank's loss depends on
    every rank's input through the shared statistics."""

    @staticmethod
    def forward(ctx: object, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class CPUSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode mean and variance are those of all ranks' samples together.

    Two all-reduces per call: the sums (and sample count) give the global mean, then the squared
    deviations from it give the biased variance, which stays accurate where E[x^2] - E[x]^2 would
    cancel. Gradients flow back through both, so each rank's inputs receive the gradient of every
    rank's loss, as in one big batch. Same
    parameters and buffers as BatchNorm2d, so state dicts load either way.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        local_count = x.new_full((1,), x.numel() // x.shape[1])
        totals = _AllReduceSum.apply(torch.cat([x.sum((0, 2, 3)), local_count]))
        count = totals[-1].detach()
        mean = totals[:-1] / count
        centered = x - mean[None, :, None, None]
        var = _AllReduceSum.apply(centered.square().sum((0, 2, 3))) / count
        y = centered * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                unbiased = var.detach() * (count / (count - 1).clamp(min=1))
                self.running_var.mul_(1 - factor).add_(unbiased, alpha=factor)
        return y


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every BatchNorm2d synchronised across ranks (torch's on CUDA, ours on CPU)."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, CPUSyncBatchNorm):
        synced = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                  module.track_running_stats)
        synced.load_state_dict(module.state_dict())
        if module.affine:
            synced.weight.requires_grad_(module.weight.requires_grad)
            synced.bias.requires_grad_(module.bias.requires_grad)
        return synced.train(module.training)
    for name, child in module.named_children():
        setattr(module, name, convert_sync_batchnorm(child, device))
    return module
