"""Semantic-guided Edge Enhancement Module, SEEM.

"Semantic-Guided Representation Enhancement for Self-supervised Monocular Trained Depth Estimation"
(Li et al.), Sec. 4.2, App. A.1 Table 4, App. A.2. Depth is least reliable on object borders; SEEM
re-estimates the final depth features at points on and around the predicted foreground edges from
encoder, depth and semantic features together.

The forward pass has no host synchronisation and no host-to-device copy (so the network can be
captured in a CUDA graph): point counts are static functions of the input size, the edge points
come from ``topk`` on exact integer keys, and no tensor is built from Python data. The one copy is
the eval-mode draw, made once per input size and device (:meth:`SEEM.sampling_noise`).
:mod:`semdepth_ros.model.reference` keeps the first implementation it is tested against.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

POINT_EDGE, POINT_DISTURBED, POINT_RANDOM = 0, 1, 2  # the labels of point_kinds
MIN_POINTS = 64  # floor of the image-size-scaled N, so small inputs still get edge points
EVAL_SEED = 0  # random points in eval mode come from this seed: inference is deterministic


def sobel_magnitude(mask: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """Edge response |Sobel(mask)| [B,1,H,W] (Sec. 4.2); replicate padding: the image border is no edge.

    ``squared`` skips the square root: on a binary mask it is an exact integer, so the ranking of
    edge points is the same in every runtime (PyTorch, ONNX Runtime). The separable form (a central
    difference along one axis, [1, 2, 1] smoothing along the other) uses slices only: float32
    arithmetic on small integers whatever autocast is active, and no kernel tensor to create.
    """
    padded = F.pad(mask.float(), (1, 1, 1, 1), mode="replicate")  # [B,1,H+2,W+2]
    diff_x = padded[..., :, 2:] - padded[..., :, :-2]  # [B,1,H+2,W]
    diff_y = padded[..., 2:, :] - padded[..., :-2, :]  # [B,1,H,W+2]
    grad_x = diff_x[..., :-2, :] + 2 * diff_x[..., 1:-1, :] + diff_x[..., 2:, :]
    grad_y = diff_y[..., :, :-2] + 2 * diff_y[..., :, 1:-1] + diff_y[..., :, 2:]
    energy = grad_x.square() + grad_y.square()
    return energy if squared else energy.sqrt()


@dataclasses.dataclass
class SamplingNoise:
    """The random draws of one sampling: tie-break ranks [B,H*W] (a permutation of the pixels),
    S_D offsets [B,mu*N,2], S_R points [B,n,2]; B may be 1 for a draw shared by a whole batch."""

    tie_rank: torch.Tensor
    offsets: torch.Tensor
    random_xy: torch.Tensor


def draw_sampling_noise(batch: int, height: int, width: int, n_points: int, edge_ratio: float,
                        disturb: int, generator: torch.Generator | None = None,
                        device: torch.device | str = "cpu") -> SamplingNoise:
    """Draw everything random that :func:`sample_edge_points` needs, checking the counts."""
    n_edge = round(edge_ratio * n_points)
    n_random = n_points - 2 * n_edge
    if n_random < 0:
        raise ValueError(f"edge_ratio {edge_ratio} leaves no room: 2*mu*N must be <= N")
    if n_edge > height * width:
        raise ValueError(f"{n_edge} edge points requested from a {height}x{width} mask")
    tie = torch.rand((batch, height * width), generator=generator, device=device).argsort(dim=1)
    offsets = torch.randint(-disturb, disturb + 1, (batch, n_edge, 2), generator=generator, device=device)
    rand_x = torch.randint(0, width, (batch, n_random), generator=generator, device=device)
    rand_y = torch.randint(0, height, (batch, n_random), generator=generator, device=device)
    return SamplingNoise(tie, offsets, torch.stack([rand_x, rand_y], dim=-1))


def sample_edge_points(mask: torch.Tensor, noise: SamplingNoise) -> torch.Tensor:
    """Sample S = S_E u S_D u S_R (Sec. 4.2 Eq. 4) on a binary mask [B,1,H,W].

    Returns points [B,N,2] long (x, y): the first mu*N are S_E, the next mu*N S_D (S_D[j] is S_E[j]
    moved), the rest S_R (:func:`point_kinds` labels them). When the mask has fewer than mu*N edge
    pixels the remaining "edge" points fall on random non-edge pixels (ties are broken at random),
    so they degrade to extra random points. ``noise`` holds the random parts
    (:func:`draw_sampling_noise`; eval mode uses a fixed draw, which also makes the module traceable
    for ONNX); its batch is B or 1 (one draw shared by every image).
    """
    b, _, h, w = mask.shape
    h, w = int(h), int(w)
    n_edge = noise.offsets.shape[1]
    # S_E: the mu*N pixels with the largest Sobel response of the binary mask (Sec. 4.2). Ranking on
    # exact int64 keys (integer response, then a random permutation) has no ties, so every runtime
    # picks the same points and equal responses are chosen at random.
    response = sobel_magnitude(mask, squared=True).flatten(1).round().long()
    flat = (response * (h * w) + noise.tie_rank).topk(n_edge, dim=1).indices
    edge_x, edge_y = flat % w, flat // w
    edge = torch.stack([edge_x, edge_y], dim=-1)
    # S_D: S_E moved by uniform integer offsets in [-c, c] (Sec. 4.2, c = 3 from App. A.2 Table 5),
    # clamped into the image per axis (bounds from the shape, so nothing is copied to the device).
    offsets = noise.offsets.expand(b, -1, -1)
    disturbed = torch.stack([(edge_x + offsets[..., 0]).clamp(0, w - 1),
                             (edge_y + offsets[..., 1]).clamp(0, h - 1)], dim=-1)
    # S_R: (1 - 2 mu) N points uniform over the image (Sec. 4.2).
    return torch.cat([edge, disturbed, noise.random_xy.expand(b, -1, -1)], dim=1)


def point_kinds(noise: SamplingNoise) -> torch.Tensor:
    """The kind [N] of each point :func:`sample_edge_points` returns for ``noise``: POINT_EDGE,
    POINT_DISTURBED or POINT_RANDOM."""
    n_edge, n_random, device = noise.offsets.shape[1], noise.random_xy.shape[1], noise.offsets.device
    return torch.cat([torch.full((n_edge,), POINT_EDGE, device=device),
                      torch.full((n_edge,), POINT_DISTURBED, device=device),
                      torch.full((n_random,), POINT_RANDOM, device=device)])


def point_grid(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """grid_sample coordinates [B,1,N,2] (float32, align_corners=False) of full-resolution pixel
    centres (x, y) in an image of height x width; valid for feature maps of any size."""
    xy = points.float() + 0.5
    return torch.stack([xy[..., 0] / width, xy[..., 1] / height], dim=-1).mul(2).sub(1).unsqueeze(1)


def sample_point_features(features: Sequence[torch.Tensor], grid: torch.Tensor) -> torch.Tensor:
    """Bilinear features [B, sum C, N] at the :func:`point_grid` points, from maps of any size (Eq. 5).

    Sampled in float32 and returned in the features' dtype: an fp16/bf16 grid would misplace the
    points by up to ~0.2 / ~1.3 pixels of a 640-wide image. The maps are read as contiguous NCHW
    (the CPU kernel is ~10x slower on channels_last; on CUDA the conversion is one small copy).
    """
    sampled = [F.grid_sample(f.to(torch.float32, memory_format=torch.contiguous_format), grid,
                             mode="bilinear", padding_mode="border", align_corners=False).squeeze(2)
               for f in features]
    return torch.cat(sampled, dim=1).to(features[0].dtype)


def substitute_points(feature_map: torch.Tensor, points: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Copy of feature_map [B,C,H,W] with values [B,C,N] written at points (x, y); others unchanged.

    A pixel sampled several times (a disturbed point landing on an edge point) gets the mean of its
    values, which does not depend on the write order, unlike a plain scatter: the sampled pixels
    are zeroed, then each value divided by its pixel's count is added (the order of those additions
    on CUDA can still move a pixel hit three or more times by a rounding step). Two passes over the
    map, and the gradient of each value is that of a mean.
    """
    b, c, h, w = feature_map.shape
    flat = feature_map.flatten(2)
    index = (points[..., 1] * w + points[..., 0]).unsqueeze(1)  # [B,1,N]
    values = values.to(flat.dtype)
    counts = torch.zeros_like(flat[:, :1]).scatter_add_(2, index, torch.ones_like(values[:, :1]))
    index = index.expand(b, c, -1)
    out = flat.scatter(2, index, 0.0).scatter_add_(2, index, values / counts.gather(2, index[:, :1]))
    return out.view(b, c, h, w)


class SEEM(nn.Module):
    """Point sampling, point feature enhancement (PFE) and substitution into the final depth features.

    Table 4: enc_conv (econv1, econv0 -> 128), dec_conv (aconv2, aconv1, aconv0 -> 112) and sem_conv
    (S_upconv2, 1, 0 -> 112) are 1x1 convolutions; they are applied to the sampled point features,
    which equals convolving the maps first (1x1 conv and bilinear sampling are both linear) at a
    fraction of the cost. conv1d_1..4: 352 -> 256 -> 256 -> 256 (ReLU) -> out_channels.
    """

    def __init__(self, enc_channels: Sequence[int], dec_channels: Sequence[int],
                 sem_channels: Sequence[int], out_channels: int, n_points: int = 3000,
                 edge_ratio: float = 0.4, disturb: int = 3, reference_pixels: int = 192 * 640) -> None:
        super().__init__()
        self.n_points = n_points
        self.edge_ratio = edge_ratio
        self.disturb = disturb
        self.reference_pixels = reference_pixels
        self._eval_noise: dict[tuple, SamplingNoise] = {}
        self.enc_conv = nn.Conv1d(sum(enc_channels), 128, 1)
        self.dec_conv = nn.Conv1d(sum(dec_channels), 112, 1)
        self.sem_conv = nn.Conv1d(sum(sem_channels), 112, 1)
        # f_theta of Eq. 6: 1-D convolutions with kernel size 1, i.e. a per-point MLP.
        self.enhance = nn.Sequential(
            nn.Conv1d(128 + 112 + 112, 256, 1), nn.ReLU(inplace=True),
            nn.Conv1d(256, 256, 1), nn.ReLU(inplace=True),
            nn.Conv1d(256, 256, 1), nn.ReLU(inplace=True),
            nn.Conv1d(256, out_channels, 1))

    def num_points(self, height: int, width: int) -> int:
        """N for this image size: App. A.2's N is for KITTI 192x640, so keep the point density."""
        return max(MIN_POINTS, round(self.n_points * height * width / self.reference_pixels))

    def forward(self, depth_features: torch.Tensor, fg_prob: torch.Tensor,
                enc_features: Sequence[torch.Tensor], dec_features: Sequence[torch.Tensor],
                sem_features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Enhance depth_features [B,C,H,W] (upsampled aconv0) at points on the fg edges.

        fg_prob is the full-resolution foreground probability; its edges only choose where to look,
        so it is detached. Returns the substituted map and the points [B,N,2] (x, y).
        """
        h, w = int(depth_features.shape[2]), int(depth_features.shape[3])
        mask = (fg_prob.detach() > 0.5).float()
        points = sample_edge_points(mask, self.sampling_noise(mask, self.num_points(h, w)))
        grid = point_grid(points, h, w)
        # Eq. 5: F'_j = F_j(S) for j in {E, D, S}; Eq. 6: F'_out = f_theta(F'_E, F'_D, F'_S).
        merged = torch.cat([self.enc_conv(sample_point_features(enc_features, grid)),
                            self.dec_conv(sample_point_features(dec_features, grid)),
                            self.sem_conv(sample_point_features(sem_features, grid))], dim=1)
        return substitute_points(depth_features, points, self.enhance(merged)), points

    def sampling_noise(self, mask: torch.Tensor, n_points: int) -> SamplingNoise:
        """Training: a fresh draw on the mask's device. Eval: one fixed draw (seed EVAL_SEED) shared
        by every image, so a frame's output does not depend on its batch, and the draw is a constant
        when traced.

        The eval draw is made on the host and copied to the device once per input size and device
        (the only host-to-device copy): run one forward pass before capturing a CUDA graph.
        """
        b, h, w = int(mask.shape[0]), int(mask.shape[2]), int(mask.shape[3])
        if self.training:
            return draw_sampling_noise(b, h, w, n_points, self.edge_ratio, self.disturb, device=mask.device)
        key = (h, w, n_points, str(mask.device))
        if key not in self._eval_noise:
            self._eval_noise[key] = self._fixed_noise(h, w, n_points, mask.device)
        return self._eval_noise[key]

    def _fixed_noise(self, h: int, w: int, n_points: int, device: torch.device) -> SamplingNoise:
        """The eval-mode draw, from NumPy so that an ONNX trace sees constants, not a generator."""
        n_edge = round(self.edge_ratio * n_points)
        n_random = n_points - 2 * n_edge
        if n_random < 0 or n_edge > h * w:
            raise ValueError(f"cannot sample {n_points} points (mu={self.edge_ratio}) on {h}x{w}")
        rng = np.random.default_rng(EVAL_SEED)
        tie = rng.permutation(h * w)[None]
        offsets = rng.integers(-self.disturb, self.disturb + 1, (1, n_edge, 2))
        random_xy = np.stack([rng.integers(0, w, (1, n_random)), rng.integers(0, h, (1, n_random))], -1)
        return SamplingNoise(*(torch.from_numpy(a).to(device) for a in (tie, offsets, random_xy)))
