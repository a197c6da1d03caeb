"""Camera intrinsics for an image: from a file (plain fx/fy/cx/cy YAML or ROS camera_info YAML), from a
camera_info message, or the KITTI-like fallback.

Files and messages describe the pixels of some image size; a different image size gets the same
camera rescaled (`rescale_to`), the one place that rule lives.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from semdepth_ros.codec import camera_info_to_K
from semdepth_ros.geometry import intrinsics_matrix, scale_intrinsics

# Monodepth2's KITTI intrinsics normalised by image size; the fallback when a user has none.
KITTI_NORMALISED_K = np.array([[0.58, 0.0, 0.5], [0.0, 1.92, 0.5], [0.0, 0.0, 1.0]])


class IntrinsicsError(ValueError):
    """An intrinsics file that cannot be read; the message names the file and the problem."""


def load_intrinsics(path: str | Path) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Return (K 3x3, (width, height) or None) from ``intrinsics.yaml`` or ``camera_info.yaml``."""
    path = Path(path)
    if not path.is_file():
        raise IntrinsicsError(f"intrinsics file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise IntrinsicsError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise IntrinsicsError(f"{path} must hold a mapping (fx, fy, cx, cy or a ROS camera_info)")
    if "camera_matrix" in data:
        values = data["camera_matrix"].get("data") if isinstance(data["camera_matrix"], dict) else None
        if not isinstance(values, list) or len(values) != 9:
            raise IntrinsicsError(f"{path}: camera_matrix.data must have 9 numbers")
        k = np.asarray(values, dtype=np.float64).reshape(3, 3)
        size = _size(data, "image_width", "image_height")
    else:
        missing = [key for key in ("fx", "fy", "cx", "cy") if key not in data]
        if missing:
            raise IntrinsicsError(f"{path}: missing {', '.join(missing)} (expected fx, fy, cx, cy in "
                                  "pixels, or a ROS camera_info YAML)")
        k = intrinsics_matrix(float(data["fx"]), float(data["fy"]), float(data["cx"]), float(data["cy"]))
        size = _size(data, "width", "height")
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise IntrinsicsError(f"{path}: focal lengths must be positive, got fx={k[0, 0]}, fy={k[1, 1]}")
    return k, size


def _size(data: dict, wkey: str, hkey: str) -> tuple[int, int] | None:
    return (int(data[wkey]), int(data[hkey])) if wkey in data and hkey in data else None


def kitti_like_intrinsics(width: int, height: int) -> np.ndarray:
    """Monodepth2's KITTI intrinsics at a given image size (a documented guess, not a calibration)."""
    k = KITTI_NORMALISED_K.copy()
    k[0] *= width
    k[1] *= height
    return k


# Resizing with rounded sizes changes the aspect ratio a little (1242x375 -> 320x96: 0.6 %); more than
# this means the intrinsics describe another picture (a crop, another camera, swapped width and height).
ASPECT_TOLERANCE = 0.02


def aspect_mismatch(size: tuple[int, int] | None, width: int, height: int) -> bool:
    """True when K for images of ``size`` cannot describe a (width, height) image by a uniform resize:
    rescaling would stretch the axes differently (fx and fy by different factors) and bend the cloud."""
    if size is None:
        return False
    return abs((size[0] / size[1]) / (width / height) - 1.0) > ASPECT_TOLERANCE


def rescale_to(k: np.ndarray, size: tuple[int, int] | None, width: int, height: int) -> np.ndarray:
    """K describing an image of (width, height), given K for images of ``size`` (None: unknown, kept)."""
    if size is None or tuple(size) == (width, height):
        return k
    return scale_intrinsics(k, width / size[0], height / size[1])


def intrinsics_for_image(path: str | Path | None, width: int, height: int) -> np.ndarray:
    """K for an image of (width, height): from a file (rescaled if its size differs) or KITTI-like."""
    if path is None:
        return kitti_like_intrinsics(width, height)
    k, size = load_intrinsics(path)
    return rescale_to(k, size, width, height)


@dataclasses.dataclass(frozen=True)
class Camera:
    """Intrinsics of one image plus what an output camera_info passes on unchanged (distortion)."""

    K: np.ndarray
    distortion: tuple[float, ...] = (0.0,) * 5
    distortion_model: str = "plumb_bob"


def camera_info_size(info: Any) -> tuple[int, int] | None:
    """(width, height) a camera_info message (rclpy or rosbags) describes; None when unset (0)."""
    return (int(info.width), int(info.height)) if info.width and info.height else None


def camera_for_image(info: Any, width: int, height: int) -> Camera:
    """The camera of a camera_info message (rclpy or rosbags) for an image of (width, height).

    A camera_info for another size (width/height set and different) is rescaled to this image, per
    axis (callers check `aspect_mismatch` first where that matters); raises codec.InputError for an
    uncalibrated camera_info.
    """
    K = rescale_to(camera_info_to_K(info.k), camera_info_size(info), width, height)
    return Camera(K, tuple(float(v) for v in info.d), info.distortion_model)
