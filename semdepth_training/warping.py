"""View synthesis: resample a source frame into the target view (Semantic-Guided Representation
Enhancement, Sec. 3; Zhou et al. 2017)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from semdepth_ros.geometry import backproject, project


def warp_image(source: torch.Tensor, depth: torch.Tensor, k: torch.Tensor, inv_k: torch.Tensor,
               t_target_to_source: torch.Tensor) -> torch.Tensor:
    """Synthesise the target image from ``source`` [B,C,H,W] given target depth [B,1,H,W].

    Back-projects every target pixel with its depth, moves it into the source camera with T
    (4x4, target -> source) and samples the source there. ``border`` padding (Monodepth2) repeats
    edge pixels instead of pulling in black, which would otherwise dominate the loss at borders.
    K/inv_K are 4x4 for the full-resolution image; geometry.project uses align_corners=False.
    """
    height, width = depth.shape[-2:]
    grid = project(backproject(depth, inv_k), k, t_target_to_source, height, width)
    return F.grid_sample(source, grid.to(source.dtype), mode="bilinear", padding_mode="border",
                         align_corners=False)
