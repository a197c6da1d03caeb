"""Camera geometry shared by the network training, the node and the evaluation.

Conventions: camera optical frame (x right, y down, z forward, REP 103 "_optical"), pinhole
intrinsics in pixels, depth = z (not range). Torch functions work on batches so the training view
synthesis and the runtime point cloud use the same formulas.
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

MIN_DEPTH = 0.1
MAX_DEPTH = 100.0

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def disp_to_depth(disp: ArrayT, min_depth: float = MIN_DEPTH,
                  max_depth: float = MAX_DEPTH) -> tuple[ArrayT, ArrayT]:
    """Map the sigmoid output to (scaled disparity, depth) inside [min_depth, max_depth].

    Monodepth2 convention (Semantic-Guided Representation Enhancement, Sec. 3, builds on it): disparity
    is linear between 1/max and 1/min.
    """
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    scaled = min_disp + (max_disp - min_disp) * disp
    return scaled, 1.0 / scaled


def depth_to_disp(depth: ArrayT, min_depth: float = MIN_DEPTH,
                  max_depth: float = MAX_DEPTH) -> ArrayT:
    """Inverse of :func:`disp_to_depth`: the sigmoid-range disparity that yields ``depth``."""
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    return (1.0 / depth - min_disp) / (max_disp - min_disp)


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """3x3 pinhole matrix."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)


def intrinsics_4x4(k3: np.ndarray | torch.Tensor) -> np.ndarray:
    """Homogeneous 4x4 form of a 3x3 intrinsics matrix (training geometry works in 4x4)."""
    k4 = np.eye(4, dtype=np.float32)
    k4[:3, :3] = np.asarray(k3, dtype=np.float32)
    return k4


def scale_intrinsics(k3: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Intrinsics of the same camera after resizing the image by (sx, sy).

    Pixel-centre aware: pixel i covers [i, i+1), so the principal point maps as
    c' = (c + 0.5) * s - 0.5 (the convention of cv2.resize and image_pipeline's resize).
    """
    k = np.array(k3, dtype=np.float64, copy=True)
    k[0, 0] *= sx
    k[0, 1] *= sx
    k[1, 1] *= sy
    k[0, 2] = (k[0, 2] + 0.5) * sx - 0.5
    k[1, 2] = (k[1, 2] + 0.5) * sy - 0.5
    return k


def pixel_grid(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Homogeneous pixel coordinates [3, H*W] (u, v, 1), u along the width."""
    v, u = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                          torch.arange(width, device=device, dtype=torch.float32), indexing="ij")
    return torch.stack([u.reshape(-1), v.reshape(-1), torch.ones(height * width, device=device)], 0)


def backproject(depth: torch.Tensor, inv_k: torch.Tensor) -> torch.Tensor:
    """Depth [B,1,H,W] -> homogeneous camera points [B,4,H*W]: X = depth * K^-1 [u v 1]^T."""
    b, _, h, w = depth.shape
    rays = inv_k[:, :3, :3] @ pixel_grid(h, w, depth.device).unsqueeze(0)
    points = rays * depth.reshape(b, 1, h * w)
    return torch.cat([points, torch.ones_like(points[:, :1])], 1)


def project(points: torch.Tensor, k: torch.Tensor, t: torch.Tensor, height: int, width: int,
            eps: float = 1e-7) -> torch.Tensor:
    """Homogeneous points [B,4,N] -> sampling grid [B,H,W,2] in [-1, 1] for grid_sample.

    Transforms with T (4x4, source <- target), projects with K, then normalises pixel coordinates
    with align_corners=False semantics (pixel centres at (i + 0.5) / size * 2 - 1).
    """
    cam = (k @ t)[:, :3, :] @ points
    pix = cam[:, :2] / (cam[:, 2:3] + eps)
    pix = pix.reshape(points.shape[0], 2, height, width).permute(0, 2, 3, 1)
    size = torch.tensor([width, height], dtype=pix.dtype, device=pix.device)
    return (pix + 0.5) / size * 2.0 - 1.0


def axisangle_to_matrix(axisangle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle [B,1,3] -> rotation in a [B,4,4] homogeneous matrix."""
    vec = axisangle.reshape(-1, 3)
    angle = vec.norm(dim=1, keepdim=True)
    axis = vec / (angle + 1e-7)
    c, s = torch.cos(angle), torch.sin(angle)
    x, y, z = axis[:, 0:1], axis[:, 1:2], axis[:, 2:3]
    one_c = 1.0 - c
    rot = torch.zeros(vec.shape[0], 4, 4, device=vec.device, dtype=vec.dtype)
    rot[:, 0, 0:1] = c + x * x * one_c
    rot[:, 0, 1:2] = x * y * one_c - z * s
    rot[:, 0, 2:3] = x * z * one_c + y * s
    rot[:, 1, 0:1] = y * x * one_c + z * s
    rot[:, 1, 1:2] = c + y * y * one_c
    rot[:, 1, 2:3] = y * z * one_c - x * s
    rot[:, 2, 0:1] = z * x * one_c - y * s
    rot[:, 2, 1:2] = z * y * one_c + x * s
    rot[:, 2, 2:3] = c + z * z * one_c
    rot[:, 3, 3] = 1.0
    return rot


def pose_vec_to_matrix(axisangle: torch.Tensor, translation: torch.Tensor,
                       invert: bool = False) -> torch.Tensor:
    """Pose-net output (axis-angle [B,1,3], translation [B,1,3]) -> 4x4 transform.

    ``invert`` returns the inverse (R^T, -R^T t), used when the pair was fed in reverse order
    (Monodepth2 convention for the frame -1).
    """
    rot = axisangle_to_matrix(axisangle)
    trans = translation.reshape(-1, 3, 1)
    if invert:
        rot = rot.transpose(1, 2)
        trans = -trans
    tmat = torch.eye(4, device=trans.device, dtype=trans.dtype).repeat(trans.shape[0], 1, 1)
    tmat[:, :3, 3:4] = trans
    return rot @ tmat if invert else tmat @ rot


def depth_to_points(depth: np.ndarray, k3: np.ndarray) -> np.ndarray:
    """Organised point cloud [H,W,3] float32 from depth [H,W] (depth_image_proc formula).

    X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z = depth; NaN depth gives NaN points.
    """
    h, w = depth.shape
    fx, fy, cx, cy = k3[0, 0], k3[1, 1], k3[0, 2], k3[1, 2]
    u = (np.arange(w, dtype=np.float32) - np.float32(cx)) / np.float32(fx)
    v = (np.arange(h, dtype=np.float32) - np.float32(cy)) / np.float32(fy)
    z = depth.astype(np.float32, copy=False)
    points = np.empty((h, w, 3), dtype=np.float32)
    np.multiply(z, u[None, :], out=points[..., 0])
    np.multiply(z, v[:, None], out=points[..., 1])
    points[..., 2] = z
    return points

