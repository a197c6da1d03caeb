"""Decoder building blocks shared by the depth and semantic decoders (Semantic-Guided Representation Enhancement,
App. A.1 Table 4)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Decoder channels per level i = 0..4 (Table 4: X_upconv0 16 ... X_upconv4 256).
DECODER_CHANNELS = (16, 32, 64, 128, 256)
NUM_SCALES = 4  # sigmoid heads at levels 0..3 (resolution /1 ... /8)


def scaled_channels(channels: Sequence[int], width: float) -> tuple[int, ...]:
    """Channel counts times the width multiplier, at least 8 each (ModelConfig.width)."""
    return tuple(max(8, int(round(c * width))) for c in channels)


class Conv3x3(nn.Module):
    """3x3 convolution with reflection padding (no zero border that the depth head would learn as an edge)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class ConvBlock(nn.Module):
    """Conv3x3 + ELU: every decoder layer in Table 4 whose activation is ELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = Conv3x3(in_channels, out_channels)
        self.act = nn.ELU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


def upsample(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour x2 upsampling (the arrow in Table 4's input column)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def decoder_upconvs(num_ch_enc: Sequence[int], num_ch_dec: Sequence[int] = DECODER_CHANNELS) -> nn.ModuleList:
    """X_upconv_i, i = 0..4: from the level below (econv4 for i = 4) to num_ch_dec[i], before upsampling."""
    in_channels = [*num_ch_dec[1:], num_ch_enc[-1]]
    return nn.ModuleList(ConvBlock(cin, cout) for cin, cout in zip(in_channels, num_ch_dec))


def decoder_iconvs(num_ch_enc: Sequence[int], num_ch_dec: Sequence[int] = DECODER_CHANNELS) -> nn.ModuleList:
    """X_iconv_i, i = 0..4: upsampled level-i features + skip econv_{i-1} (level 0 has no skip)."""
    skips = [0, *num_ch_enc[:4]]
    return nn.ModuleList(ConvBlock(cout + skip, cout) for cout, skip in zip(num_ch_dec, skips))


def sigmoid_heads(num_ch_dec: Sequence[int] = DECODER_CHANNELS) -> nn.ModuleList:
    """X_disp_s, s = 0..3: one-channel 3x3 heads; the caller applies the sigmoid."""
    return nn.ModuleList(Conv3x3(num_ch_dec[s], 1) for s in range(NUM_SCALES))
