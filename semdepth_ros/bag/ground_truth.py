"""Ground-truth depth maps from bag messages: a LiDAR PointCloud2 projected into the camera, or a
depth image (32FC1 metres / 16UC1 millimetres, REP 118) registered to the camera.

Maps are float32 metres with 0 where there is no measurement, the convention of the metrics module.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from semdepth_ros.bag.transforms import transform_points
from semdepth_ros.codec import InputError, cloud_fields, cloud_fields_to_arrays, image_fields, image_fields_to_depth


def cloud_xyz(msg: Any) -> np.ndarray:
    """Finite x, y, z [N, 3] float64 of any PointCloud2 layout (Velodyne, Ouster, our own clouds)."""
    arrays = cloud_fields_to_arrays(**cloud_fields(msg))
    missing = [axis for axis in "xyz" if axis not in arrays]
    if missing:
        raise InputError(f"point cloud has no {', '.join(missing)} field (fields: {', '.join(arrays)})")
    xyz = np.stack([arrays[a].reshape(-1) for a in "xyz"], axis=1).astype(np.float64)
    return xyz[np.isfinite(xyz).all(axis=1)]


def project_to_depth(points: np.ndarray, t_cam_points: np.ndarray, k: np.ndarray,
                     height: int, width: int, min_depth: float = 0.1) -> np.ndarray:
    """Sparse depth [H, W] of points [N, 3] seen by a pinhole camera (nearest point wins per pixel).

    Pixel centres sit at integer coordinates (the camera_info / image_geometry convention), so a
    point back-projected from pixel (u, v) lands on (u, v) again. Points closer than ``min_depth``
    (behind the camera or on the sensor housing) are dropped.
    """
    cam = transform_points(t_cam_points, points)
    cam = cam[cam[:, 2] > min_depth]
    pix = cam @ np.asarray(k, dtype=np.float64).T
    u = np.round(pix[:, 0] / pix[:, 2]).astype(np.int64)
    v = np.round(pix[:, 1] / pix[:, 2]).astype(np.int64)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    nearest = np.full((height, width), np.inf)
    np.minimum.at(nearest, (v[inside], u[inside]), cam[inside, 2])
    nearest[np.isinf(nearest)] = 0.0
    return nearest.astype(np.float32)


def depth_image_gt(msg: Any) -> np.ndarray:
    """A depth Image as ground truth: metres, 0 where the sensor had no return (NaN, 0 or inf)."""
    depth = image_fields_to_depth(**image_fields(msg))
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)
