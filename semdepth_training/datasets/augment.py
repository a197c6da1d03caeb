"""Colour jitter in plain torch (no torchvision on these machines), torchvision ColorJitter semantics,
batched: every image of a batch gets its own parameters, on any device.

Parameters are drawn once per sample (in the dataset, from (seed, epoch, index)) and applied to every
frame of it: the photometric loss compares frames, so they must be jittered identically (Monodepth2
does the same). They travel with the sample as a float64 vector (:func:`jitter_vector`) and are
applied where the batch is, usually on the GPU after upload (:func:`jitter_batch`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

BRIGHTNESS = 0.2
CONTRAST = 0.2
SATURATION = 0.2
HUE = 0.1

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)
# jitter_vector layout: brightness, contrast, saturation, hue factors, then the 4 op indices in order.
_IDENTITY = (1.0, 1.0, 1.0, 0.0)
_HUE_OP = 3
JITTER_SIZE = 8


@dataclass(frozen=True)
class JitterParams:
    """Factors as in torchvision: 1 (0 for hue) means unchanged; ``order`` permutes the 4 ops
    (0 brightness, 1 contrast, 2 saturation, 3 hue)."""

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


def upload(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on ``device`` without making the host wait for the GPU: copies from pageable
    memory may wait for the queued work, so small tensors made on the host go through pinned memory."""
    if device.type == "cuda" and tensor.device.type == "cpu" and not tensor.is_pinned():
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def jitter_vector(params: JitterParams | None) -> torch.Tensor:
    """The float64 [JITTER_SIZE] form a sample carries (None: no jitter, the identity)."""
    if params is None:
        return torch.tensor([*_IDENTITY, 0, 1, 2, 3], dtype=torch.float64)
    return torch.tensor([params.brightness, params.contrast, params.saturation, params.hue, *params.order],
                        dtype=torch.float64)


def apply_jitter(image: torch.Tensor, params: JitterParams) -> torch.Tensor:
    """Jitter one RGB image [3,H,W] in [0, 1]; the result stays in [0, 1]."""
    return jitter_batch(image.unsqueeze(0), jitter_vector(params).unsqueeze(0)).squeeze(0)


def jitter_batch(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Jitter images [B,3,H,W] in [0, 1], image b with ``params[b]`` (rows of :func:`jitter_vector`).

    ``params`` is read on the host (it is small and arrives on the CPU with the batch), so which
    images take which op at each of the 4 steps is decided without a device synchronisation. At each
    step the three blends (brightness, contrast, saturation: ``f * x + (1 - f) * other``, ``other``
    = 0, the grey mean, the grey image) run as one blend with per-image factors, images at another op
    taking the factor 1 (exactly the identity); the hue shift runs on the images whose op it is.
    """
    params = params.detach().to("cpu", torch.float64)
    factors, order = params[:, :4], params[:, 4:].long()
    changes = factors != torch.tensor(_IDENTITY, dtype=torch.float64)
    if not bool(changes.any()):
        return images
    for step in range(4):
        ops = order[:, step]
        blend = torch.where(ops < _HUE_OP, factors.gather(1, ops.clamp(max=2).unsqueeze(1)).squeeze(1), 1.0)
        if bool((blend != 1.0).any()):
            images = _blend(images, blend, ops)
        hue_rows = torch.nonzero((ops == _HUE_OP) & changes[:, _HUE_OP]).flatten()
        if len(hue_rows):
            rows = upload(hue_rows, images.device)
            shifted = _shift_hue(images.index_select(0, rows), factors[hue_rows, _HUE_OP])
            images = images.index_copy(0, rows, shifted)
    return images


def _blend(images: torch.Tensor, factor: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """``f * x + (1 - f) * other`` clamped to [0, 1], per image; (1 - f) is formed in float64 before
    the cast, as a Python scalar factor would be."""
    device = images.device

    def column(values: torch.Tensor) -> torch.Tensor:
        return upload(values.to(torch.float32).view(-1, 1, 1, 1), device)

    other = torch.zeros((), device=device)  # brightness blends with black
    if bool((ops == 1).any() | (ops == 2).any()):
        gray = _grayscale(images)
        use_gray = upload((ops == 2).view(-1, 1, 1, 1), device)
        use_mean = upload((ops == 1).view(-1, 1, 1, 1), device)
        other = torch.where(use_gray, gray, torch.where(use_mean, gray.mean((1, 2, 3), keepdim=True), 0.0))
    return (column(factor) * images + column(1.0 - factor) * other).clamp(0.0, 1.0)


def _grayscale(image: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] -> [..., 1, H, W] (ITU-R 601 luma, as torchvision)."""
    r, g, b = image.unbind(-3)
    w = _GRAY_WEIGHTS
    return (w[0] * r + w[1] * g + w[2] * b).unsqueeze(-3)


def _shift_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of images [n,3,H,W] by ``shift`` [n] (float64, in turns)."""
    h, s, v = rgb_to_hsv(images).unbind(-3)
    turns = upload(shift.to(torch.float32).view(-1, 1, 1), images.device)
    return hsv_to_rgb(torch.stack([(h + turns) % 1.0, s, v], -3))


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] RGB in [0, 1] -> HSV, all channels in [0, 1]."""
    r, g, b = image.unbind(-3)
    maxc, _ = image.max(-3)
    minc, _ = image.min(-3)
    delta = maxc - minc
    chroma = delta > 0
    safe_delta = torch.where(chroma, delta, torch.ones_like(delta))
    sat = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)),
                      torch.zeros_like(maxc))
    rc, gc, bc = (maxc - r) / safe_delta, (maxc - g) / safe_delta, (maxc - b) / safe_delta
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(chroma, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    return torch.stack([hue, sat, maxc], -3)


def hsv_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = image.unbind(-3)
    sector = torch.floor(h * 6.0)
    f = h * 6.0 - sector
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    sector = sector.long() % 6
    # Rows: the (r, g, b) source for each of the six hue sectors.
    choices = torch.stack([torch.stack(c) for c in ((v, t, p), (q, v, p), (p, v, t),
                                                    (p, q, v), (t, p, v), (v, p, q))])
    rgb = choices.gather(0, sector.expand(1, 3, *sector.shape)).squeeze(0)  # [3, ..., H, W]
    return rgb.movedim(0, -3)
