"""The camera of one sequence: intrinsics and how it is mounted on the vehicle.

Randomised per sequence (domain randomisation): a network that has only seen one height, pitch and
focal length learns "depth = f(image row)" and fails on any other camera; drawing them at random
forces it to read the scene instead. Intrinsics stay exact in the output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semdepth_ros.intrinsics import kitti_like_intrinsics


@dataclass(frozen=True)
class CameraRig:
    K: np.ndarray  # [3,3] pixels
    height: float  # metres of the optical centre above the road
    pitch: float  # rad, positive looks up
    roll: float  # rad about the optical axis
    yaw: float  # rad, mounting error against the vehicle's heading


def kitti_rig(width: int, height: int, camera_height: float) -> CameraRig:
    """Monodepth2's KITTI intrinsics, mounted level (the basic world)."""
    return CameraRig(K=kitti_like_intrinsics(width, height), height=camera_height, pitch=0.0, roll=0.0,
                     yaw=0.0)


def random_rig(rng: np.random.Generator, width: int, height: int, height_range: tuple[float, float],
               hfov_range: tuple[float, float], pitch_range: tuple[float, float],
               roll_range: tuple[float, float]) -> CameraRig:
    """Horizontal field of view, principal point (within 4 % of the width and 8 % of the height of the
    centre), square pixels, mount height, pitch, roll (degrees ranges) and a small yaw error."""
    hfov = np.radians(rng.uniform(*hfov_range))
    fx = width / 2 / np.tan(hfov / 2)
    cx = width / 2 + rng.uniform(-0.04, 0.04) * width
    cy = height / 2 + rng.uniform(-0.08, 0.08) * height
    return CameraRig(K=np.array([[fx, 0.0, cx], [0.0, fx, cy], [0.0, 0.0, 1.0]]),
                     height=float(rng.uniform(*height_range)),
                     pitch=float(np.radians(rng.uniform(*pitch_range))),
                     roll=float(np.radians(rng.uniform(*roll_range))),
                     yaw=float(np.radians(rng.normal(0.0, 0.7))))
