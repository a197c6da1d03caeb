"""The node's parameters: one table with defaults, descriptions and ranges, read into a dataclass.

Declared read-only: the model, topics and QoS are fixed at start-up, so a change needs a restart.
config/semdepth.yaml documents the same parameters for users.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from semdepth_ros.engine.options import BACKENDS, PRECISIONS, EngineOptions
from semdepth_ros.image_size import MAX_INPUT_PIXELS
from semdepth_ros.outputs import SWITCH_DEFAULTS, OutputSettings
from semdepth_ros.ros.qos import RELIABILITY
from semdepth_ros.scale import SCALE_MODES

DEVICES = ("auto", "cpu", "cuda")
OUTPUT_RESOLUTIONS = ("network", "input")


@dataclasses.dataclass(frozen=True)
class Spec:
    default: Any
    description: str
    limits: tuple[float, float] | None = None     # inclusive range for numbers
    choices: tuple[str, ...] | None = None


SPECS: dict[str, Spec] = {
    "checkpoint": Spec("", "Checkpoint file (.pt from `semdepth train`/`semdepth export`); empty = bundled "
                           "default model or $SEMDEPTH_DEFAULT_MODEL."),
    "device": Spec("auto", "Inference device: auto (CUDA when available), cpu, cuda or cuda:N.",
                   choices=DEVICES),
    "backend": Spec("auto", "Network engine: auto (torch on CUDA; on the CPU openvino, else onnxruntime when installed), torch, "
                            "onnxruntime, openvino (CPU).", choices=BACKENDS),
    "precision": Spec("fp32", "torch backend: fp32, fp16 (CUDA only) or bf16.", choices=PRECISIONS),
    "channels_last": Spec(True, "torch backend: NHWC memory format (faster convolutions)."),
    "cuda_graph": Spec(True, "torch backend on CUDA: replay the network and every stage as CUDA graphs."),
    "output_resolution": Spec("network", "Resolution of all outputs: network (the checkpoint's input size, "
                                         "fastest) or input (the camera image size).",
                              choices=OUTPUT_RESOLUTIONS),
    "scale_mode": Spec("checkpoint", "Metric scale: checkpoint (its scale factor), fixed (fixed_scale), "
                                     "ground_plane (from camera_height), none (raw network depth).",
                       choices=SCALE_MODES),
    "camera_height": Spec(1.65, "Camera height above the ground in metres (scale_mode ground_plane).",
                          (0.01, 100.0)),
    "fixed_scale": Spec(1.0, "Depth multiplier for scale_mode fixed.", (1e-6, 1e6)),
    "max_point_range": Spec(OutputSettings.max_point_range,
                            "Depth farther than this (metres along z) is NaN in the depth image and the cloud; so "
                            "is depth at the network's cap (max_depth x scale: saturated, e.g. sky).", (0.1, 10000.0)),
    "cloud_decimation": Spec(OutputSettings.decimation, "Keep every n-th pixel in both directions; >1 publishes "
                                                        "an unorganised cloud without invalid points.", (1, 64)),
    "publish_depth": Spec(SWITCH_DEFAULTS["publish_depth"], "Publish depth (32FC1 metres) and depth/camera_info."),
    "publish_mask": Spec(SWITCH_DEFAULTS["publish_mask"], "Publish semantic/mask (mono8, 255 = foreground)."),
    "publish_overlay": Spec(SWITCH_DEFAULTS["publish_overlay"],
                            "Publish semantic/overlay (rgb8 image with the foreground tinted)."),
    "publish_colorized": Spec(SWITCH_DEFAULTS["publish_colorized"],
                              "Publish depth/colorized (rgb8 colour-mapped inverse depth)."),
    "publish_points": Spec(SWITCH_DEFAULTS["publish_points"],
                           "Publish points (PointCloud2 x, y, z, rgb, label); needs intrinsics."),
    "use_compressed": Spec(False, "Subscribe to image/compressed (sensor_msgs/CompressedImage, jpeg or png) "
                                  "instead of image."),
    "max_input_pixels": Spec(MAX_INPUT_PIXELS, "Largest input image in pixels (width x height, 4096x3072 by "
                                               "default); larger ones are refused before decoding (a PNG of "
                                               "a few hundred KB can claim gigapixels).", (1, 1 << 30)),
    "input_reliability": Spec("best_effort", "QoS reliability of the image and camera_info subscriptions: "
                                             "best_effort (matches every publisher) or reliable (lost fragments "
                                             "of large frames are resent; only reliable publishers match).",
                              choices=tuple(RELIABILITY)),
    "silent_input_timeout": Spec(5.0, "Seconds an image publisher may be matched without a frame arriving "
                                      "before the node logs the likely causes (once per new publisher).",
                                 (0.5, 3600.0)),
    "rescale_mismatched_camera_info": Spec(False, "Use a camera_info whose aspect ratio differs from the image's "
                                                  "by rescaling each axis (false: publish no cloud and no "
                                                  "depth/camera_info until they match)."),
    "fx": Spec(0.0, "Fallback focal length x in input-image pixels, used while no camera_info arrives "
                    "(0 = no fallback).", (0.0, 1e6)),
    "fy": Spec(0.0, "Fallback focal length y in input-image pixels (0 = no fallback).", (0.0, 1e6)),
    "cx": Spec(0.0, "Fallback principal point x in input-image pixels (0 = image centre).", (0.0, 1e6)),
    "cy": Spec(0.0, "Fallback principal point y in input-image pixels (0 = image centre).", (0.0, 1e6)),
    "output_reliability": Spec("reliable", "QoS reliability of all outputs: reliable (rviz, ros2 bag) or "
                                           "best_effort.", choices=tuple(RELIABILITY)),
    "output_depth": Spec(1, "QoS history depth of all outputs (keep last N).", (1, 100)),
    "stats_period": Spec(5.0, "Seconds between statistics log lines and /diagnostics messages.",
                         (0.1, 3600.0)),
}


@dataclasses.dataclass(frozen=True)
class NodeParams:
    checkpoint: str
    device: str
    backend: str
    precision: str
    channels_last: bool
    cuda_graph: bool
    output_resolution: str
    scale_mode: str
    camera_height: float
    fixed_scale: float
    max_point_range: float
    cloud_decimation: int
    publish_depth: bool
    publish_mask: bool
    publish_overlay: bool
    publish_colorized: bool
    publish_points: bool
    use_compressed: bool
    max_input_pixels: int
    input_reliability: str
    silent_input_timeout: float
    rescale_mismatched_camera_info: bool
    fx: float
    fy: float
    cx: float
    cy: float
    output_reliability: str
    output_depth: int
    stats_period: float


def _descriptor(name: str, spec: Spec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(name=name, description=spec.description, read_only=True)
    if spec.choices:
        descriptor.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.limits and isinstance(spec.default, float):
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.limits[0]), to_value=float(spec.limits[1]), step=0.0)]
    elif spec.limits:
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.limits[0]), to_value=int(spec.limits[1]), step=1)]
    return descriptor


def declare_and_read(node: Node) -> NodeParams:
    """Declare every parameter (rclpy rejects out-of-range values) and check the string choices."""
    values = {name: node.declare_parameter(name, spec.default, _descriptor(name, spec)).value
              for name, spec in SPECS.items()}
    for name, spec in SPECS.items():
        value = values[name]
        cuda_index = name == "device" and value.startswith("cuda:")
        if spec.choices and value not in spec.choices and not cuda_index:
            raise ValueError(f"parameter {name} = '{value}' is not one of: {', '.join(spec.choices)}")
    return NodeParams(**values)


def engine_options(params: NodeParams) -> EngineOptions:
    return EngineOptions(backend=params.backend, precision=params.precision, channels_last=params.channels_last,
                         cuda_graph=params.cuda_graph)
