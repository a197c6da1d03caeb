"""`depth_node --help`: usage, parameters, topics and examples, printed without starting ROS.

Everything is read from the parameter table (`ros/params.py`) and the outputs table
(`semdepth_ros.outputs`), so the help cannot drift from what the node declares.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence

from semdepth_ros.outputs import OUTPUTS
from semdepth_ros.ros.params import SPECS, Spec

HELP_FLAGS = ("-h", "--help")
INPUTS = (("image", "sensor_msgs/msg/Image", "camera image (rgb8, bgr8, rgba8, bgra8, mono8)"),
          ("image/compressed", "sensor_msgs/msg/CompressedImage", "instead of image when use_compressed: jpeg/png"),
          ("camera_info", "sensor_msgs/msg/CameraInfo", "intrinsics of the image (latest kept)"))
EXAMPLES = """\
  depth_node --ros-args -p checkpoint:=/models/model.pt -r image:=/camera/image_raw \\
      -r camera_info:=/camera/camera_info
  depth_node --ros-args --params-file config/semdepth.yaml -r __ns:=/semdepth -p device:=cuda
  ros2 launch semdepth_ros depth.launch.py image:=/camera/image_raw checkpoint:=/models/model.pt"""


def wants_help(argv: Sequence[str]) -> bool:
    """True for -h/--help before any --ros-args (what follows --ros-args belongs to ROS)."""
    own = list(argv)[:list(argv).index("--ros-args")] if "--ros-args" in argv else list(argv)
    return any(flag in own for flag in HELP_FLAGS)


def _default(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"'{value}'" if isinstance(value, str) else str(value)


def _constraint(spec: Spec) -> str:
    if spec.choices:
        return "one of " + ", ".join(spec.choices)
    if spec.limits:
        low, high = spec.limits
        return f"range [{low}, {high}]" if isinstance(spec.default, int) else f"range [{low:g}, {high:g}]"
    return ""


def help_text() -> str:
    wrap = textwrap.TextWrapper(width=100, initial_indent=" " * 6, subsequent_indent=" " * 6)
    lines = ["usage: depth_node [-h] [--ros-args (-p NAME:=VALUE | --params-file FILE | -r FROM:=TO) ...]", "",
             "Monocular depth, foreground mask, overlay and point cloud from one camera (semdepth_ros).", "",
             "Parameters (read once at start-up; `-p name:=value` or a --params-file; see config/semdepth.yaml):"]
    for name, spec in SPECS.items():
        constraint = _constraint(spec)
        lines.append(f"  {name} (default {_default(spec.default)}{'; ' + constraint if constraint else ''})")
        lines += wrap.wrap(spec.description)
    lines += ["", "Subscribed topics (relative: remap with -r name:=/your/topic):"]
    lines += [f"  {topic:<20}{kind:<37}{note}" for topic, kind, note in INPUTS]
    lines += ["", "Published topics (relative to the node's namespace, -r __ns:=/ns):"]
    lines += [f"  {out.topic:<20}{out.msgtype:<37}(parameter {out.switch})" for out in OUTPUTS.values()]
    lines += [f"  {'/diagnostics':<20}{'diagnostic_msgs/msg/DiagnosticArray':<37}counters, fps, latency", "",
              "Large images and clouds between processes need Fast DDS's shared-memory profile in the process",
              "that SENDS them: export FASTDDS_DEFAULT_PROFILES_FILE=<share>/semdepth_ros/config/fastdds_shm.xml",
              "(README, 'DDS set-up').", "", "Examples:", EXAMPLES]
    return "\n".join(lines)
