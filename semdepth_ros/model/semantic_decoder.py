"""Binary foreground decoder (Semantic-Guided Representation Enhancement, Sec. 4.1, App. A.1
Table 4 "Semantic Decoder")."""
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

    def up(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """S_upconv_i of the level below's output (econv4 for i = 4)."""
        return self.upconvs[i](x)

    def down(self, i: int, upconv: torch.Tensor, features: Sequence[torch.Tensor]
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Upsample S_upconv_i, join the skip econv_{i-1}, S_iconv_i -> (level output, probability or None)."""
        x = upsample(upconv)
        if i > 0:
            x = torch.cat([x, features[i - 1]], 1)
        x = self.iconvs[i](x)
        return x, (torch.sigmoid(self.heads[i](x)) if i < NUM_SCALES else None)

    def forward(self, features: Sequence[torch.Tensor]) -> SemanticFeatures:
        probs: dict[int, torch.Tensor] = {}
        upconv: list[torch.Tensor] = []  # filled from level 4 down, reversed at the end
        x = features[-1]
        for i in range(4, -1, -1):
            upconv.append(self.up(i, x))
            x, prob = self.down(i, upconv[-1], features)
            if prob is not None:
                probs[i] = prob
        return SemanticFeatures(probs, upconv[::-1])
