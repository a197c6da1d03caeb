#!/usr/bin/env python3
"""Soak the depth node: N minutes at R Hz with a camera-sized image, watching memory, rate and latency.

Starts the node in its own process (the bundled model unless --checkpoint is given), publishes an image
(--image-size, default KITTI's 375x1242, rgb8) with camera_info at --rate Hz over DDS, subscribes to every
output a node with default parameters publishes (so it computes all of them), and samples the node's
resident memory every second. Prints:
  - RSS slope in MB/min (least-squares line; over the whole run and after the first window, which
    includes the allocator's warm-up),
  - the output rate and answered fraction per window,
  - latency percentiles p50/p90/p99 (image stamp = publish time -> depth arrival),
and writes soak.png (RSS and latency over time) and soak.json to --out.

  python scripts/soak_node.py --minutes 30 --rate 10
  python scripts/soak_node.py --minutes 3 --rate 10 --window 30 --out /tmp/soak
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semdepth_ros import codec  # noqa: E402
from semdepth_ros.demo.ros_env import apply_ros_defaults  # noqa: E402
from semdepth_ros.outputs import OUTPUTS, enabled  # noqa: E402
from semdepth_ros.ros.node_process import NodeProcess  # noqa: E402

NAMESPACE = "/soak"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="soak duration (default %(default)s)")
    parser.add_argument("--rate", type=float, default=10.0, help="camera rate in Hz (default %(default)s)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint file (default: the bundled model)")
    parser.add_argument("--image-size", type=int, nargs=2, default=(375, 1242), metavar=("H", "W"),
                        help="camera image size (default 375 1242, KITTI)")
    parser.add_argument("--device", default="cpu", help="the node's device (default %(default)s)")
    parser.add_argument("--window", type=float, default=60.0,
                        help="seconds per reported window (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("outputs/soak"),
                        help="folder for soak.png, soak.json and node.log (default %(default)s)")
    return parser.parse_args()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def slope_mb_per_min(times_s: np.ndarray, rss: np.ndarray) -> float:
    """Least-squares slope of RSS against time, in MB per minute (NaN with fewer than 2 samples)."""
    if len(times_s) < 2:
        return float("nan")
    return float(np.polyfit(times_s / 60.0, rss, 1)[0])


def soak(args: argparse.Namespace, node: NodeProcess) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    from semdepth_ros.ros import messages

    rclpy.init()
    client = rclpy.create_node("soak_camera")
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    camera_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    image_pub = client.create_publisher(Image, f"{NAMESPACE}/camera/image_raw", camera_qos)
    info_pub = client.create_publisher(CameraInfo, f"{NAMESPACE}/camera/camera_info", camera_qos)
    arrivals: dict[float, float] = {}   # image stamp -> depth arrival (both time.time())

    def on_depth(msg) -> None:
        arrivals[messages.stamp_seconds(msg.header.stamp)] = time.time()

    output_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
    for name in enabled():
        callback = on_depth if name == "depth" else (lambda msg: None)
        client.create_subscription(messages.message_class(OUTPUTS[name].msgtype),
                                   f"{NAMESPACE}/{OUTPUTS[name].topic}", callback, output_qos)

    height, width = args.image_size
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    rgb = np.ascontiguousarray(np.kron(small, np.ones((8, 8, 1), np.uint8))[:height, :width])
    K = np.array([[0.58 * width, 0, (width - 1) / 2], [0, 1.92 * height, (height - 1) / 2], [0, 0, 1]])
    image_fields, info_fields = codec.rgb_to_image_fields(rgb), codec.camera_info_fields(K, width, height)
    publish = partial(messages.publish_frame, image_pub, info_pub, image_fields, info_fields)  # -> stamp

    def spin_until(deadline: float) -> None:
        while (left := deadline - time.monotonic()) > 0:
            executor.spin_once(timeout_sec=min(left, 0.01))

    startup = time.monotonic() + 180
    while not arrivals and time.monotonic() < startup:       # discovery and the first answer
        publish()
        spin_until(time.monotonic() + 1.0)
    if not arrivals:
        raise RuntimeError(f"the node did not answer within 180 s; see {node.log_path}")
    spin_until(time.monotonic() + 1.0)
    arrivals.clear()

    sent: list[float] = []
    rss: list[tuple[float, float]] = []
    start, period = time.monotonic(), 1.0 / args.rate
    total = int(args.minutes * 60 * args.rate)
    next_rss = start
    for i in tqdm(range(total), desc="soak", unit="frame", mininterval=5.0):
        spin_until(start + i * period)
        sent.append(publish())
        if time.monotonic() >= next_rss:
            if not node.alive():
                raise RuntimeError(f"the node exited with code {node.process.returncode}; see {node.log_path}")
            rss.append((time.monotonic() - start, rss_mb(node.process.pid)))
            next_rss += 1.0
    spin_until(time.monotonic() + 3.0)
    executor.shutdown()
    client.destroy_node()
    rclpy.try_shutdown()
    return summarise(args, sent, arrivals, np.array(rss))


def summarise(args: argparse.Namespace, sent: list[float], arrivals: dict[float, float], rss: np.ndarray) -> dict:
    t0 = sent[0]
    answered = np.array([s for s in sent if s in arrivals])
    latency_ms = np.array([(arrivals[s] - s) * 1e3 for s in answered])
    arrived = np.array([arrivals[s] - t0 for s in answered])
    windows = []
    for lo in np.arange(0.0, sent[-1] - t0 + 1e-9, args.window):
        in_window = (arrived >= lo) & (arrived < lo + args.window)
        n_sent = sum(lo <= s - t0 < lo + args.window for s in sent)
        windows.append({"start_s": float(lo), "sent": int(n_sent), "answered": int(in_window.sum()),
                        "output_hz": float(in_window.sum() / args.window),
                        "latency_p50_ms": float(np.percentile(latency_ms[in_window], 50)) if in_window.any()
                        else float("nan")})
    later = rss[:, 0] >= args.window
    return {
        "minutes": args.minutes, "rate_hz": args.rate, "window_s": args.window, "image": list(args.image_size), "device": args.device,
        "checkpoint": args.checkpoint or "bundled default model", "sent": len(sent), "answered": len(answered),
        "latency_ms": {f"p{q}": float(np.percentile(latency_ms, q)) for q in (50, 90, 99)} | {
            "max": float(latency_ms.max())} if len(latency_ms) else {},
        "rss_mb": {"first": float(rss[0, 1]), "last": float(rss[-1, 1]), "max": float(rss[:, 1].max()),
                   "slope_mb_per_min": slope_mb_per_min(rss[:, 0], rss[:, 1]),
                   "slope_after_first_window_mb_per_min": slope_mb_per_min(rss[later, 0], rss[later, 1])},
        "windows": windows,
        "series": {"rss_t_s": rss[:, 0].tolist(), "rss_mb": rss[:, 1].tolist(),
                   "latency_t_s": (answered - t0).tolist(), "latency_ms": latency_ms.tolist()},
    }


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = report["series"]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    top.plot(np.array(series["rss_t_s"]) / 60, series["rss_mb"], lw=1)
    top.set_ylabel("node RSS (MB)")
    top.set_title(f"depth node soak: {report['minutes']:g} min at {report['rate_hz']:g} Hz, "
                  f"{report['image'][1]}x{report['image'][0]} rgb8; RSS slope "
                  f"{report['rss_mb']['slope_after_first_window_mb_per_min']:+.3f} MB/min after the first window")
    windows = report["windows"]
    edges = [w["start_s"] / 60 for w in windows] + [(windows[-1]["start_s"] + report["window_s"]) / 60]
    middle.step(edges, [w["output_hz"] for w in windows] + [windows[-1]["output_hz"]], where="post",
                label="depth outputs")
    middle.axhline(report["rate_hz"], color="grey", ls="--", lw=1, label="camera rate")
    middle.set_ylabel("output rate per window (Hz)")
    middle.legend(loc="lower right")
    bottom.plot(np.array(series["latency_t_s"]) / 60, series["latency_ms"], ".", ms=2)
    bottom.set_ylabel("latency (ms), publish -> depth")
    bottom.set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def print_report(report: dict) -> None:
    rss, latency = report["rss_mb"], report["latency_ms"]
    print(f"{report['sent']} frames sent, {report['answered']} answered "
          f"({report['answered'] / max(report['sent'], 1):.1%}); checkpoint: {report['checkpoint']}")
    print(f"RSS {rss['first']:.0f} -> {rss['last']:.0f} MB (max {rss['max']:.0f}); slope "
          f"{rss['slope_mb_per_min']:+.3f} MB/min over the run, "
          f"{rss['slope_after_first_window_mb_per_min']:+.3f} MB/min after the first window")
    if latency:
        print(f"latency p50 {latency['p50']:.1f} ms, p90 {latency['p90']:.1f} ms, p99 {latency['p99']:.1f} ms, "
              f"max {latency['max']:.1f} ms")
    print(f"{'window':>10}{'sent':>7}{'answered':>10}{'output Hz':>11}{'p50 ms':>9}")
    for w in report["windows"]:
        print(f"{w['start_s']:>9.0f}s{w['sent']:>7}{w['answered']:>10}{w['output_hz']:>11.2f}{w['latency_p50_ms']:>9.1f}")


def main() -> int:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    for note in apply_ros_defaults(Path(tempfile.mkdtemp(prefix="semdepth-soak-log-"))):
        print("note:", note)
    ros_args = ["-p", f"device:={args.device}", "-r", f"__ns:={NAMESPACE}",
                "-r", f"image:={NAMESPACE}/camera/image_raw", "-r", f"camera_info:={NAMESPACE}/camera/camera_info"]
    if args.checkpoint:
        ros_args += ["-p", f"checkpoint:={args.checkpoint}"]
    node = NodeProcess(ros_args, args.out / "node.log")
    try:
        if not node.wait_for_log("ready:", 180):
            print(node.log_text(), file=sys.stderr)
            return 1
        report = soak(args, node)
    finally:
        node.stop()
    stats = [line.split("]: ")[-1] for line in node.log_text().splitlines() if "received=" in line]
    report["node_stats"] = stats[-1] if stats else None
    (args.out / "soak.json").write_text(json.dumps(report, indent=1))
    plot(report, args.out / "soak.png")
    print_report(report)
    print(f"node: {report['node_stats']}")
    print(f"wrote {args.out / 'soak.png'}, {args.out / 'soak.json'}, {args.out / 'node.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
