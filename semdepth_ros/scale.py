"""Metric scale for monocular depth: from the checkpoint, a fixed factor, or the ground plane.

A monocular network predicts depth up to scale; a scale policy says, per image, which factor turns it
into metres. The Predictor asks its policy once per image and applies the factor before it builds the
point cloud, so depth is scaled in that one place.

`ground_plane` recovers scale from the known height of the camera above a flat ground, the idea of
the RANSAC ground plane in "Semantically-Guided Representation Learning for Self-Supervised Monocular
Depth", Sec. 4.3 (depth of the nearby ground is predicted robustly, so a plane fitted to it is
trustworthy): fit a plane to background pixels in the lower part of the image, then
scale = camera_height / (distance from the camera centre to that plane), smoothed over frames. Frames
where the fit is not trustworthy keep the last good scale (or the checkpoint's until there is one).
Camera optical frame (REP 103): x right, y down, z forward, so the ground normal is close to +-y.
numpy only; the RNG is seeded so the same frames give the same scales.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

SCALE_MODES = ("checkpoint", "fixed", "ground_plane", "none")


@dataclasses.dataclass(frozen=True)
class Scale:
    """The factor applied to network depth and where it came from (one of SCALE_MODES)."""

    factor: float
    source: str


class ScalePolicy(Protocol):
    """Chooses the factor for one image from its unscaled depth, foreground mask and intrinsics."""

    @property
    def current(self) -> Scale: ...

    def scale_for(self, depth: np.ndarray, mask: np.ndarray, K: np.ndarray | None) -> Scale: ...


@dataclasses.dataclass(frozen=True)
class FixedScale:
    """The same factor for every image (the checkpoint's, a user's, or 1 for raw network depth)."""

    factor: float
    source: str = "fixed"

    @property
    def current(self) -> Scale:
        return Scale(self.factor, self.source)

    def scale_for(self, depth: np.ndarray, mask: np.ndarray, K: np.ndarray | None) -> Scale:
        return self.current


NO_SCALE = FixedScale(1.0, "none")


@dataclasses.dataclass(frozen=True)
class GroundPlaneSettings:
    lower_fraction: float = 0.4       # rows in the bottom 40% of the image are ground candidates
    max_points: int = 2000            # candidates subsampled for speed
    iterations: int = 100
    inlier_tolerance: float = 0.05    # |residual| < tolerance * plane distance (scale-free threshold)
    min_inlier_ratio: float = 0.3
    max_tilt_deg: float = 25.0        # angle allowed between the plane normal and the camera y axis
    smoothing: float = 0.2            # weight of a new estimate in the exponential average
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class PlaneFit:
    normal: np.ndarray                # unit normal (3,) pointing from the camera to the plane (n.p = distance)
    distance: float                   # camera centre to plane, in the depth map's units
    inlier_ratio: float


class GroundPlaneScale:
    """camera_height / (distance to the fitted ground), smoothed over frames; ``fallback`` (the
    checkpoint's factor) until the first trustworthy fit."""

    def __init__(self, camera_height: float, fallback: float,
                 settings: GroundPlaneSettings = GroundPlaneSettings()) -> None:
        self.camera_height = camera_height
        self.fallback = fallback
        self.settings = settings
        self._rng = np.random.default_rng(settings.seed)
        self._smoothed: float | None = None
        self.last_fit: PlaneFit | None = None

    @property
    def current(self) -> Scale:
        if self._smoothed is None:
            return Scale(self.fallback, "checkpoint")
        return Scale(self._smoothed, "ground_plane")

    def scale_for(self, depth: np.ndarray, mask: np.ndarray, K: np.ndarray | None) -> Scale:
        """Update the estimate with this image's unscaled depth (no intrinsics: no fit) and return it."""
        self.last_fit = None if K is None else fit_ground_plane(depth, mask, K, self.settings, self._rng)
        if self.last_fit is not None:
            estimate = self.camera_height / self.last_fit.distance
            alpha = self.settings.smoothing
            previous = estimate if self._smoothed is None else self._smoothed
            self._smoothed = (1 - alpha) * previous + alpha * estimate
        return self.current


def scale_policy(mode: str, checkpoint_scale: float, fixed_scale: float = 1.0,
                 camera_height: float = 1.65) -> ScalePolicy:
    """The policy of a `scale_mode` (the node parameter; eval-bag's --scale ground_plane)."""
    if mode not in SCALE_MODES:
        raise ValueError(f"scale_mode must be one of {', '.join(SCALE_MODES)}, not '{mode}'")
    if mode == "ground_plane":
        return GroundPlaneScale(camera_height, checkpoint_scale)
    factor = {"checkpoint": checkpoint_scale, "fixed": fixed_scale, "none": 1.0}[mode]
    return FixedScale(factor, mode)


def ground_candidates(depth: np.ndarray, mask: np.ndarray, K: np.ndarray,
                      lower_fraction: float) -> np.ndarray:
    """Camera-frame points [N,3] of finite-depth background pixels in the lower part of the image."""
    h, w = depth.shape
    top = int(round(h * (1.0 - lower_fraction)))
    z = depth[top:]
    v, u = np.nonzero((mask[top:] == 0) & np.isfinite(z) & (z > 0))
    z = z[v, u].astype(np.float64)
    x = (u - K[0, 2]) * z / K[0, 0]
    y = (v + top - K[1, 2]) * z / K[1, 1]
    return np.stack([x, y, z], axis=1)


def fit_ground_plane(depth: np.ndarray, mask: np.ndarray, K: np.ndarray, settings: GroundPlaneSettings,
                     rng: np.random.Generator) -> PlaneFit | None:
    """RANSAC plane through the ground candidates, refined by least squares; None when untrustworthy."""
    points = ground_candidates(depth, mask, K, settings.lower_fraction)
    if len(points) < 3:
        return None
    if len(points) > settings.max_points:
        points = points[rng.choice(len(points), settings.max_points, replace=False)]
    samples = points[rng.integers(0, len(points), size=(settings.iterations, 3))]
    normals = np.cross(samples[:, 1] - samples[:, 0], samples[:, 2] - samples[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    keep = norms > 1e-12
    if not keep.any():
        return None
    normals = normals[keep] / norms[keep, None]
    offsets = -np.einsum("ij,ij->i", normals, samples[keep, 0])
    residuals = np.abs(points @ normals.T + offsets)                    # [N, hypotheses]
    # One tolerance for every hypothesis, from the candidates' median height below the camera (the
    # camera height for a ground plane): a tolerance relative to each hypothesis's own distance would
    # favour far, tilted planes, whose wider band catches more points.
    inliers = residuals < settings.inlier_tolerance * max(float(np.median(np.abs(points[:, 1]))), 1e-12)
    best = int(np.argmax(inliers.sum(axis=0)))
    fit = _refine(points[inliers[:, best]])
    if fit is None:
        return None
    normal, distance = fit
    ratio = float(np.mean(np.abs(points @ normal - distance) < settings.inlier_tolerance * distance))
    tilt = np.degrees(np.arccos(min(abs(normal[1]), 1.0)))
    # Ground lies below the camera, i.e. towards +y (y is down); a plane above it is no ground.
    if ratio < settings.min_inlier_ratio or tilt > settings.max_tilt_deg or normal[1] < 0:
        return None
    return PlaneFit(normal, float(distance), ratio)


def _refine(inliers: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Least-squares plane n.p = distance with unit n and distance > 0 (n points away from the camera)."""
    if len(inliers) < 3:
        return None
    centroid = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centroid, full_matrices=False)[2][-1]
    distance = float(normal @ centroid)
    if abs(distance) < 1e-9:
        return None
    return (normal, distance) if distance > 0 else (-normal, -distance)
