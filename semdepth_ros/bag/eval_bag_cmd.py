"""Evaluate depth on a rosbag against its LiDAR or depth-camera ground truth (offline, or live via the node).

Writes report.md, metrics.json, per_frame.csv and PNG plots to --out. Exit status: 0 when the whole bag
was evaluated, 1 when the run stopped early (truncated or corrupt bag, missing topic, no camera_info,
node failure); the files then hold the frames done before the error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from semdepth_ros.bag.eval_bag import SCALE_MODES, EvalOptions, EvalResult, evaluate_offline
from semdepth_ros.bag.report import write_report
from semdepth_ros.bag.transforms import parse_extrinsic
from semdepth_ros.checkpoint import CheckpointError
from semdepth_ros.metrics import MAX_DEPTH, MIN_DEPTH


def _rate(text: str) -> float | None:
    if text == "max":
        return None
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("rate must be a positive factor or 'max'")
    return value


def _extrinsic(text: str) -> np.ndarray:
    try:
        return parse_extrinsic(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _frame_range(text: str) -> tuple[int, int | None]:
    """'START:STOP' (either may be empty) -> images [START, STOP) in bag order."""
    start, sep, stop = text.partition(":")
    try:
        first = int(start) if start else 0
        last = int(stop) if stop else None
    except ValueError:
        first, last = -1, None
    if not sep or first < 0 or (last is not None and last <= first):
        raise argparse.ArgumentTypeError(f"--frames takes START:STOP with 0 <= START < STOP (either may be "
                                         f"empty), e.g. 35: ; got {text!r}")
    return first, last


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", type=Path, help="rosbag2 folder, or a single .mcap / .db3 file")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint file (default: the bundled synthetic-world demo model)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: eval_<bag name>)")
    topics = parser.add_argument_group("topics (found by type when the bag has exactly one candidate)")
    topics.add_argument("--image-topic", help="sensor_msgs/Image or CompressedImage (default /camera/image_raw)")
    topics.add_argument("--info-topic", help="sensor_msgs/CameraInfo (default: camera_info beside the image)")
    gt = topics.add_mutually_exclusive_group()
    gt.add_argument("--lidar-topic", help="sensor_msgs/PointCloud2 ground truth, placed with /tf_static")
    gt.add_argument("--depth-topic", help="depth Image ground truth registered to the camera (32FC1 m / 16UC1 mm)")
    topics.add_argument("--extrinsic", type=_extrinsic, metavar="'x y z qx qy qz qw'",
                        help="LiDAR pose in the camera optical frame (tf: frame_id camera, child LiDAR); "
                             "overrides /tf_static")
    topics.add_argument("--max-dt", type=float, default=0.05,
                        help="largest image/ground-truth stamp difference in seconds (default 0.05)")
    metric = parser.add_argument_group("protocol")
    metric.add_argument("--scale", choices=SCALE_MODES, default="median",
                        help="median: per-frame median scaling (scale-free, the monocular protocol); "
                             "checkpoint: the checkpoint's metric factor; ground_plane: from --camera-height")
    metric.add_argument("--camera-height", type=float, default=1.65,
                        help="camera height above the ground in metres, for --scale ground_plane")
    metric.add_argument("--min-depth", type=float, default=MIN_DEPTH)
    metric.add_argument("--max-depth", type=float, default=MAX_DEPTH, help="ground truth cap (default 80 m)")
    metric.add_argument("--crop", choices=("none", "garg", "eigen"), default="none",
                        help="KITTI evaluation crop (default none)")
    metric.add_argument("--frames", type=_frame_range, default=(0, None), metavar="START:STOP",
                        help="evaluate only images START..STOP-1 in bag order, e.g. the held-back part that "
                             "`semdepth adapt` reports (default: all)")
    live = parser.add_argument_group("live mode (through the ROS node over DDS)")
    live.add_argument("--live", action="store_true", help="replay through the node instead of running the model here")
    live.add_argument("--no-spawn", action="store_true",
                      help="use an already running node in --node-namespace instead of starting one")
    live.add_argument("--node-namespace", default="/semdepth_eval",
                      help="namespace of the node's topics (default /semdepth_eval)")
    live.add_argument("--rate", type=_rate, default=1.0,
                      help="replay speed: factor of the recorded rate (default 1), or 'max' = next frame as "
                           "soon as the node answered")
    live.add_argument("--timeout", type=float, default=2.0,
                      help="seconds without an answer before a frame counts as dropped (default 2)")
    live.add_argument("--startup-timeout", type=float, default=120.0,
                      help="seconds for the node to answer a first frame (default 120)")
    parser.add_argument("--record", type=Path, default=None,
                        help="also write inputs + outputs (depth, mask, overlay, points) to this new mcap bag")


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    return EvalOptions(image_topic=args.image_topic, info_topic=args.info_topic, lidar_topic=args.lidar_topic,
                       depth_topic=args.depth_topic, extrinsic=args.extrinsic, scale=args.scale,
                       max_dt=args.max_dt, min_depth=args.min_depth, max_depth=args.max_depth,
                       crop=None if args.crop == "none" else args.crop, frames=args.frames)


def _evaluate(args: argparse.Namespace, options: EvalOptions, out: Path) -> EvalResult:
    if args.live:
        from semdepth_ros.bag.live import LiveOptions, evaluate_live  # rclpy only when asked for

        node_params = {"scale_mode": "ground_plane" if args.scale == "ground_plane" else "checkpoint",
                       "camera_height": repr(float(args.camera_height))}
        live = LiveOptions(spawn=not args.no_spawn, namespace=args.node_namespace,
                           checkpoint=str(args.checkpoint) if args.checkpoint else None, device=args.device,
                           node_params=node_params, rate=args.rate, timeout=args.timeout,
                           startup_timeout=args.startup_timeout, log_path=out / "node.log")
        return evaluate_live(args.bag, options, live, args.record)
    from semdepth_ros.predictor import Predictor
    from semdepth_ros.scale import GroundPlaneScale

    predictor = Predictor.load(args.checkpoint, device=args.device)
    scale = (GroundPlaneScale(args.camera_height, fallback=predictor.meta.scale_factor)
             if args.scale == "ground_plane" else None)
    return evaluate_offline(args.bag, predictor, options, args.record, scale)


def run(args: argparse.Namespace) -> int:
    out = args.out or Path(f"eval_{args.bag.resolve().name}")
    if args.record is not None and args.record.exists():
        print(f"error: --record {args.record} already exists; choose a new path", file=sys.stderr)
        return 2
    try:
        result = _evaluate(args, options_from_args(args), out)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = write_report(result, out)
    summary = result.summary
    if summary.get("evaluated"):
        m = summary["metrics"]
        print(f"{summary['evaluated']}/{summary['frames']} frames: abs_rel {m['abs_rel']:.4f}  rmse {m['rmse']:.3f}  "
              f"a1 {m['a1']:.3f}  (scale: {args.scale})")
    if result.live:
        lv = result.live
        print(f"live: {lv['answered']}/{lv['frames_sent']} answered, {lv['dropped']} dropped, latency p50 "
              f"{lv['latency_p50_ms']:.1f} ms p90 {lv['latency_p90_ms']:.1f} ms, output {lv['output_rate_hz']:.2f} Hz")
    print(f"report: {report}" + (f"; recorded bag: {args.record}" if args.record and args.record.exists() else ""))
    if result.error:
        print(f"error: {result.error} (partial results in {out})", file=sys.stderr)
        return 1
    return 0
