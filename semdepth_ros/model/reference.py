"""The slow reference path the fast network is tested and benchmarked against.

The network's attention runs through ``scaled_dot_product_attention`` and its SEEM has no host
synchronisation; this module keeps the first, explicit implementations of both: the attention map
built as a full L x L matrix, and SEEM with a Sobel convolution kernel, small constant tensors
created on every call, point sampling on a grid in the features' dtype and the substitution as a
select over the whole map. :func:`reference_network` gives a copy of a network that
runs them, so tests compare outputs and ``scripts/bench_network.py`` measures the speed-up against
it in one run. Nothing on the inference path imports this module.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from semdepth_ros.model.attention import SelfAttention
from semdepth_ros.model.seem import SEEM, SamplingNoise
from semdepth_ros.model.semdepth_net import SemDepthNet


class ReferenceSelfAttention(SelfAttention):
    """Eq. 7-8 of "Semantic-Guided Representation Enhancement for Self-supervised Monocular Trained
    Depth Estimation", Sec. 4.3, written out: A = softmax(Q^T K) (no 1/sqrt(d) scaling, softmax
    over the key positions, in float32), F_out = gamma * (V A^T) + F_A."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2)  # [B, C/8, L], L = H*W
        k = self.key(x).flatten(2)
        v = self.value(x).flatten(2)  # [B, C, L]
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1, dtype=torch.float32).to(v.dtype)
        out = torch.bmm(v, attn.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * out + x


def reference_sobel_magnitude(mask: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """|Sobel(mask)| [B,1,H,W] as a 3x3 convolution with replicate padding."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=mask.device)
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1)  # [2, 1, 3, 3]: d/dx and d/dy
    grad = F.conv2d(F.pad(mask.float(), (1, 1, 1, 1), mode="replicate"), kernel)
    energy = grad.square().sum(1, keepdim=True)
    return energy if squared else energy.sqrt()


def reference_sample_edge_points(mask: torch.Tensor, noise: SamplingNoise) -> torch.Tensor:
    """Points [B,N,2] (x, y): S_E (top mu*N Sobel responses, exact int64 keys), S_D, S_R (Sec. 4.2)."""
    b, _, h, w = mask.shape
    h, w = int(h), int(w)
    n_edge = noise.offsets.shape[1]
    response = reference_sobel_magnitude(mask, squared=True).flatten(1).round().long()
    flat = (response * (h * w) + noise.tie_rank).topk(n_edge, dim=1).indices
    edge = torch.stack([flat % w, flat // w], dim=-1)
    limit = torch.tensor([w - 1, h - 1], device=mask.device)
    disturbed = torch.minimum((edge + noise.offsets).clamp(min=0), limit)
    return torch.cat([edge, disturbed, noise.random_xy.expand(b, -1, -1)], dim=1)


def reference_point_features(features: Sequence[torch.Tensor], points: torch.Tensor,
                             height: int, width: int) -> torch.Tensor:
    """Bilinear features [B, sum C, N] at full-resolution pixel centres, grid in the features' dtype."""
    xy = (points.float() + 0.5) / torch.tensor([width, height], device=points.device) * 2 - 1
    grid = xy.to(features[0].dtype).unsqueeze(1)  # [B, 1, N, 2]
    return torch.cat([F.grid_sample(f, grid, mode="bilinear", padding_mode="border", align_corners=False)
                      .squeeze(2) for f in features], dim=1)


def reference_substitute_points(feature_map: torch.Tensor, points: torch.Tensor,
                                values: torch.Tensor) -> torch.Tensor:
    """feature_map [B,C,H,W] with the mean of values [B,C,N] at each sampled pixel: full-size sums and
    counts, then a select over the whole map."""
    b, c, h, w = feature_map.shape
    flat = feature_map.flatten(2)
    index = (points[..., 1] * w + points[..., 0]).unsqueeze(1)
    sums = torch.zeros_like(flat).scatter_add(2, index.expand(b, c, -1), values.to(flat.dtype))
    counts = torch.zeros_like(flat[:, :1]).scatter_add(2, index, torch.ones_like(values[:, :1], dtype=flat.dtype))
    out = torch.where(counts > 0, sums / counts.clamp(min=1), flat)
    return out.view(b, c, h, w)


class ReferenceSEEM(SEEM):
    """SEEM with the reference point sampling and point features; same weights and random draws."""

    def forward(self, depth_features: torch.Tensor, fg_prob: torch.Tensor,
                enc_features: Sequence[torch.Tensor], dec_features: Sequence[torch.Tensor],
                sem_features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = int(depth_features.shape[2]), int(depth_features.shape[3])
        mask = (fg_prob.detach() > 0.5).float()
        points = reference_sample_edge_points(mask, self.sampling_noise(mask, self.num_points(h, w)))
        merged = torch.cat([self.enc_conv(reference_point_features(enc_features, points, h, w)),
                            self.dec_conv(reference_point_features(dec_features, points, h, w)),
                            self.sem_conv(reference_point_features(sem_features, points, h, w))], dim=1)
        return reference_substitute_points(depth_features, points, self.enhance(merged)), points


_REFERENCE_CLASSES = {SelfAttention: ReferenceSelfAttention, SEEM: ReferenceSEEM}


def reference_network(model: SemDepthNet) -> SemDepthNet:
    """A copy of ``model`` (same weights, same mode) whose attention and SEEM run the reference code."""
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if type(module) in _REFERENCE_CLASSES:
            module.__class__ = _REFERENCE_CLASSES[type(module)]
    return reference
