"""Colour jitter in plain torch (no torchvision on these machines), torchvision ColorJitter semantics.

Parameters are drawn once per sample and applied to every frame and scale of it: the photometric
loss compares frames, so they must be jittered identically (Monodepth2 does the same).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

BRIGHTNESS = 0.2
CONTRAST = 0.2
SATURATION = 0.2
HUE = 0.1

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class JitterParams:
    """Factors as in torchvision: 1 (0 for hue) means unchanged; ``order`` permutes the 4 ops."""

    brightness: float
    contrast: float
    saturation: float
    hue: float
    order: tuple[int, ...]


def sample_jitter(generator: torch.Generator) -> JitterParams:
    """Draw factors uniformly in [1 - x, 1 + x] (hue in [-HUE, HUE]) and a random op order."""

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=generator).item()

    order = tuple(torch.randperm(4, generator=generator).tolist())
    return JitterParams(brightness=uniform(1 - BRIGHTNESS, 1 + BRIGHTNESS),
                        contrast=uniform(1 - CONTRAST, 1 + CONTRAST),
                        saturation=uniform(1 - SATURATION, 1 + SATURATION),
                        hue=uniform(-HUE, HUE), order=order)


def apply_jitter(image: torch.Tensor, params: JitterParams) -> torch.Tensor:
    """Jitter one RGB image [3,H,W] in [0, 1]; the result stays in [0, 1]."""
    ops = (lambda x: _blend(x, torch.zeros_like(x), params.brightness),
           lambda x: _blend(x, _grayscale(x).mean(), params.contrast),
           lambda x: _blend(x, _grayscale(x), params.saturation),
           lambda x: _shift_hue(x, params.hue))
    for i in params.order:
        image = ops[i](image)
    return image


def _blend(image: torch.Tensor, other: torch.Tensor, factor: float) -> torch.Tensor:
    return (factor * image + (1.0 - factor) * other).clamp(0.0, 1.0)


def _grayscale(image: torch.Tensor) -> torch.Tensor:
    r, g, b = image.unbind(0)
    w = _GRAY_WEIGHTS
    return (w[0] * r + w[1] * g + w[2] * b).unsqueeze(0)


def _shift_hue(image: torch.Tensor, shift: float) -> torch.Tensor:
    h, s, v = rgb_to_hsv(image).unbind(0)
    return hsv_to_rgb(torch.stack([(h + shift) % 1.0, s, v]))


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    """[3,H,W] RGB in [0, 1] -> HSV, all channels in [0, 1]."""
    r, g, b = image.unbind(0)
    maxc, _ = image.max(0)
    minc, _ = image.min(0)
    delta = maxc - minc
    chroma = delta > 0
    safe_delta = torch.where(chroma, delta, torch.ones_like(delta))
    sat = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)),
                      torch.zeros_like(maxc))
    rc, gc, bc = (maxc - r) / safe_delta, (maxc - g) / safe_delta, (maxc - b) / safe_delta
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(chroma, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    return torch.stack([hue, sat, maxc])


def hsv_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = image.unbind(0)
    sector = torch.floor(h * 6.0)
    f = h * 6.0 - sector
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    sector = sector.long() % 6
    # Rows: the (r, g, b) source for each of the six hue sectors.
    choices = torch.stack([torch.stack(c) for c in ((v, t, p), (q, v, p), (p, v, t),
                                                    (p, q, v), (t, p, v), (v, p, q))])
    return choices.gather(0, sector.expand(1, 3, *sector.shape)).squeeze(0)
