"""semdepth_ros.scale: metric scale policies and the RANSAC ground plane (Semantically-Guided
Representation Learning, Sec. 4.3)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semdepth_ros.scale import GroundPlaneScale, GroundPlaneSettings, Scale, fit_ground_plane, scale_policy

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
    policy = GroundPlaneScale(camera_height=1.65, fallback=1.0)
    depth, mask = road_scene(1.65, unknown_scale=4.0)
    scales = [policy.scale_for(depth, mask, K) for _ in range(3)]
    assert scales[-1].factor == pytest.approx(4.0, rel=0.02) and scales[-1].source == "ground_plane"
    assert policy.last_fit.normal[1] > 0.99 and policy.last_fit.inlier_ratio > 0.8
    depth2, _ = road_scene(1.65, unknown_scale=8.0, seed=1)
    after = policy.scale_for(depth2, mask, K).factor
    assert 4.0 < after < 8.0                      # exponential smoothing, not a jump


def test_ground_plane_is_deterministic() -> None:
    depth, mask = road_scene(1.2, unknown_scale=2.0)
    runs = [GroundPlaneScale(1.2, fallback=1.0).scale_for(depth, mask, K) for _ in range(2)]
    assert runs[0] == runs[1]


def test_untrustworthy_fits_fall_back_to_last_good_then_checkpoint() -> None:
    policy = GroundPlaneScale(camera_height=1.65, fallback=5.4)
    wall = np.full((H, W), 3.0, np.float32)       # a wall facing the camera: normal along z, not y
    no_mask = np.zeros((H, W), np.uint8)
    assert policy.scale_for(wall, no_mask, K) == Scale(5.4, "checkpoint") and policy.last_fit is None
    assert policy.scale_for(wall, no_mask, None) == Scale(5.4, "checkpoint")     # no intrinsics: no fit
    depth, mask = road_scene(1.65, unknown_scale=2.0)
    good = policy.scale_for(depth, mask, K)
    assert good.factor == pytest.approx(2.0, rel=0.02)
    assert policy.scale_for(wall, no_mask, K) == good
    everything_foreground = np.ones((H, W), np.uint8)
    assert policy.scale_for(depth, everything_foreground, K) == good


def test_plane_above_the_camera_is_rejected() -> None:
    depth, mask = road_scene(1.65, unknown_scale=1.0)
    ceiling = np.flipud(depth).copy()             # the same plane mirrored above the camera
    rng = np.random.default_rng(0)
    fit = fit_ground_plane(ceiling, np.zeros_like(mask), K, GroundPlaneSettings(lower_fraction=1.0), rng)
    assert fit is None


@pytest.mark.parametrize("mode, expected", [("checkpoint", 5.4), ("fixed", 2.5), ("none", 1.0)])
def test_other_modes_are_one_factor(mode: str, expected: float) -> None:
    policy = scale_policy(mode, checkpoint_scale=5.4, fixed_scale=2.5)
    depth, mask = road_scene(1.65, unknown_scale=1.0)
    assert policy.current == policy.scale_for(depth, mask, K) == Scale(expected, mode)


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="scale_mode must be one of"):
        scale_policy("metric", 1.0)


def test_ground_plane_of_a_learned_depth_map_is_the_road() -> None:
    """A network's depth of a street whose camera is 1.65 m above the road: the fit is the road, not a
    far plane tilted by ~20 degrees (which a tolerance relative to each hypothesis's own distance,
    hence wider for far planes, used to prefer: distance 4.1 m here)."""
    data = np.load(Path(__file__).parent / "data" / "plane_fit" / "street_64x192.npz")
    depth = data["depth"].astype(np.float32)
    foreground = np.unpackbits(data["foreground"])[:depth.size].reshape(depth.shape)
    for seed in range(5):
        fit = fit_ground_plane(depth, foreground, data["K"].astype(np.float64), GroundPlaneSettings(),
                               np.random.default_rng(seed))
        assert fit is not None and abs(fit.distance - 1.65) < 0.15, fit
        assert abs(fit.normal[1]) > 0.99, fit
