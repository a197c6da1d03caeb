"""Semantic-guided self-attention on fused depth+semantic decoder features.

"Semantic-Guided Representation Enhancement for Self-supervised Monocular Trained Depth Estimation"
(Li et al.), Sec. 4.3, Eq. 7-8.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The fused CUDA kernels (memory-efficient attention) need head sizes that are multiples of 8 in
# fp16/bf16 and a unit stride along them; otherwise PyTorch falls back to the L x L math kernel.
HEAD_SIZE_MULTIPLE = 8


def _tokens(features: torch.Tensor) -> torch.Tensor:
    """[B,C,H,W] -> [B,1,L,C'] (one head, tokens = pixels), C' = C zero-padded to HEAD_SIZE_MULTIPLE.

    Zero channels change no dot product (query/key) and give output channels that are cut off
    (value). On a channels_last input this is a view.
    """
    tokens = features.flatten(2).transpose(1, 2)
    pad = -tokens.shape[-1] % HEAD_SIZE_MULTIPLE
    if pad:
        tokens = F.pad(tokens, (0, pad))
    return tokens.contiguous().unsqueeze(1)


class SelfAttention(nn.Module):
    """Pixel-wise self-attention with a zero-initialised residual weight (Eq. 7-8, DANet-style).

    Applied to aconv4/3/2 (Sec. 4.3). The attention runs through ``scaled_dot_product_attention``:
    on CUDA the fused kernels never hold the L x L map (L = H*W).
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
        q, k, v = _tokens(self.query(x)), _tokens(self.key(x)), _tokens(self.value(x))
        # Eq. 7: A = softmax(Q^T K) over the L key positions, with no 1/sqrt(d) scaling (scale=1);
        # Eq. 8: F_out = gamma * (V A^T) + F_A. The fused kernels keep the softmax in float32.
        out = F.scaled_dot_product_attention(q, k, v, scale=1.0)[..., :c]  # [B, 1, L, C]
        out = out.reshape(b, h, w, c).permute(0, 3, 1, 2)
        # gamma in the features' dtype: an fp32 parameter would promote fp16/bf16 features to fp32.
        return self.gamma.to(out.dtype) * out + x
