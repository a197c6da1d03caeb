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
class CloudSettings:
    """How the cloud is cut from the depth (the node's max_point_range and cloud_decimation)."""

    max_point_range: float = 80.0    # metres along z; farther points are NaN
    decimation: int = 1              # every n-th pixel both ways; > 1 gives an unorganised cloud


def build_outputs(pred: Prediction, rgb: np.ndarray, wanted: Collection[str], camera: Camera | None = None,
                  cloud: CloudSettings = CloudSettings()) -> dict[str, dict[str, Any]]:
    """Message fields of each wanted output of ``pred`` (made from the input image ``rgb``).

    camera_info needs the prediction's intrinsics and passes on ``camera``'s distortion; the cloud
    is the one the engine packed with these settings, else packed here from the prediction's points.
    An output that cannot be made is left out.
    """
    h, w = pred.depth.shape

    @functools.cache
    def image() -> np.ndarray:
        """The input image at the output size (resized once, only when an output needs it)."""
        return rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)

    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "depth": lambda: depth_to_image_fields(pred.depth),
        "camera_info": lambda: _camera_info(pred, camera),
        "mask": lambda: mono8_fields(pred.mask * np.uint8(255)),
        "overlay": lambda: rgb_to_image_fields(overlay_mask(image(), pred.mask)),
        "colorized": lambda: rgb_to_image_fields(colorize_depth(pred.depth)),
        "points": lambda: records_to_cloud_fields(
            pred.cloud.records if packed else pack_cloud(pred.depth, pred.points, image(), pred.mask, cloud),
            organised=cloud.decimation == 1),
    }
    packed = pred.cloud is not None and pred.cloud.settings == cloud
    possible = {"camera_info": pred.intrinsics is not None, "points": packed or pred.points is not None}
    return {name: build() for name, build in builders.items() if name in wanted and possible.get(name, True)}


def _camera_info(pred: Prediction, camera: Camera | None) -> dict[str, Any]:
    h, w = pred.depth.shape
    if camera is None:
        return camera_info_fields(pred.intrinsics, w, h)
    return camera_info_fields(pred.intrinsics, w, h, camera.distortion, camera.distortion_model)


def pack_cloud(depth: np.ndarray, points: np.ndarray, image: np.ndarray, mask: np.ndarray,
               settings: CloudSettings) -> np.ndarray:
    """Point records (`codec.cloud_records`) of every n-th pixel; points beyond max_point_range (or of
    invalid depth) are NaN (an unorganised cloud drops them). The reference the GPU packing
    (`engine.device_stages.pack_cloud`) is tested against."""
    step = settings.decimation
    depth = depth[::step, ::step]
    valid = np.isfinite(depth) & (depth <= settings.max_point_range)
    points = np.where(valid[..., None], points[::step, ::step], np.float32(np.nan))
    return cloud_records(points, image[::step, ::step], mask[::step, ::step])
