"""What the Predictor returns for one image (its own module so both of its paths can build one)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from semdepth_ros.outputs import OutputSettings
from semdepth_ros.scale import NO_SCALE, Scale


@dataclasses.dataclass(frozen=True)
class PackedCloud:
    """The PointCloud2 point records (`codec.cloud_dtype` with rgb and label) cut by ``settings``:
    organised grid of every n-th pixel, NaN points where `outputs.valid_depth` rejects the depth."""

    settings: OutputSettings
    records: np.ndarray                # [h', w'] structured array


@dataclasses.dataclass
class Prediction:
    """Outputs for one image at the output resolution (network or input size)."""

    depth: np.ndarray                  # [h, w] float32 metres (scale applied)
    fg_prob: np.ndarray                # [h, w] float32 in [0, 1]
    mask: np.ndarray                   # [h, w] uint8 {0, 1}
    points: np.ndarray | None          # [h, w, 3] float32 camera optical frame, from `depth`, or None
    intrinsics: np.ndarray | None      # 3x3 at the output resolution, or None
    timings: dict[str, float]          # milliseconds per stage
    scale: Scale = NO_SCALE.current    # the factor applied to the network's depth, and its source
    depth_cap: float = math.inf        # metres: the network's max_depth x scale, where its depth saturates
    cloud: PackedCloud | None = None   # packed by the engine when the caller asked for a cloud
