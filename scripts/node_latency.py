#!/usr/bin/env python3
"""End-to-end latency and throughput of the depth node over DDS, as a camera would see it.

Starts the node in its own process (a random-init R18 192x640 checkpoint unless --checkpoint is given),
publishes --frames images with camera_info at --rate Hz, and measures, per output, the time from the
image's header stamp to its arrival here, plus the output rate. A rate above what the node sustains
shows its maximum fps (older frames are dropped by design; latency stays bounded).

  python scripts/node_latency.py --frames 100 --rate 10
  python scripts/node_latency.py --checkpoint model.pt --input-size 375 1242 --device cuda
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semdepth_ros import codec  # noqa: E402
from semdepth_ros.ros import messages  # noqa: E402
from semdepth_ros.ros.fastdds import mirror_profiles_variable  # noqa: E402
from semdepth_ros.ros.node_process import NodeProcess  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("depth", "points")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint file (default: random-init R18 at 192x640)")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="publish rate in Hz")
    parser.add_argument("--input-size", type=int, nargs=2, default=(192, 640), metavar=("H", "W"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output-resolution", default="network", choices=("network", "input"))
    return parser.parse_args()


def local_environment() -> None:
    """DDS on this machine only, a private domain, the shipped shared-memory profile."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="semdepth-latency-log-"))
    if not any(os.environ.get(n) for n in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")):
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_shm.xml")
    mirror_profiles_variable()


def random_checkpoint(folder: Path) -> Path:
    import torch

    from semdepth_ros.checkpoint import CheckpointMeta, save_checkpoint
    from semdepth_ros.model import ModelConfig, SemDepthNet

    torch.manual_seed(0)
    config = ModelConfig(num_layers=18)
    return save_checkpoint(folder / "r18_192x640.pt", SemDepthNet(config),
                           CheckpointMeta(model_config=config, input_height=192, input_width=640))


def summary(name: str, latencies: list[float], arrivals: list[float], sent: int) -> str:
    if not latencies:
        return f"{name:>6}: nothing received"
    ms = np.asarray(latencies) * 1e3
    fps = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else float("nan")
    return (f"{name:>6}: {len(latencies)}/{sent} frames answered, latency p50 {np.percentile(ms, 50):.1f} ms "
            f"p90 {np.percentile(ms, 90):.1f} ms max {ms.max():.1f} ms, {fps:.1f} fps")


def measure(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    rclpy.init()
    node = rclpy.create_node("latency_probe")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    image_pub = node.create_publisher(Image, "/latency/image", 10)
    info_pub = node.create_publisher(CameraInfo, "/latency/camera_info", 10)
    arrivals: dict[str, dict[float, float]] = {name: {} for name in OUTPUTS}

    def record(name: str):
        def callback(msg) -> None:
            arrivals[name][messages.stamp_seconds(msg.header.stamp)] = time.time()
        return callback

    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Image, "/latency/out/depth", record("depth"), qos)
    node.create_subscription(PointCloud2, "/latency/out/points", record("points"), qos)

    height, width = args.input_size
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    K = np.array([[0.58 * width, 0, width / 2], [0, 1.92 * height, height / 2], [0, 0, 1]])
    image_fields, info_fields = codec.rgb_to_image_fields(rgb), codec.camera_info_fields(K, width, height)
    publish = partial(messages.publish_frame, image_pub, info_pub, image_fields, info_fields)  # -> stamp

    def spin_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=max(0.0, min(0.01, end - time.monotonic())))

    deadline = time.monotonic() + 120
    while not all(arrivals.values()) and time.monotonic() < deadline:  # discovery and warm-up
        publish()
        spin_for(1.0)
    if not all(arrivals.values()):
        print("the node did not answer within 120 s", file=sys.stderr)
        return 1
    spin_for(1.0)
    for values in arrivals.values():
        values.clear()
    stamps, period, start = [], 1.0 / args.rate, time.monotonic()
    for i in range(args.frames):
        spin_for(start + i * period - time.monotonic())
        stamps.append(publish())
    spin_for(3.0)

    print(f"{args.frames} frames {height}x{width} at {args.rate:g} Hz, outputs at {args.output_resolution} "
          f"resolution, device {args.device}")
    for name in OUTPUTS:
        answered = [s for s in stamps if s in arrivals[name]]
        latencies = [arrivals[name][s] - s for s in answered]
        print(summary(name, latencies, sorted(arrivals[name][s] for s in answered), len(stamps)))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def main() -> int:
    args = parse_args()
    local_environment()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or str(random_checkpoint(Path(tmp)))
        node = NodeProcess(["-p", f"checkpoint:={checkpoint}", "-p", f"device:={args.device}",
                            "-p", f"output_resolution:={args.output_resolution}", "-p", "stats_period:=5.0",
                            "-r", "__ns:=/latency/out", "-r", "image:=/latency/image",
                            "-r", "camera_info:=/latency/camera_info"], Path(tmp) / "node.log")
        try:
            if not node.wait_for_log("ready:", 180):
                print(node.log_text(), file=sys.stderr)
                return 1
            return measure(args)
        finally:
            node.stop()
            stats = [line for line in node.log_text().splitlines() if "received=" in line]
            if stats:
                print("node:", stats[-1].split("]: ")[-1])


if __name__ == "__main__":
    sys.exit(main())
