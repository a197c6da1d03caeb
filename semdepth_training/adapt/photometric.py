"""How well a depth network explains held-back frames of a recording, without any ground truth.

The error is the self-supervised objective's own photometric term (Semantic-Guided Representation
Enhancement, Eq. 2: 0.85 SSIM + 0.15 L1, per-pixel minimum over the previous and next frame) of the
target rebuilt from its neighbours with the network's depth. The motion between the frames must come
from somewhere that does not favour one network over another:

- ``best motion``: per frame pair, the rigid motion that minimises the error for this depth, found by
  gradient descent from the odometry's motion (or from rest), coarse to fine. Scale-free: a global
  depth scale is absorbed by the translation, so it measures the shape of the depth only;
- ``odometry``: the recording's own motion in metres with the depth in metres (the checkpoint's
  scale factor applied), so a wrong metric scale shows as a larger error.

A pose network is not used: one trained alongside the adapted depth net would flatter it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

from semdepth_ros.geometry import disp_to_depth, pose_vec_to_matrix
from semdepth_ros.model import SemDepthNet
from semdepth_training.datasets.base import SampleDataset
from semdepth_training.datasets.batch import expand_batch
from semdepth_training.losses import photometric_error
from semdepth_training.warping import warp_image

# Coarse-to-fine schedule of the motion fit: (scale, Adam steps).
FIT_SCHEDULE = ((2, 40), (1, 30), (0, 20))
FIT_LR_TRANSLATION = 0.002   # in units of the target's median depth
FIT_LR_ROTATION = 0.0005     # radians


@dataclasses.dataclass
class HeldBackErrors:
    """Per-frame photometric errors of one network on the chosen held-back targets."""

    best_motion: np.ndarray              # [N]
    odometry: np.ndarray | None          # [N] or None without odometry
    depth: np.ndarray                    # [N, H, W] network depth times the scale factor
    error_maps: np.ndarray               # [N, H, W] per-pixel best-motion error

    def summary(self) -> dict[str, Any]:
        return {"best_motion": float(np.mean(self.best_motion)),
                "odometry": None if self.odometry is None else float(np.mean(self.odometry)),
                "frames": int(len(self.best_motion))}


def evenly_spaced(count: int, limit: int) -> list[int]:
    """Up to ``limit`` indices spread over range(count), first and last included."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, limit)})


def stack_samples(dataset: SampleDataset, indices: list[int], device: torch.device) -> dict[Any, torch.Tensor]:
    """The samples ``indices`` of ``dataset`` as one expanded batch (the sample dict) on ``device``."""
    return expand_batch(default_collate([dataset[i] for i in indices]), device)


@torch.no_grad()
def network_depth(model: SemDepthNet, images: torch.Tensor, min_depth: float, max_depth: float) -> torch.Tensor:
    """Depth [B,1,H,W] in network units (the checkpoint's scale factor not applied)."""
    model.eval()
    return disp_to_depth(model(images)[("disp", 0)], min_depth, max_depth)[1]


def _down(t: torch.Tensor, scale: int) -> torch.Tensor:
    return t if scale == 0 else F.avg_pool2d(t, 2 ** scale)


def fit_motion(inputs: dict[Any, torch.Tensor], depth: torch.Tensor, source: int, initial: torch.Tensor | None,
               schedule: tuple[tuple[int, int], ...] = FIT_SCHEDULE) -> tuple[torch.Tensor, torch.Tensor]:
    """The rigid motion (target -> source, 4x4 [B,4,4] in the depth's units) that rebuilds the target
    best from frame ``source`` with ``depth``, and the per-pixel photometric error [B,1,H,W] at it.

    ``initial``: the starting motion (4x4, depth units), or None for rest. Depth is normalised by each
    image's median so one step size suits every scene; ``schedule`` is (scale, Adam steps) coarse to fine."""
    median = depth.flatten(1).median(dim=1).values.clamp(min=1e-6).view(-1, 1, 1, 1)
    unit_depth = depth / median
    batch = depth.shape[0]
    generator = torch.Generator().manual_seed(0)
    # Not exactly zero: Rodrigues' formula has no gradient at a zero rotation vector.
    axisangle = (torch.randn(batch, 1, 3, generator=generator) * 1e-4).to(depth.device).requires_grad_()
    start = (torch.zeros(batch, 1, 3, device=depth.device) if initial is None
             else initial[:, :3, 3].reshape(batch, 1, 3) / median.view(-1, 1, 1))
    translation = start.clone().requires_grad_()
    optimiser = torch.optim.Adam([{"params": [translation], "lr": FIT_LR_TRANSLATION},
                                  {"params": [axisangle], "lr": FIT_LR_ROTATION}])
    for scale, steps in schedule:
        target = inputs[("color", 0, scale)]
        image = inputs[("color", source, scale)]
        k, inv_k = inputs[("K", scale)], inputs[("inv_K", scale)]
        scaled_depth = _down(unit_depth, scale)
        for _ in range(steps):
            with torch.enable_grad():
                t = pose_vec_to_matrix(axisangle, translation)
                loss = photometric_error(warp_image(image, scaled_depth, k, inv_k, t), target).mean()
                optimiser.zero_grad()
                loss.backward()
            optimiser.step()
    with torch.no_grad():
        t = pose_vec_to_matrix(axisangle, translation)
        error = photometric_error(warp_image(inputs[("color", source, 0)], unit_depth, inputs[("K", 0)],
                                             inputs[("inv_K", 0)], t), inputs[("color", 0, 0)])
        t[:, :3, 3] *= median.view(-1, 1)
        return error, t


def held_back_errors(model: SemDepthNet, scale_factor: float, min_depth: float, max_depth: float,
                     dataset: SampleDataset, indices: list[int], device: torch.device = torch.device("cpu"),
                     motion_units: float | None = None, batch_size: int = 8) -> HeldBackErrors:
    """Errors of ``model`` (on ``device``) on ``dataset`` targets ``indices`` (see the module
    docstring). ``dataset`` must not augment; with poses in its samples the odometry error is computed
    too (depth times ``scale_factor``, the checkpoint's claim). ``motion_units`` (metres per network
    unit, measured, e.g. by the odometry scale search) turns the odometry into the starting motion of
    the best-motion fit; None starts it from rest."""
    best, odometry, depths, maps = [], [], [], []
    sources = [f for f in dataset.frame_ids if f != 0]
    for start in range(0, len(indices), batch_size):
        inputs = stack_samples(dataset, indices[start:start + batch_size], device)
        depth = network_depth(model, inputs[("color", 0, 0)], min_depth, max_depth)
        has_poses = bool(inputs["pose_valid"].all())
        initial = {f: None for f in sources}
        if has_poses and motion_units is not None:
            for f in sources:
                initial[f] = inputs[("T", f)].clone()
                initial[f][:, :3, 3] /= motion_units  # metres -> the network's depth units
        errors = torch.cat([fit_motion(inputs, depth, f, initial[f])[0] for f in sources], 1).min(1)[0]
        best.append(errors.flatten(1).mean(1).cpu())
        maps.append(errors.cpu())
        if has_poses:
            metric = depth * scale_factor
            with torch.no_grad():
                warped = [photometric_error(warp_image(inputs[("color", f, 0)], metric, inputs[("K", 0)],
                                                       inputs[("inv_K", 0)], inputs[("T", f)]), inputs[("color", 0, 0)])
                          for f in sources]
            odometry.append(torch.cat(warped, 1).min(1)[0].flatten(1).mean(1).cpu())
        depths.append((depth * scale_factor)[:, 0].cpu())
    return HeldBackErrors(torch.cat(best).numpy(), torch.cat(odometry).numpy() if odometry else None,
                          torch.cat(depths).numpy(), torch.cat(maps).numpy())
