"""Depth metrics against hand-computed values, the standard crop indices, scaling and range bins."""
from __future__ import annotations

import math

import numpy as np
import pytest

from semdepth_ros.metrics import (DEPTH_RANGES, MAX_DEPTH, MIN_DEPTH, DepthErrorAccumulator, compute_depth_errors,
                                  eigen_crop_mask, errors_by_range, garg_crop_mask, median_scale,
                                  prepare_eval_pixels)


def test_seven_metrics_match_hand_computation() -> None:
    gt = np.array([1.4, 1.8, 1.0, 2.0])
    pred = np.array([1.0, 1.0, 2.0, 2.0])
    # ratios max(gt/pred, pred/gt) = 1.4, 1.8, 2.0, 1.0 -> one, two and three pass 1.25, 1.25^2, 1.25^3
    errors = compute_depth_errors(gt, pred)
    assert errors["abs_rel"] == pytest.approx((0.4 / 1.4 + 0.8 / 1.8 + 1.0 / 1.0 + 0.0) / 4)
    assert errors["sq_rel"] == pytest.approx((0.16 / 1.4 + 0.64 / 1.8 + 1.0 / 1.0 + 0.0) / 4)
    assert errors["rmse"] == pytest.approx(math.sqrt((0.16 + 0.64 + 1.0 + 0.0) / 4))
    logs = [math.log(1.4), math.log(1.8), math.log(0.5), 0.0]
    assert errors["rmse_log"] == pytest.approx(math.sqrt(sum(v * v for v in logs) / 4))
    assert (errors["a1"], errors["a2"], errors["a3"]) == (0.25, 0.5, 0.75)


def test_accumulator_pools_pixels_like_concatenation() -> None:
    rng = np.random.default_rng(0)
    parts = [(rng.uniform(1, 80, n), rng.uniform(1, 80, n)) for n in (5, 17, 1)]
    acc = DepthErrorAccumulator()
    for gt, pred in parts:
        acc.update(gt, pred)
    pooled = compute_depth_errors(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    assert acc.count == 23
    assert {k: v for k, v in acc.compute().items() if k in pooled} == pytest.approx(pooled)
    gt, pred = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
    assert acc.compute()["log10"] == pytest.approx(np.mean(np.abs(np.log10(gt) - np.log10(pred))))
    assert all(math.isnan(v) for v in DepthErrorAccumulator().compute().values())


def test_garg_and_eigen_crops_at_kitti_size() -> None:
    expected = np.zeros((375, 1242), dtype=bool)
    expected[153:371, 44:1197] = True
    assert np.array_equal(garg_crop_mask(375, 1242), expected)
    expected = np.zeros((375, 1242), dtype=bool)
    expected[124:342, 44:1197] = True
    assert np.array_equal(eigen_crop_mask(375, 1242), expected)


def test_median_scaling_of_a_scaled_copy_is_exact() -> None:
    rng = np.random.default_rng(1)
    gt = rng.uniform(2.0, 60.0, (24, 40)).astype(np.float32)
    pixels = prepare_eval_pixels(gt, gt / 3.7, crop=None)
    assert pixels.ratio == pytest.approx(3.7, rel=1e-6)
    assert median_scale(gt, gt / 3.7) == pytest.approx(3.7, rel=1e-6)
    assert compute_depth_errors(pixels.gt, pixels.pred)["abs_rel"] == pytest.approx(0.0, abs=1e-6)


def test_cap_crop_fixed_scale_and_clamp() -> None:
    gt = np.array([[0.0, MIN_DEPTH, 0.5, MAX_DEPTH, 80.5]], dtype=np.float32)
    pred = np.array([[1.0, 1.0, 1.0, 100.0, 1.0]], dtype=np.float32)
    pixels = prepare_eval_pixels(gt, pred, crop=None, scale=2.0)
    assert pixels.mask.tolist() == [[False, False, True, True, False]]  # valid GT is (1e-3, 80]
    assert pixels.ratio == 2.0
    assert pixels.pred.tolist() == [2.0, MAX_DEPTH]  # 100 * 2 clamped to the cap
    cropped = prepare_eval_pixels(np.full((375, 1242), 10.0), np.full((375, 1242), 5.0), crop="garg")
    assert cropped.gt.size == (371 - 153) * (1197 - 44) and cropped.ratio == pytest.approx(2.0)
    with pytest.raises(ValueError, match="resized"):
        prepare_eval_pixels(gt, pred[:, :3])


def test_errors_by_range_uses_cumulative_gt_bins() -> None:
    gt = np.array([1.0, 3.0, 5.0, 7.0, 10.0, 30.0, 50.0])
    pred = gt * np.array([1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    table = errors_by_range(gt, pred)
    assert list(table) == [name for name, _, _ in DEPTH_RANGES]
    assert [table[name]["count"] for name in table] == [2, 3, 4, 5, 6, 7]
    assert table["<=4m"]["abs_rel"] == pytest.approx(0.1 / 2)
    assert table["all"] == pytest.approx({**compute_depth_errors(gt, pred), "count": 7})
    assert list(errors_by_range(np.array([30.0]), np.array([30.0]))) == ["<=40m", "all"]
