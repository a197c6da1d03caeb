"""Semantic-guided self-attention on fused depth+semantic decoder features (seed 000 Sec. 4.3)."""
from __future__ import annotations

import torch
from torch import nn


class SelfAttention(nn.Module):
    """Pixel-wise self-attention with a zero-initialised residual weight (Eq. 7-8, DANet-style).

    Applied to aconv4/3/2 (Sec. 4.3): those levels are small enough for an L x L attention map.
    gamma starts at 0 so the module is the identity until training finds attention useful.
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        inner = max(channels // reduction, 1)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2)  # [B, C/8, L], L = H*W
        k = self.key(x).flatten(2)
        v = self.value(x).flatten(2)  # [B, C, L]
        # Eq. 7: A = softmax(Q^T K) over the L key positions; float32 softmax keeps fp16 inference finite.
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1, dtype=torch.float32).to(v.dtype)
        # Eq. 8: F_out = gamma * (V A^T) + F_A (each output pixel is an attention-weighted sum of values).
        out = torch.bmm(v, attn.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * out + x
