"""Binary foreground decoder (seed 000 Sec. 4.1, App. A.1 Table 4 "Semantic Decoder")."""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from semdepth_ros.model.layers import (DECODER_CHANNELS, NUM_SCALES, decoder_iconvs, decoder_upconvs,
                                       sigmoid_heads, upsample)


class SemanticFeatures(NamedTuple):
    """Semantic branch outputs: the foreground head and the features the depth branch fuses."""

    probs: dict[int, torch.Tensor]  # scale s -> foreground probability [B, 1, H/2^s, W/2^s]
    upconv: list[torch.Tensor]  # S_upconv_i, i = 0..4, at /2^(i+1): fused into depth level i (aconv_i)


class SemanticDecoder(nn.Module):
    """U-Net decoder with the depth decoder's shape, so its per-level features align with depth levels."""

    def __init__(self, num_ch_enc: Sequence[int], num_ch_dec: Sequence[int] = DECODER_CHANNELS) -> None:
        super().__init__()
        self.num_ch_dec = tuple(num_ch_dec)
        self.upconvs = decoder_upconvs(num_ch_enc, num_ch_dec)
        self.iconvs = decoder_iconvs(num_ch_enc, num_ch_dec)
        self.heads = sigmoid_heads(num_ch_dec)

    def forward(self, features: Sequence[torch.Tensor]) -> SemanticFeatures:
        probs: dict[int, torch.Tensor] = {}
        upconv: list[torch.Tensor] = []  # filled from level 4 down, reversed at the end
        x = features[-1]
        for i in range(4, -1, -1):
            x = self.upconvs[i](x)
            upconv.append(x)
            x = upsample(x)
            if i > 0:
                x = torch.cat([x, features[i - 1]], 1)
            x = self.iconvs[i](x)
            if i < NUM_SCALES:
                probs[i] = torch.sigmoid(self.heads[i](x))
        return SemanticFeatures(probs, upconv[::-1])
