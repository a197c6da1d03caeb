"""Ground-truth data from bag messages: the points of a LiDAR PointCloud2 (projected into the camera by
`semdepth_ros.lidar`, the projection `semdepth evaluate` uses too), or a depth image (32FC1 metres /
16UC1 millimetres, REP 118) registered to the camera.

Maps are float32 metres with 0 where there is no measurement, the convention of the metrics module.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from semdepth_ros.codec import InputError, cloud_fields, cloud_fields_to_arrays, image_fields, image_fields_to_depth


def cloud_xyz(msg: Any) -> np.ndarray:
    """Finite x, y, z [N, 3] float64 of any PointCloud2 layout (Velodyne, Ouster, our own clouds)."""
    arrays = cloud_fields_to_arrays(**cloud_fields(msg))
    missing = [axis for axis in "xyz" if axis not in arrays]
    if missing:
        raise InputError(f"point cloud has no {', '.join(missing)} field (fields: {', '.join(arrays)})")
    xyz = np.stack([arrays[a].reshape(-1) for a in "xyz"], axis=1).astype(np.float64)
    return xyz[np.isfinite(xyz).all(axis=1)]


def depth_image_gt(msg: Any) -> np.ndarray:
    """A depth Image as ground truth: metres, 0 where the sensor had no return (NaN, 0 or inf)."""
    depth = image_fields_to_depth(**image_fields(msg))
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)
