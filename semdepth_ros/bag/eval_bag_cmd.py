"""Evaluate depth on rosbags against their LiDAR or depth-camera ground truth (offline, or live via the node).

Takes one bag, several, or a folder of bags; several give one report with per-bag and pooled metrics.
Writes report.md, metrics.json, per_frame.csv and PNG plots to --out. Exit status: 0 when every bag was
evaluated, 1 when a run stopped early (truncated or corrupt bag, missing or ambiguous topic, no
camera_info, node failure); the files then hold the frames done before the error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from semdepth_ros.bag.eval_bag import CROPS, PIXEL_CONVENTIONS, SCALE_MODES, CheckpointScale, EvalOptions, \
    EvalResult, evaluate_offline, pool
from semdepth_ros.bag.io import BagError, find_bags
from semdepth_ros.bag.report import write_report
from semdepth_ros.bag.selection import FrameSelection, parse_range
from semdepth_ros.bag.transforms import parse_extrinsic
from semdepth_ros.checkpoint import CheckpointError, read_meta, resolve_checkpoint
from semdepth_ros.cli.engine_args import add_engine_arguments, engine_options
from semdepth_ros.metrics import BASELINE_LABEL, MAX_DEPTH, MIN_DEPTH


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


def _frame_range(text: str) -> tuple[int | None, int | None]:
    try:
        return parse_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bags", type=Path, nargs="+", metavar="BAG",
                        help="rosbag2 folder or .mcap / .db3 file; several, or a folder of bags, give one report "
                             "with per-bag and pooled metrics")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint file (default: $SEMDEPTH_DEFAULT_MODEL or the bundled model)")
    parser.add_argument("--batch-size", type=_positive, default=4,
                        help="images per network call offline (default 4; larger batches pay off on a GPU)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: eval_<bag or folder name>)")
    topics = parser.add_argument_group("topics (ground truth is never one of this package's own outputs; without "
                                       "a flag it is the bag's only real LiDAR or depth image, else eval-bag refuses "
                                       "and lists the candidates)")
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
    frames = parser.add_argument_group("frames")
    frames.add_argument("--frames", type=_frame_range, metavar="START:END", default=(None, None),
                        help="camera images START to END-1 of each bag, counted from 0 (either end may be left out)")
    frames.add_argument("--split", type=Path, default=None,
                        help="a KITTI split file (Monodepth2 format; for bags from kitti2bag: this drive's 'l' "
                             "lines) or a list of image stamps, one per line, in seconds or nanoseconds")
    metric = parser.add_argument_group("protocol")
    metric.add_argument("--scale", choices=SCALE_MODES, default="median",
                        help="median: per-frame median scaling (scale-free, the monocular protocol); "
                             "checkpoint: the checkpoint's metric factor; ground_plane: from --camera-height")
    metric.add_argument("--camera-height", type=float, default=1.65,
                        help="camera height above the ground in metres, for --scale ground_plane")
    metric.add_argument("--min-depth", type=float, default=MIN_DEPTH)
    metric.add_argument("--max-depth", type=float, default=MAX_DEPTH, help="ground truth cap (default 80 m)")
    metric.add_argument("--crop", choices=CROPS, default="auto",
                        help="evaluation crop; auto (default): the Garg crop for KITTI data (bags from kitti2bag), "
                             "none otherwise")
    metric.add_argument("--pixel-convention", choices=PIXEL_CONVENTIONS, default="auto",
                        help="LiDAR projection: kitti = round(x)-1 as the KITTI benchmark, camera_info = round(x); "
                             "auto (default): kitti for KITTI data, camera_info otherwise")
    live = parser.add_argument_group("live mode (through the ROS node over DDS; one bag)")
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
                        help="also write inputs + outputs (depth, mask, overlay, points) to this new mcap bag "
                             "(one bag only)")
    add_engine_arguments(parser)


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    start, stop = args.frames
    return EvalOptions(image_topic=args.image_topic, info_topic=args.info_topic, lidar_topic=args.lidar_topic,
                       depth_topic=args.depth_topic, extrinsic=args.extrinsic, scale=args.scale,
                       max_dt=args.max_dt, min_depth=args.min_depth, max_depth=args.max_depth, crop=args.crop,
                       pixel_convention=args.pixel_convention, frames=FrameSelection(start, stop, args.split),
                       batch_size=args.batch_size)


def _evaluate(args: argparse.Namespace, bags: list[Path], options: EvalOptions, out: Path) -> list[EvalResult]:
    if args.live:
        from semdepth_ros.bag.live import LiveOptions, evaluate_live  # rclpy only when asked for

        scale_mode = "ground_plane" if args.scale == "ground_plane" else "checkpoint"
        meta = None if args.no_spawn and args.checkpoint is None else read_meta(resolve_checkpoint(args.checkpoint))
        engine = engine_options(args)
        node_params = {"scale_mode": scale_mode, "camera_height": repr(float(args.camera_height)),
                       "backend": engine.backend, "precision": engine.precision,
                       "channels_last": str(engine.channels_last).lower(), "cuda_graph": str(engine.cuda_graph).lower()}
        live = LiveOptions(spawn=not args.no_spawn, namespace=args.node_namespace,
                           checkpoint=str(args.checkpoint) if args.checkpoint else None, device=args.device,
                           node_params=node_params,
                           rate=args.rate, timeout=args.timeout, startup_timeout=args.startup_timeout,
                           log_path=out / "node.log", checkpoint_meta=meta)
        return [evaluate_live(bags[0], options, live, args.record)]
    from semdepth_ros.predictor import Predictor
    from semdepth_ros.scale import GroundPlaneScale

    predictor = Predictor.load(args.checkpoint, device=args.device, options=engine_options(args))
    checkpoint = CheckpointScale.of(predictor.meta)
    results = []
    for bag in bags:  # each bag is its own drive: a fresh ground-plane estimate
        scale = (GroundPlaneScale(args.camera_height, fallback=predictor.meta.scale_factor)
                 if args.scale == "ground_plane" else None)
        results.append(evaluate_offline(bag, predictor, options, args.record, scale, checkpoint))
    return results


def _line(label: str, summary: dict) -> str:
    m, b = summary["metrics"], summary["baseline"]
    return (f"{label}: {summary['evaluated']}/{summary['frames']} frames: abs_rel {m['abs_rel']:.4f}  rmse "
            f"{m['rmse']:.3f}  a1 {m['a1']:.3f}  ({BASELINE_LABEL}: abs_rel {b['abs_rel']:.4f}  a1 {b['a1']:.3f})")


def _bag_list(paths: list[Path]) -> list[Path]:
    bags: list[Path] = []
    for path in paths:
        bags += find_bags(path)
    return bags


def run(args: argparse.Namespace) -> int:
    try:
        bags = _bag_list(args.bags)
    except BagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    several = len(bags) > 1
    if several and (args.record is not None or args.live):
        print(f"error: {'--record' if args.record is not None else '--live'} takes one bag; got {len(bags)}",
              file=sys.stderr)
        return 2
    if args.record is not None and args.record.exists():
        print(f"error: --record {args.record} already exists; choose a new path", file=sys.stderr)
        return 2
    name = args.bags[0].resolve().name if len(args.bags) == 1 else f"{len(bags)}_bags"
    out = args.out or Path(f"eval_{name}")
    try:
        results = _evaluate(args, bags, options_from_args(args), out)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = pool(results) if several else results[0]
    report = write_report(result, out, results if several else ())
    for each in results if several else []:
        if each.summary.get("evaluated"):
            print(_line(Path(each.bag).name, each.summary))
    if result.summary.get("evaluated"):
        print(_line("pooled" if several else Path(result.bag).name, result.summary) + f"  (scale: {args.scale})")
    if result.topics:
        print(f"ground truth: {result.ground_truth}; crop: {result.crop or 'none'}")
    for each in results if several else []:
        for warning in each.warnings:
            print(f"warning: {Path(each.bag).name}: {warning}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {'pooled: ' if several else ''}{warning}", file=sys.stderr)
    if result.live:
        lv = result.live
        print(f"live: {lv['answered']}/{lv['frames_sent']} answered, {lv['dropped']} dropped, latency p50 "
              f"{lv['latency_p50_ms']:.1f} ms p90 {lv['latency_p90_ms']:.1f} ms, output {lv['output_rate_hz']:.2f} Hz")
    print(f"report: {report}" + (f"; recorded bag: {args.record}" if args.record and args.record.exists() else ""))
    if result.error:
        print(f"error: {result.error} (partial results in {out})", file=sys.stderr)
        return 1
    return 0
