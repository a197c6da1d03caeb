"""The rclpy side of `eval-bag --live` and `semdepth demo`: send a bag's camera to the node, hear its outputs.

Camera messages go out as the bag stored them (raw CDR); the node's outputs come back raw (as a bag
stores them) and go to a callback with their arrival time. Matching answers to frames, evaluating and
recording them is `semdepth_ros.bag.live`'s job.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from semdepth_ros.ros.fastdds import mirror_profiles_variable
from semdepth_ros.ros.messages import message_class

# (topic relative to the namespace, raw CDR bytes, arrival time from time.monotonic())
OutputCallback = Callable[[str, bytes, float], None]


class ReplayLink:
    """Publishers for the camera, raw subscriptions to the node's outputs, spun in a background thread."""

    def __init__(self, namespace: str, compressed: bool, outputs: Mapping[str, str],
                 on_output: OutputCallback) -> None:
        """``outputs``: topic relative to ``namespace`` -> ROS type name."""
        mirror_profiles_variable()
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("semdepth_eval_bag", context=self.context)
        ns = namespace.rstrip("/")
        camera_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                reliability=ReliabilityPolicy.BEST_EFFORT)  # a camera driver's sensor QoS
        output_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
        image_kind, image_topic = (CompressedImage, "image/compressed") if compressed else (Image, "image")
        self.image_pub = self.node.create_publisher(image_kind, f"{ns}/{image_topic}", camera_qos)
        self.info_pub = self.node.create_publisher(CameraInfo, f"{ns}/camera_info", camera_qos)
        self.depth_topic = f"{ns}/depth"
        for topic, msgtype in outputs.items():
            self.node.create_subscription(message_class(msgtype), f"{ns}/{topic}", self._callback(topic, on_output),
                                          output_qos, raw=True)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, name="eval_bag_dds", daemon=True)
        self._thread.start()

    @staticmethod
    def _callback(topic: str, on_output: OutputCallback) -> Callable[[bytes], None]:
        def received(raw: bytes) -> None:
            on_output(topic, raw, time.monotonic())
        return received

    def publish(self, info_raw: bytes, image_raw: bytes) -> float:
        """Camera_info then image (the node pairs an image with the latest camera_info); send time."""
        self.info_pub.publish(bytes(info_raw))
        sent = time.monotonic()
        self.image_pub.publish(bytes(image_raw))
        return sent

    def close(self) -> None:
        self.executor.shutdown()
        self._thread.join(timeout=5)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
