"""The semdepth ROS 2 node: camera images in; metric depth, foreground mask, overlay and cloud out.

Threading: subscription callbacks only store the newest frame (FrameSlot); one worker thread runs the
network on it and publishes, so a slow network drops stale frames instead of queueing them. Only
outputs with subscribers are computed, and nothing runs when nobody listens.

Bad input never stops the node: each problem is counted, logged as one line tagged with its kind
(e.g. "[data_size]") at most once per period per kind, and the frame is skipped.

Run: `ros2 run semdepth_ros depth_node --ros-args --params-file config/semdepth.yaml -r image:=/cam/image_raw`
(`depth_node --help` lists the parameters and topics).
"""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
import rclpy
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from semdepth_ros import codec
from semdepth_ros.checkpoint import CheckpointError, describe_architecture
from semdepth_ros.codec import InputError
from semdepth_ros.geometry import intrinsics_matrix
from semdepth_ros.intrinsics import Camera, aspect_mismatch, camera_for_image, camera_info_size
from semdepth_ros.outputs import OUTPUTS, OutputSettings, build_outputs
from semdepth_ros.predictor import Predictor
from semdepth_ros.ros import messages
from semdepth_ros.ros.fastdds import mirror_profiles_variable
from semdepth_ros.ros.frame_slot import FrameSlot
from semdepth_ros.ros.node_help import help_text, wants_help
from semdepth_ros.ros.params import NodeParams, declare_and_read, engine_options
from semdepth_ros.ros.qos import input_qos, output_qos
from semdepth_ros.ros.stats import FrameStats
from semdepth_ros.ros.throttle import ProblemThrottle
from semdepth_ros.scale import scale_policy

NODE_NAME = "depth_node"
PROBLEM_LOG_PERIOD_S = 5.0
INPUT_WATCH_PERIOD_S = 1.0


class DepthNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.params: NodeParams = declare_and_read(self)
        self.predictor = self._load_predictor()
        meta = self.predictor.meta
        self.scale = scale_policy(self.params.scale_mode, meta.scale_factor, self.params.fixed_scale,
                                  self.params.camera_height)
        self.output_settings = OutputSettings(self.params.max_point_range, self.params.cloud_decimation)
        self.stats = FrameStats()
        self._problems = ProblemThrottle(PROBLEM_LOG_PERIOD_S)
        self._camera_info: CameraInfo | None = None
        self._slot: FrameSlot[Image | CompressedImage] = FrameSlot()
        self._errors_reported = 0
        self._aspect_reported: tuple[tuple[int, int], tuple[int, int]] | None = None  # (info size, image size)
        self._publishers_seen = 0
        self._silence_since: tuple[float, int] | None = None  # (when a new publisher appeared, received then)

        out_qos = output_qos(self.params.output_reliability, self.params.output_depth)
        self._pubs = {name: self.create_publisher(messages.message_class(out.msgtype), out.topic, out_qos)
                      for name, out in OUTPUTS.items() if getattr(self.params, out.switch)}
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        image_type, image_topic = ((CompressedImage, "image/compressed") if self.params.use_compressed
                                   else (Image, "image"))
        in_qos = input_qos(self.params.input_reliability)
        self._image_type = image_type
        self._image_sub = self.create_subscription(image_type, image_topic, self._on_image, in_qos)
        self._info_sub = self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, in_qos)
        # Steady clock: statistics keep coming while simulated time is paused (use_sim_time).
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(self.params.stats_period, self._report, clock=steady)
        self.create_timer(INPUT_WATCH_PERIOD_S, self._watch_input, clock=steady)

        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="semdepth_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"ready: {describe_architecture(meta.model_config)} at {meta.input_height}x{meta.input_width} "
            f"on {self.predictor.device} ({self.predictor.engine}) from {self.predictor.checkpoint_path}; "
            f"scale {self.params.scale_mode} (now x{self.scale.current.factor:g} from {self.scale.current.source}; "
            f"checkpoint {meta.describe_scale()}); listening on {self._image_sub.topic_name} and "
            f"{self._info_sub.topic_name} ({self.params.input_reliability})")

    # --- start-up -----------------------------------------------------------------------------
    def _load_predictor(self) -> Predictor:
        predictor = Predictor.load(self.params.checkpoint or None, device=self.params.device,
                                   options=engine_options(self.params))
        # The first call pays for allocations (and graph captures); do it now so the first frame has typical latency.
        blank = np.zeros((predictor.height, predictor.width, 3), np.uint8)
        predictor.predict(blank, with_points=False)
        return predictor

    # --- callbacks (executor thread): store and return --------------------------------------------
    def _on_image(self, msg: Image | CompressedImage) -> None:
        self.stats.count("received")
        if self._slot.put(msg):
            self.stats.count("dropped")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            codec.camera_info_to_K(msg.k)
        except InputError as exc:
            self._problem(exc.kind, f"ignoring camera_info on {self._info_sub.topic_name}: {exc}",
                          counter="camera_info_errors")
            return
        self._camera_info = msg

    # --- worker thread ------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            taken = self._slot.take(timeout=0.1)
            if taken is None:
                continue
            msg, received = taken
            try:
                self._process(msg, received)
            except InputError as exc:
                self._problem(exc.kind, f"skipping frame from {self._image_sub.topic_name}: {exc}")
            except Exception as exc:  # noqa: BLE001 - a failed frame must not stop the node
                self._problem("processing_failed", f"processing failed, frame skipped: {type(exc).__name__}: {exc}")

    def _wanted(self) -> set[str]:
        return {name for name, pub in self._pubs.items() if pub.get_subscription_count() > 0}

    def _process(self, msg: Image | CompressedImage, received: float) -> None:
        """decode -> predict (metric depth, points) -> output fields -> messages, each step once."""
        wanted = self._wanted()
        if not wanted:
            self.stats.count("idle")
            return
        rgb = codec.message_to_rgb(msg, self.params.max_input_pixels)
        camera = self._camera_for(rgb.shape[1], rgb.shape[0], "points" in wanted)
        pred = self.predictor.predict(rgb, None if camera is None else camera.K, self.params.output_resolution,
                                      scale=self.scale, with_points=False,
                                      cloud=self.output_settings if "points" in wanted else None)
        for name, fields in build_outputs(pred, rgb, wanted, camera, self.output_settings).items():
            self._pubs[name].publish(messages.to_message(OUTPUTS[name].msgtype, msg.header, fields))
        self.stats.count("processed")
        self.stats.record_latency(time.monotonic() - received)

    def _camera_for(self, width: int, height: int, for_cloud: bool) -> Camera | None:
        """Intrinsics for this image: latest camera_info (rescaled if it describes another size of the
        same picture), else the fallback parameters, else None (no cloud, no depth/camera_info)."""
        info = self._camera_info
        if info is not None:
            size = camera_info_size(info)
            if not aspect_mismatch(size, width, height):
                self._aspect_reported = None
                return camera_for_image(info, width, height)
            self._report_aspect(size, (width, height))
            return camera_for_image(info, width, height) if self.params.rescale_mismatched_camera_info else None
        p = self.params
        if p.fx > 0 and p.fy > 0:
            cx = p.cx or (width - 1) / 2.0
            cy = p.cy or (height - 1) / 2.0
            return Camera(intrinsics_matrix(p.fx, p.fy, cx, cy))
        if for_cloud:
            self._problem("no_intrinsics", f"no camera_info on {self._info_sub.topic_name} and no fallback "
                          "intrinsics (fx, fy, cx, cy): publishing depth and mask but no point cloud", counter=None)
        return None

    def _report_aspect(self, info_size: tuple[int, int], image_size: tuple[int, int]) -> None:
        """Warn once per mismatch (again only after the sizes matched in between, or changed)."""
        if self._aspect_reported == (info_size, image_size):
            return
        self._aspect_reported = (info_size, image_size)
        (iw, ih), (w, h) = info_size, image_size
        what = (f"[camera_info_aspect] camera_info on {self._info_sub.topic_name} describes {iw}x{ih} images "
                f"(aspect {iw / ih:.3f}) but images on {self._image_sub.topic_name} are {w}x{h} (aspect {w / h:.3f}): "
                f"rescaling would stretch fx by {w / iw:.3f} and fy by {h / ih:.3f}")
        if self.params.rescale_mismatched_camera_info:
            self.get_logger().warning(f"{what}; rescaling anyway (rescale_mismatched_camera_info is true)")
        else:
            self.get_logger().warning(f"{what}; publishing depth and mask without points and depth/camera_info "
                                      "until they match (rescale_mismatched_camera_info: true rescales anyway)")

    # --- the input watch (executor thread) ------------------------------------------------------
    def _watch_input(self) -> None:
        """One warning when a new image publisher appears but no frame arrives within
        silent_input_timeout: DDS drops such frames without a word on either side."""
        topic = self._image_sub.topic_name
        publishers = self.count_publishers(topic)
        received = self.stats.total("received")
        now = time.monotonic()
        if publishers > self._publishers_seen:
            self._silence_since = (now, received)
        self._publishers_seen = publishers
        if self._silence_since is None:
            return
        since, received_then = self._silence_since
        if received > received_then or publishers == 0:
            self._silence_since = None
        elif now - since >= self.params.silent_input_timeout:
            self._silence_since = None
            self.get_logger().warning(f"[silent_input] {self._silent_input_text(topic, now - since)}")

    def _silent_input_text(self, topic: str, waited: float) -> str:
        infos = self.get_publishers_info_by_topic(topic)
        names = ", ".join(f"{i.node_namespace.rstrip('/')}/{i.node_name} ({_reliability(i.qos_profile)})"
                          for i in infos) or "?"
        causes = []
        expected = f"{self._image_type.__module__.split('.')[0]}/msg/{self._image_type.__name__}"
        wrong_type = sorted({i.topic_type for i in infos if i.topic_type != expected})
        if wrong_type:
            causes.append(f"the publisher sends {', '.join(wrong_type)}, the node expects {expected} "
                          "(use_compressed?)")
        if self.params.input_reliability == "reliable" and any(
                i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos):
            causes.append("QoS: the publisher is best_effort and input_reliability is reliable, so they do not "
                          "match (set input_reliability: best_effort)")
        causes.append("the frames are too large for the publisher's DDS transport: a multi-megabyte image goes out "
                      "in ~64 KB fragments and a best-effort reader loses the whole frame when one fragment is lost; "
                      "give the PUBLISHING process the shared-memory profile (FASTDDS_DEFAULT_PROFILES_FILE / "
                      "FASTRTPS_DEFAULT_PROFILES_FILE = config/fastdds_shm.xml), or publish reliable and set "
                      "input_reliability: reliable")
        return (f"{len(infos)} publisher{'s' if len(infos) != 1 else ''} on {topic}: {names}, but no frame arrived "
                f"in {waited:.0f} s; likely: " + "; ".join(f"({n}) {c}" for n, c in enumerate(causes, 1)))

    # --- reporting ----------------------------------------------------------------------------
    def _problem(self, kind: str, text: str, counter: str | None = "errors") -> None:
        """Count a problem (None: a warning, not counted) and log it, tagged with its kind, unless that
        kind was logged within the period."""
        if counter:
            self.stats.count(counter)
        held = self._problems.due(kind)
        if held is None:
            return
        line = f"[{kind}] {text}" + (f" ({held} more since last logged)" if held else "")
        # Separate call sites: rclpy refuses one call site logging at two severities.
        if counter:
            self.get_logger().error(line)
        else:
            self.get_logger().warning(line)

    def _report(self) -> None:
        report = self.stats.report()
        self.get_logger().info(report.line())
        errors = report.counters["errors"] + report.counters["camera_info_errors"]
        new_errors, self._errors_reported = errors - self._errors_reported, errors
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if new_errors else DiagnosticStatus.OK,
            name=f"{self.get_fully_qualified_name()}: frames", hardware_id=str(self.predictor.device),
            message=f"{new_errors} bad inputs in the last period" if new_errors else "running")
        values = {**report.counters, "fps": f"{report.fps:.2f}",
                  "latency_p50_ms": f"{report.latency_p50_ms:.1f}",
                  "latency_p90_ms": f"{report.latency_p90_ms:.1f}",
                  "scale_mode": self.params.scale_mode, "scale": f"{self.scale.current.factor:.4f}",
                  "scale_source": self.scale.current.source, "checkpoint_scale": self.predictor.meta.describe_scale(),
                  "checkpoint": str(self.predictor.checkpoint_path)}
        status.values = [KeyValue(key=key, value=str(value)) for key, value in values.items()]
        self._diagnostics.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                  status=[status]))

    def destroy_node(self) -> None:
        self._stop.set()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def _reliability(qos) -> str:
    return {ReliabilityPolicy.RELIABLE: "reliable", ReliabilityPolicy.BEST_EFFORT: "best_effort"}.get(
        qos.reliability, str(qos.reliability))


def main(args: list[str] | None = None) -> int:
    """Console entry point `depth_node`; `--help` prints the parameters and topics without starting ROS;
    exits 1 with one log line when start-up fails."""
    if wants_help(sys.argv[1:] if args is None else args):
        print(help_text())
        return 0
    mirror_profiles_variable()
    rclpy.init(args=args)
    try:
        node = DepthNode()
    except (CheckpointError, ParameterException, ValueError, RuntimeError) as exc:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
