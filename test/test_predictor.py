"""Predictor on CPU through its public API."""
import numpy as np
import pytest

from semdepth_ros.geometry import depth_to_points
from semdepth_ros.intrinsics import kitti_like_intrinsics
from semdepth_ros.predictor import Predictor
from semdepth_ros.scale import NO_SCALE, Scale


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor.load(tiny_checkpoint, device="cpu")


def test_outputs_network_resolution(predictor):
    image = np.random.default_rng(0).integers(0, 256, (120, 400, 3), dtype=np.uint8)
    k = kitti_like_intrinsics(400, 120)
    pred = predictor.predict(image, intrinsics=k)
    assert pred.depth.shape == (64, 192) and pred.depth.dtype == np.float32
    assert pred.fg_prob.shape == (64, 192) and pred.fg_prob.dtype == np.float32
    assert pred.mask.dtype == np.uint8 and set(np.unique(pred.mask)) <= {0, 1}
    assert np.all((pred.depth >= 0.1 - 1e-4) & (pred.depth <= 100.0 + 1e-3))
    assert pred.points.shape == (64, 192, 3)
    assert np.allclose(pred.points, depth_to_points(pred.depth, pred.intrinsics))
    assert set(pred.timings) == {"preprocess", "network", "postprocess", "pointcloud"}


def test_input_resolution_and_batch(predictor):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 90, 300, 3), dtype=np.uint8)
    preds = predictor.predict_batch(images, output="input", with_points=False)
    assert len(preds) == 2 and preds[0].depth.shape == (90, 300) and preds[0].points is None
    single = predictor.predict(images[1], output="input")
    assert np.allclose(single.depth, preds[1].depth, rtol=1e-4)


def test_scale_override(predictor):
    image = np.full((64, 192, 3), 128, dtype=np.uint8)
    a = predictor.predict(image, scale=1.0)
    b = predictor.predict(image, scale=2.0)
    assert np.allclose(b.depth, 2 * a.depth, rtol=1e-5)
    assert b.scale == Scale(2.0, "fixed")
    assert predictor.predict(image).scale == Scale(predictor.meta.scale_factor, "checkpoint")


class _Tripling:
    """A scale policy that checks it is shown the unscaled depth and the output intrinsics."""

    def __init__(self, unscaled: np.ndarray, k_out: np.ndarray) -> None:
        self.unscaled, self.k_out = unscaled, k_out
        self.current = Scale(3.0, "test")

    def scale_for(self, depth, mask, K):
        np.testing.assert_array_equal(depth, self.unscaled)
        np.testing.assert_allclose(K, self.k_out)
        return self.current


def test_policy_scales_depth_once_and_points_follow_the_metric_depth(predictor):
    image = np.random.default_rng(2).integers(0, 256, (90, 300, 3), dtype=np.uint8)
    k = kitti_like_intrinsics(300, 90)
    raw = predictor.predict(image, intrinsics=k, output="input", scale=NO_SCALE)
    assert raw.scale == Scale(1.0, "none")
    pred = predictor.predict(image, intrinsics=k, output="input", scale=_Tripling(raw.depth, raw.intrinsics))
    assert pred.scale == Scale(3.0, "test")
    np.testing.assert_allclose(pred.depth, 3 * raw.depth, rtol=1e-6)
    np.testing.assert_allclose(pred.points, depth_to_points(pred.depth, pred.intrinsics), rtol=1e-6)
    np.testing.assert_allclose(pred.points, 3 * raw.points, rtol=1e-5)


def test_bad_image_is_rejected(predictor):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        predictor.predict(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        predictor.predict(np.zeros((10, 10, 3), dtype=np.float32))
