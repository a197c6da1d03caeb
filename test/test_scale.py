"""semdepth_ros.ros.scale: metric scale modes and the RANSAC ground plane (seed 001 Sec. 4.3)."""
from __future__ import annotations

import numpy as np
import pytest

from semdepth_ros.ros.scale import GroundPlaneSettings, ScaleEstimator, fit_ground_plane

H, W = 64, 192
K = np.array([[100.0, 0.0, 95.5], [0.0, 100.0, 31.5], [0.0, 0.0, 1.0]])


def road_scene(camera_height: float, unknown_scale: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Relative depth of a flat road below a level camera (sky far away), with a foreground box and noise."""
    v = np.arange(H, dtype=np.float64)[:, None].repeat(W, axis=1)
    depth = np.full((H, W), 60.0)
    below = v > K[1, 2] + 2
    depth[below] = camera_height * K[1, 1] / (v[below] - K[1, 2])
    mask = np.zeros((H, W), np.uint8)
    mask[40:, 80:110] = 1
    depth[40:, 80:110] = 3.0                      # an object standing on the road: excluded by the mask
    noise = np.random.default_rng(seed).normal(0.0, 0.01, depth.shape)
    return (depth * (1 + noise) / unknown_scale).astype(np.float32), mask


def test_ground_plane_recovers_metric_scale_and_smooths() -> None:
    estimator = ScaleEstimator("ground_plane", checkpoint_scale=1.0, camera_height=1.65)
    depth, mask = road_scene(1.65, unknown_scale=4.0)
    assert estimator.predict_scale == 1.0
    scales = [estimator.correction(depth, mask, K) for _ in range(3)]
    assert scales[-1] == pytest.approx(4.0, rel=0.02)
    assert estimator.last_fit.normal[1] > 0.99 and estimator.last_fit.inlier_ratio > 0.8
    depth2, _ = road_scene(1.65, unknown_scale=8.0, seed=1)
    after = estimator.correction(depth2, mask, K)
    assert 4.0 < after < 8.0                      # exponential smoothing, not a jump


def test_ground_plane_is_deterministic() -> None:
    depth, mask = road_scene(1.2, unknown_scale=2.0)
    runs = [[ScaleEstimator("ground_plane", 1.0, camera_height=1.2).correction(depth, mask, K)] for _ in range(2)]
    assert runs[0] == runs[1]


def test_untrustworthy_fits_fall_back_to_last_good_then_checkpoint() -> None:
    estimator = ScaleEstimator("ground_plane", checkpoint_scale=5.4, camera_height=1.65)
    wall = np.full((H, W), 3.0, np.float32)       # a wall facing the camera: normal along z, not y
    no_mask = np.zeros((H, W), np.uint8)
    assert estimator.correction(wall, no_mask, K) == 5.4 and estimator.last_fit is None
    assert estimator.correction(wall, no_mask, None) == 5.4     # no intrinsics: no fit
    depth, mask = road_scene(1.65, unknown_scale=2.0)
    good = estimator.correction(depth, mask, K)
    assert good == pytest.approx(2.0, rel=0.02)
    assert estimator.correction(wall, no_mask, K) == good
    everything_foreground = np.ones((H, W), np.uint8)
    assert estimator.correction(depth, everything_foreground, K) == good


def test_plane_above_the_camera_is_rejected() -> None:
    depth, mask = road_scene(1.65, unknown_scale=1.0)
    ceiling = np.flipud(depth).copy()             # the same plane mirrored above the camera
    rng = np.random.default_rng(0)
    fit = fit_ground_plane(ceiling, np.zeros_like(mask), K, GroundPlaneSettings(lower_fraction=1.0), rng)
    assert fit is None


@pytest.mark.parametrize("mode, expected", [("checkpoint", 5.4), ("fixed", 2.5), ("none", 1.0)])
def test_other_modes_scale_in_the_predictor(mode: str, expected: float) -> None:
    estimator = ScaleEstimator(mode, checkpoint_scale=5.4, fixed_scale=2.5)
    depth, mask = road_scene(1.65, unknown_scale=1.0)
    assert estimator.predict_scale == expected and estimator.current == expected
    assert estimator.correction(depth, mask, K) == 1.0


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="scale_mode must be one of"):
        ScaleEstimator("metric", 1.0)
