"""The output builder: depth the node must not publish (beyond max_point_range, or at the network's
depth cap where the sky saturates) is NaN in the depth image, black in the colourised depth and NaN
in the cloud, computed through the real Predictor where it matters."""
import numpy as np
import pytest
import torch

from semdepth_ros import codec
from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.model import ModelConfig, SemDepthNet
from semdepth_ros.outputs import SATURATION, OutputSettings, build_outputs, depth_for_evaluation, valid_depth
from semdepth_ros.predictor import Prediction, Predictor
from semdepth_ros.geometry import depth_to_points, intrinsics_matrix

K = intrinsics_matrix(50.0, 50.0, 3.5, 0.5)
ALL = {"depth", "camera_info", "mask", "overlay", "colorized", "points"}


def _prediction(depth: np.ndarray, cap: float) -> Prediction:
    h, w = depth.shape
    zeros = np.zeros((h, w), np.uint8)
    return Prediction(depth, zeros.astype(np.float32), zeros, depth_to_points(depth, K), K, {}, depth_cap=cap)


def test_far_and_saturated_depth_are_nan_in_depth_colour_and_cloud():
    # cap 100 m: 98.99 m is measured, 99.0 m (SATURATION x cap) and beyond are saturated; 80 m is the range.
    depth = np.array([[1.0, 50.0, 80.0, 80.5, 98.0, 99.0, 100.0, np.nan]], np.float32)
    pred = _prediction(depth, 100.0)
    out = build_outputs(pred, np.full((1, 8, 3), 200, np.uint8), ALL, settings=OutputSettings(max_point_range=80.0))
    published = codec.image_fields_to_depth(**out["depth"])
    expected = np.array([[1.0, 50.0, 80.0] + [np.nan] * 5], np.float32)
    np.testing.assert_array_equal(published, expected)
    cloud = codec.cloud_fields_to_arrays(**out["points"])
    np.testing.assert_array_equal(np.isfinite(cloud["z"]), np.isfinite(expected))
    colour = codec.image_to_rgb(**out["colorized"])
    assert (colour[0, 3:] == 0).all() and (colour[0, :3].sum(axis=-1) > 0).all()

    far_range = build_outputs(pred, np.zeros((1, 8, 3), np.uint8), {"depth"}, settings=OutputSettings(1000.0))
    np.testing.assert_array_equal(np.isfinite(codec.image_fields_to_depth(**far_range["depth"])),
                                  depth < SATURATION * 100.0)
    assert depth_for_evaluation(published)[0, 4] == pytest.approx(1e6)


def test_decimated_cloud_drops_invalid_points():
    depth = np.array([[1.0, 2.0], [90.0, 3.0]], np.float32)
    out = build_outputs(_prediction(depth, 1000.0), np.zeros((2, 2, 3), np.uint8), {"points"},
                        settings=OutputSettings(80.0, decimation=1))
    assert np.isfinite(codec.cloud_fields_to_arrays(**out["points"])["z"]).sum() == 3


def test_a_network_saturated_at_its_cap_publishes_no_depth():
    """A network whose disparity head outputs ~0 everywhere (sigmoid(-30)): depth is max_depth x scale,
    a phantom wall; with a fixed scale of 2 the cap is 200 m and every pixel is refused."""
    torch.manual_seed(0)
    config = ModelConfig(num_layers=18, semantic=False, seem=False, attention=False, width=0.25)
    model = SemDepthNet(config)
    conv = [m for m in model.depth_decoder.heads[0].modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.fill_(-30.0)
    meta = CheckpointMeta(model_config=config, input_height=64, input_width=96, max_depth=100.0)
    pred = Predictor(model, meta, device="cpu").predict(np.zeros((64, 96, 3), np.uint8),
                                                        intrinsics_matrix(60.0, 60.0, 47.5, 31.5), scale=2.0)
    assert pred.depth_cap == 200.0 and np.allclose(pred.depth, 200.0, rtol=1e-4)
    assert not valid_depth(pred, 10000.0).any()
    out = build_outputs(pred, np.zeros((64, 96, 3), np.uint8), {"depth", "points"})
    assert np.isnan(codec.image_fields_to_depth(**out["depth"])).all()
    assert np.isnan(codec.cloud_fields_to_arrays(**out["points"])["z"]).all()
