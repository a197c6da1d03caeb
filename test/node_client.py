"""The test side of the depth node over DDS: an rclpy client that publishes camera frames to a node
running in its own process and collects its outputs and /diagnostics (used by test_node.py and
test_bad_input.py).

Import it after `pytest.importorskip("rclpy")`.
"""
from __future__ import annotations

import array
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from semdepth_ros import codec
from semdepth_ros.outputs import OUTPUTS as OUTPUT_TABLE
from semdepth_ros.ros import messages
from semdepth_ros.ros.node_process import NodeProcess

REPO = Path(__file__).resolve().parents[1]
H, W = 64, 192                                   # the tiny checkpoint's input size
K = np.array([[120.0, 0.0, 95.5], [0.0, 118.0, 31.5], [0.0, 0.0, 1.0]])
FRAME = "camera_optical_frame"
OUTPUTS = {out.topic: messages.message_class(out.msgtype) for out in OUTPUT_TABLE.values()}  # topic -> type
NO_CLOUD = frozenset(OUTPUTS) - {"depth/camera_info", "points"}
TIMEOUT = 20.0
_stamps = itertools.count(1)


def next_header() -> Header:
    return Header(stamp=Time(sec=next(_stamps), nanosec=123), frame_id=FRAME)


def key(header: Header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def make_image(height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 8, width // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)  # blocks survive jpeg well


class Client:
    """Test-side rclpy node: input publishers for one node under test, output and diagnostics readers."""

    def __init__(self, context: Context, namespace: str, image_topic: str, image_type: type,
                 info_topic: str) -> None:
        self.node = rclpy.create_node(f"client_{namespace.strip('/')}", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.namespace = namespace
        self.image_pub = self.node.create_publisher(image_type, image_topic, 10)
        self.info_pub = self.node.create_publisher(CameraInfo, info_topic, 10)
        self.received: dict[tuple[str, tuple[int, int]], tuple[object, float]] = {}
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_stamp = 0.0
        self._subs: list = []
        self.subscribe_outputs()
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def subscribe_outputs(self) -> None:
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for topic, kind in OUTPUTS.items():
            self._subs.append(self.node.create_subscription(
                kind, f"{self.namespace}/{topic}", self._store(topic), qos))

    def unsubscribe_outputs(self) -> None:
        for sub in self._subs:
            self.node.destroy_subscription(sub)
        self._subs.clear()

    def _store(self, topic: str) -> Callable:
        def callback(msg) -> None:
            self.received[(topic, key(msg.header))] = (msg, time.monotonic())
        return callback

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == f"{self.namespace}/depth_node: frames":
                self.diagnostics = {kv.key: kv.value for kv in status.values}
                self.diagnostics_stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    def spin_until(self, done: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return done()

    def outputs(self, header: Header) -> dict[str, object]:
        return {topic: msg for (topic, stamp), (msg, _) in self.received.items() if stamp == key(header)}

    def send(self, header: Header, image, camera_info: np.ndarray | None = K,
             info_size: tuple[int, int] | None = None) -> None:
        """camera_info first, then the image. The camera_info describes ``info_size`` (width, height),
        by default the raw image's own size, as drivers send it (a compressed image needs it given)."""
        if camera_info is not None:
            width, height = info_size or (image.width, image.height)
            fields = codec.camera_info_fields(camera_info, width, height)
            self.info_pub.publish(messages.camera_info_msg(header, fields))
        self.image_pub.publish(image)

    def exchange(self, image, header: Header, expect: frozenset[str] = frozenset(OUTPUTS),
                 **send_args) -> dict[str, object]:
        """Send one frame (again after a pause if it seems lost) and wait for the expected outputs."""
        self.spin_until(lambda: self.image_pub.get_subscription_count() > 0)    # sent before a match = lost
        for _ in range(3):
            self.send(header, image, **send_args)
            if self.spin_until(lambda: expect <= set(self.outputs(header)), TIMEOUT / 3):
                self.spin_until(lambda: False, 0.1)          # let straggling extra outputs arrive
                return self.outputs(header)
        pytest.fail(f"no {sorted(expect - set(self.outputs(header)))} for stamp {key(header)}")

    def counters(self, wait_for: Callable[[dict[str, int]], bool] = lambda c: True,
                 timeout: float = TIMEOUT) -> dict[str, int]:
        """Counters from a /diagnostics message sent after this call that `wait_for` accepts."""
        called = time.time()      # the node stamps diagnostics with the same (system) clock

        def parsed() -> dict[str, int]:
            return {k: int(v) for k, v in self.diagnostics.items() if v.isdigit()}
        fresh = lambda: self.diagnostics_stamp > called and wait_for(parsed())  # noqa: E731
        assert self.spin_until(fresh, timeout), self.diagnostics
        return parsed()


def raw_image(header: Header, rgb: np.ndarray, encoding: str = "rgb8") -> Image:
    return messages.image_msg(header, codec.rgb_to_image_fields(rgb, encoding))


def compressed_image(header: Header, rgb: np.ndarray, ext: str = ".png") -> CompressedImage:
    """As image_transport's compressed publisher writes it (bgr8 inside, format names the codec)."""
    ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return compressed_msg(header, f"rgb8; {'jpeg' if ext == '.jpg' else 'png'} compressed bgr8", data.tobytes())


def compressed_msg(header: Header, fmt: str, data: bytes) -> CompressedImage:
    msg = CompressedImage(header=header, format=fmt)
    msg.data = array.array("B", data)
    return msg


def write_yaml(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump({"/**/depth_node": {"ros__parameters": params}}))
    return path


@pytest.fixture(scope="module")
def context():
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def start(tmp: Path, name: str, ros_args: list[str]) -> NodeProcess:
    node = NodeProcess(ros_args, tmp / f"{name}.log")
    if not node.wait_for_log("ready:", 120.0):
        node.stop()
        pytest.fail(f"node {name} did not start:\n{node.log_text()}")
    return node
