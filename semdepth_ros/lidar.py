"""The one LiDAR -> camera projection: sparse ground-truth depth from 3-D points (numpy only).

`semdepth evaluate` (KITTI Velodyne scans) and `semdepth eval-bag` (PointCloud2 in a bag) both call
`project_to_depth`, so a scan seen by the same camera gives the same ground truth in both.

Two pixel conventions exist, and the choice changes the numbers (a one-pixel shift alone costs a
perfect model Abs Rel ~0.03 on KITTI):
- "kitti": pixel = round(x) - 1, the convention of the Eigen et al. (NIPS 2014) ground truth as exported
  by Monodepth2, which every paper of docs/references.md reports against. Used for KITTI data.
- "camera_info": pixel = round(x), pixel centres at integer coordinates (the camera_info /
  image_geometry convention), so a point back-projected from pixel (u, v) lands on (u, v) again.
Where several points fall on one pixel the nearest wins (both conventions).
"""
from __future__ import annotations

import numpy as np

from semdepth_ros.bag.transforms import transform_points

PIXEL_OFFSETS = {"kitti": -1, "camera_info": 0}
MIN_RANGE = 0.1  # m along the optical axis: closer points (behind the camera, on the sensor housing) are dropped


def project_to_depth(points: np.ndarray, t_camera_points: np.ndarray, k: np.ndarray, height: int, width: int,
                     convention: str = "camera_info") -> np.ndarray:
    """Sparse depth [height, width] float32 (metres, 0 = no point) of points [N, 3] seen by a pinhole camera.

    ``t_camera_points`` maps the points' frame into the camera optical frame; ``k`` is 3x3 for an image
    of (width, height); ``convention`` is a key of PIXEL_OFFSETS.
    """
    if convention not in PIXEL_OFFSETS:
        raise ValueError(f"pixel convention must be one of {', '.join(PIXEL_OFFSETS)}, not {convention!r}")
    offset = PIXEL_OFFSETS[convention]
    cam = transform_points(np.asarray(t_camera_points, dtype=np.float64), np.asarray(points, dtype=np.float64))
    cam = cam[cam[:, 2] > MIN_RANGE]
    pix = cam @ np.asarray(k, dtype=np.float64).T
    u = np.round(pix[:, 0] / pix[:, 2]).astype(np.int64) + offset
    v = np.round(pix[:, 1] / pix[:, 2]).astype(np.int64) + offset
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    nearest = np.full((height, width), np.inf)
    np.minimum.at(nearest, (v[inside], u[inside]), cam[inside, 2])
    nearest[np.isinf(nearest)] = 0.0
    return nearest.astype(np.float32)
