"""The metric scale of a depth network on a recording with odometry, before any training.

Warping a frame's neighbours onto it with the network's depth times a factor s and the odometry's
motion in metres rebuilds the frame best when s turns network units into metres (view synthesis,
Semantic-Guided Representation Enhancement, Sec. 3, with the motion known instead of predicted). The
factor is searched on a log grid and refined around the minimum. Adapting then trains with the
odometry in the same units (metres / s), so the network starts from the depth it already has and the
checkpoint's factor s makes its output metric.
"""
from __future__ import annotations

import numpy as np
import torch

from semdepth_ros.model import SemDepthNet
from semdepth_training.adapt.photometric import evenly_spaced, network_depth, stack_samples
from semdepth_training.datasets.base import SampleDataset
from semdepth_training.losses import photometric_error
from semdepth_training.warping import warp_image

GRID = np.logspace(-2, 4, 49)   # 8 factors per decade over 1e-2 .. 1e4
REFINE_STEPS = 12
SEARCH_SCALE = 1                # half resolution: the factor is a global property, details do not matter


def _errors_for(factors: np.ndarray, inputs: dict, depth: torch.Tensor) -> np.ndarray:
    """Mean per-pixel min-over-sources photometric error for each factor."""
    s = SEARCH_SCALE
    target, k, inv_k = inputs[("color", 0, s)], inputs[("K", s)], inputs[("inv_K", s)]
    sources = [key[1] for key in inputs if isinstance(key, tuple) and key[0] == "T"]
    small = torch.nn.functional.avg_pool2d(depth, 2 ** s)
    result = []
    with torch.no_grad():
        for factor in factors:
            errors = [photometric_error(warp_image(inputs[("color", f, s)], small * float(factor), k, inv_k,
                                                   inputs[("T", f)]), target) for f in sources]
            result.append(torch.cat(errors, 1).min(1)[0].mean().item())
    return np.array(result)


def odometry_scale(model: SemDepthNet, min_depth: float, max_depth: float, dataset: SampleDataset,
                   max_frames: int = 24, device: torch.device = torch.device("cpu")) -> tuple[float, dict]:
    """(factor, details): network units -> metres, from up to ``max_frames`` targets of ``dataset``
    (which must carry odometry poses and not augment); ``model`` runs on ``device``."""
    indices = evenly_spaced(len(dataset), max_frames)
    inputs = stack_samples(dataset, indices, device)
    if not bool(inputs["pose_valid"].all()):
        raise ValueError("the odometry scale needs frames with odometry poses")
    depth = network_depth(model, inputs[("color", 0, 0)], min_depth, max_depth)
    coarse = _errors_for(GRID, inputs, depth)
    best = int(np.argmin(coarse))
    lo, hi = GRID[max(best - 1, 0)], GRID[min(best + 1, len(GRID) - 1)]
    fine_grid = np.geomspace(lo, hi, REFINE_STEPS)
    fine = _errors_for(fine_grid, inputs, depth)
    factor = float(fine_grid[int(np.argmin(fine))])
    edge = best in (0, len(GRID) - 1)
    details = {"method": "odometry photometric search", "frames": len(indices), "error": float(fine.min()),
               "error_at_grid_edge": edge, "grid": [float(GRID[0]), float(GRID[-1])]}
    return factor, details
