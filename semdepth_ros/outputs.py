"""Every output of one prediction as message fields, and the one table of output topics.

The depth node publishes these fields and `eval-bag --record` stores them, so a recorded bag holds
what a running node publishes for the same frames. Fields are `semdepth_ros.codec` dicts; the node
wraps them into rclpy messages (`ros/messages.py`), the bag tools into rosbags messages
(`bag/io.py`). rclpy- and torch-free.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from semdepth_ros.codec import CAMERA_INFO, IMAGE, POINT_CLOUD, camera_info_fields, cloud_records, \
    depth_to_image_fields, mono8_fields, records_to_cloud_fields, rgb_to_image_fields
from semdepth_ros.visualize import colorize_depth, overlay_mask

if TYPE_CHECKING:
    from semdepth_ros.intrinsics import Camera
    from semdepth_ros.prediction import Prediction


@dataclasses.dataclass(frozen=True)
class Output:
    switch: str        # the node parameter that turns it on
    topic: str         # relative to the node's namespace
    msgtype: str       # ROS message type


OUTPUTS: dict[str, Output] = {
    "depth": Output("publish_depth", "depth", IMAGE),
    "camera_info": Output("publish_depth", "depth/camera_info", CAMERA_INFO),
    "mask": Output("publish_mask", "semantic/mask", IMAGE),
    "overlay": Output("publish_overlay", "semantic/overlay", IMAGE),
    "colorized": Output("publish_colorized", "depth/colorized", IMAGE),
    "points": Output("publish_points", "points", POINT_CLOUD),
}
# The node's defaults for the switches (its parameter table reads them from here).
SWITCH_DEFAULTS: dict[str, bool] = {"publish_depth": True, "publish_mask": True, "publish_overlay": True,
                                    "publish_colorized": False, "publish_points": True}


def enabled(switches: Mapping[str, bool] = SWITCH_DEFAULTS) -> set[str]:
    """Names of the outputs these switches turn on (default: what a node with default parameters publishes)."""
    return {name for name, output in OUTPUTS.items() if switches[output.switch]}


@dataclasses.dataclass(frozen=True)
class OutputSettings:
    """How depth and cloud are cut (the node's max_point_range and cloud_decimation)."""

    max_point_range: float = 80.0    # metres along z; farther depth is NaN in the depth image and the cloud
    decimation: int = 1              # every n-th pixel both ways; > 1 gives an unorganised cloud


# Depth within 1 % of the network's cap is saturated, not measured: with Monodepth2's disparity mapping
# (min_depth 0.1, max_depth 100) it means a sigmoid output below ~1e-5, what the sky and other
# textureless far regions settle at. Publishing it draws a wall at the cap in every cloud.
SATURATION = 0.99


def valid_depth(pred: Prediction, max_point_range: float) -> np.ndarray:
    """Where the prediction's depth is published: finite, short of the network's cap (`SATURATION` x
    `pred.depth_cap`) and within ``max_point_range`` metres. The one rule for depth image and cloud
    (`engine.device_stages.pack_cloud` applies it on the GPU)."""
    depth = pred.depth
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth < SATURATION * pred.depth_cap) & (depth <= max_point_range)


# What evaluators read a published NaN as: the node publishes NaN only beyond range or at the cap, so
# it stands for "far", and the evaluation clamps it to its own cap as it does far offline predictions.
FAR_DEPTH = 1e6


def depth_for_evaluation(published: np.ndarray) -> np.ndarray:
    """A published depth image (NaN where `valid_depth` rejected it) with NaN read as `FAR_DEPTH`."""
    return np.nan_to_num(published, nan=FAR_DEPTH, posinf=FAR_DEPTH)


def build_outputs(pred: Prediction, rgb: np.ndarray, wanted: Collection[str], camera: Camera | None = None,
                  settings: OutputSettings = OutputSettings()) -> dict[str, dict[str, Any]]:
    """Message fields of each wanted output of ``pred`` (made from the input image ``rgb``).

    Depth that `valid_depth` rejects is NaN in the depth image, the colourised depth (black) and the
    cloud. camera_info needs the prediction's intrinsics and passes on ``camera``'s distortion; the
    cloud is the one the engine packed with these settings (`Prediction.cloud`), else packed here
    from the prediction's points. An output that cannot be made is left out.
    """
    h, w = pred.depth.shape

    @functools.cache
    def image() -> np.ndarray:
        """The input image at the output size (resized once, only when an output needs it)."""
        return rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)

    @functools.cache
    def valid() -> np.ndarray:
        return valid_depth(pred, settings.max_point_range)

    @functools.cache
    def depth() -> np.ndarray:
        return np.where(valid(), pred.depth, np.float32(np.nan))

    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "depth": lambda: depth_to_image_fields(depth()),
        "camera_info": lambda: _camera_info(pred, camera),
        "mask": lambda: mono8_fields(pred.mask * np.uint8(255)),
        "overlay": lambda: rgb_to_image_fields(overlay_mask(image(), pred.mask)),
        "colorized": lambda: rgb_to_image_fields(colorize_depth(depth())),
        "points": lambda: records_to_cloud_fields(
            pred.cloud.records if packed else pack_cloud(pred.points, valid(), image(), pred.mask, settings.decimation),
            organised=settings.decimation == 1),
    }
    packed = pred.cloud is not None and pred.cloud.settings == settings
    possible = {"camera_info": pred.intrinsics is not None, "points": packed or pred.points is not None}
    return {name: build() for name, build in builders.items() if name in wanted and possible.get(name, True)}


def _camera_info(pred: Prediction, camera: Camera | None) -> dict[str, Any]:
    h, w = pred.depth.shape
    if camera is None:
        return camera_info_fields(pred.intrinsics, w, h)
    return camera_info_fields(pred.intrinsics, w, h, camera.distortion, camera.distortion_model)


def pack_cloud(points: np.ndarray, valid: np.ndarray, image: np.ndarray, mask: np.ndarray, step: int) -> np.ndarray:
    """Point records (`codec.cloud_records`) of every n-th pixel; points of invalid depth (`valid_depth`)
    are NaN, and an unorganised cloud drops them. The reference of `engine.device_stages.pack_cloud`."""
    points = np.where(valid[::step, ::step, None], points[::step, ::step], np.float32(np.nan))
    return cloud_records(points, image[::step, ::step], mask[::step, ::step])
