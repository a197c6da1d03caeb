"""The network's forward pass (or any stage of tensors in, tensors out) recorded once as a CUDA graph
and replayed per input.

At batch 1 the network is bound by kernel launches, not arithmetic: a replay issues every kernel of
the forward pass with one call. This needs a forward pass without host synchronisation or
host-to-device copies, which the attention (``scaled_dot_product_attention``) and SEEM (static point
counts, no tensors built from Python data) are written to have.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

WARMUP_PASSES = 3  # on a side stream before capture: cuDNN/SDPA kernel choice, SEEM's fixed eval draw


class CapturedNetwork:
    """``model`` in eval mode, captured for the shape, dtype and memory format of ``example``
    (a stage function taking several tensors: one example per argument).

    Convert the model first (``model.half()``, ``model.to(memory_format=torch.channels_last)``):
    fp16/bf16 weights cost no cast kernels per pass, unlike autocast. Calling copies the images into
    the graph's input buffer (converting dtype and memory format when needed) and replays; the
    returned dict holds the graph's own output tensors, which the next call overwrites: copy what
    must outlive it.
    """

    def __init__(self, model: Callable[..., Any], example: torch.Tensor, *more: torch.Tensor) -> None:
        if example.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA input, got one on {example.device}")
        if getattr(model, "training", False):
            raise ValueError("capture the network in eval mode (training draws fresh SEEM points)")
        self.model = model
        self.static_inputs = tuple(x.clone() for x in (example, *more))  # clone keeps the memory format
        self.static_input = self.static_inputs[0]
        side = torch.cuda.Stream(example.device)
        side.wait_stream(torch.cuda.current_stream(example.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_PASSES):
                self._forward()
        torch.cuda.current_stream(example.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_outputs = self._forward()

    def _forward(self) -> Any:
        with torch.no_grad():
            return self.model(*self.static_inputs)

    def __call__(self, images: torch.Tensor, *more: torch.Tensor) -> Any:
        for static, given in zip(self.static_inputs, (images, *more), strict=True):
            if given.shape != static.shape:
                raise ValueError(f"this graph was captured for input {tuple(static.shape)}, "
                                 f"got {tuple(given.shape)}")
            static.copy_(given)
        self.graph.replay()
        return self.static_outputs
