"""Semantic-guided self-attention on fused depth+semantic decoder features.

"Semantic-Guided Representation Enhancement for Self-supervised Monocular Trained Depth Estimation"
(Li et al.), Sec. 4.3, Eq. 7-8.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Flash attention (CUDA and CPU) needs query, key and value of one head size, a multiple of 8 for
# fp16/bf16 on CUDA, with unit stride along it; otherwise PyTorch falls back to kernels that hold the
# L x L map (the CPU one then makes extra passes over it).
HEAD_SIZE_MULTIPLE = 8


def _tokens(features: torch.Tensor, head_size: int) -> torch.Tensor:
    """[B,C,H,W] -> [B,1,L,head_size]: one head, tokens = pixels, channels zero-padded.

    Zero channels change no query-key dot product and give value channels that are cut off again.
    On a channels_last input without padding this is a view.
    """
    tokens = features.flatten(2).transpose(1, 2)
    if tokens.shape[-1] < head_size:
        tokens = F.pad(tokens, (0, head_size - tokens.shape[-1]))
    return tokens.contiguous().unsqueeze(1)


class SelfAttention(nn.Module):
    """Pixel-wise self-attention with a zero-initialised residual weight (Eq. 7-8, DANet-style).

    Applied to aconv4/3/2 (Sec. 4.3). The attention runs through ``scaled_dot_product_attention``:
    its flash kernels (CUDA and CPU) never hold the L x L map (L = H*W).
    :class:`semdepth_ros.model.reference.ReferenceSelfAttention` is the explicit formula it is
    tested against. gamma starts at 0 so the module is the identity until training finds attention
    useful.
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
        # Query/key (C/8 channels) padded to the value's size: the multiply-adds on zeros cost far
        # less than the L x L map that unequal head sizes would force.
        head_size = c + -c % HEAD_SIZE_MULTIPLE
        q, k, v = (_tokens(conv(x), head_size) for conv in (self.query, self.key, self.value))
        # Eq. 7: A = softmax(Q^T K) over the L key positions, with no 1/sqrt(d) scaling (scale=1);
        # Eq. 8: F_out = gamma * (V A^T) + F_A. The fused kernels keep the softmax in float32.
        out = F.scaled_dot_product_attention(q, k, v, scale=1.0)[..., :c]  # [B, 1, L, C]
        out = out.reshape(b, h, w, c).permute(0, 3, 1, 2)
        # gamma in the features' dtype: an fp32 parameter would promote fp16/bf16 features to fp32.
        return self.gamma.to(out.dtype) * out + x
