"""Pixel-adaptive convolution guided by frozen semantic features (Semantically-Guided Representation
Learning, Sec. 4.1, Eq. 4-5, after Su et al. 2019).

v'_i = sum_{j in Omega(i)} K(f_i, f_j) W[p_i - p_j] v_j + b with the Gaussian kernel
K(f_i, f_j) = exp(-1/2 (f_i - f_j)^T (sigma^2 I)^-1 (f_i - f_j)) and sigma learnable per layer. It is
written as nine shifted copies of the input, each weighted by its kernel value, followed by one
1x1 convolution with the 3x3 weights laid out as [out, in*9]: the same sum as Eq. 4, built only from
padding, slicing and elementwise operations (exportable to ONNX, no unfold).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KERNEL = 3


class PixelAdaptiveConv(nn.Module):
    """3x3 pixel-adaptive convolution with reflection padding (as the decoder's Conv3x3).

    ``init_sigma`` starts the bandwidth where two unrelated unit-variance guide vectors of D channels
    (squared distance ~ 2D) still get a weight of exp(-1): sigma^2 = D.
    """

    def __init__(self, in_channels: int, out_channels: int, init_sigma: float = 1.0) -> None:
        super().__init__()
        reference = nn.Conv2d(in_channels, out_channels, KERNEL)  # PyTorch's default initialisation
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone())
        self.log_sigma = nn.Parameter(torch.tensor(math.log(init_sigma)))

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def kernel(self, guide: torch.Tensor) -> torch.Tensor:
        """K(f_i, f_j) for the 9 window offsets j: [B, 9, H, W] (offset index = 3 * dy + dx)."""
        h, w = guide.shape[-2:]
        padded = F.pad(guide, (1, 1, 1, 1), mode="reflect")
        inv_two_var = 0.5 * torch.exp(-2.0 * self.log_sigma)
        values = [torch.exp(-inv_two_var * (padded[:, :, dy:dy + h, dx:dx + w] - guide).square().sum(1))
                  for dy in range(KERNEL) for dx in range(KERNEL)]
        return torch.stack(values, 1)

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """x [B,C_in,H,W] (the signal v), guide [B,D,H,W] (the features f) -> [B,C_out,H,W]."""
        if guide.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"guide {tuple(guide.shape)} must match the input's size {tuple(x.shape)}")
        h, w = x.shape[-2:]
        kernel = self.kernel(guide.to(x.dtype))
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        shifted = [padded[:, :, dy:dy + h, dx:dx + w] * kernel[:, 3 * dy + dx:3 * dy + dx + 1]
                   for dy in range(KERNEL) for dx in range(KERNEL)]
        stacked = torch.stack(shifted, 2).flatten(1, 2)        # channel c * 9 + offset
        weight = self.weight.flatten(1)[:, :, None, None]      # [out, in * 9, 1, 1], same order
        return F.conv2d(stacked, weight.to(x.dtype), self.bias.to(x.dtype))


class PacBlock(nn.Module):
    """PixelAdaptiveConv + ELU: the decoder's ConvBlock with the semantic guidance of Eq. 4."""

    def __init__(self, in_channels: int, out_channels: int, init_sigma: float = 1.0) -> None:
        super().__init__()
        self.conv = PixelAdaptiveConv(in_channels, out_channels, init_sigma)
        self.act = nn.ELU(inplace=True)

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x, guide))


class GuideAdapter(nn.Module):
    """Processes one level of frozen semantic features into the guide f: a 3x3 and a 1x1 convolution,
    Group Normalization and ELU (Semantically-Guided Representation Learning, Sec. 4.1)."""

    GROUPS = 4

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv3 = nn.Conv2d(in_channels, channels, 3)
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.norm = nn.GroupNorm(self.GROUPS, channels)
        self.act = nn.ELU(inplace=True)

    def forward(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Guide features at ``size`` (resized bilinearly when the frozen network's level differs)."""
        if tuple(features.shape[-2:]) != tuple(size):
            features = F.interpolate(features, size=size, mode="bilinear", align_corners=False)
        return self.act(self.norm(self.conv1(self.conv3(self.pad(features)))))
