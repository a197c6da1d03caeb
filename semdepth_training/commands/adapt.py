"""Adapt a node checkpoint to your robot: self-supervised fine-tuning straight from rosbag recordings.

`semdepth adapt BAG [BAG...] --init model.pt --out DIR` chooses training frames from the bags (skips
stationary, duplicate and too-close frames), measures the metric scale from the odometry when the bag
has one, fine-tunes on the first 70% of each bag's time, and writes DIR/model.pt plus a before/after
report on the last 30%. Ctrl-C saves; `semdepth adapt --out DIR --resume` continues. docs/adapt.md is
the recipe.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from semdepth_ros.bag.io import BagError
from semdepth_ros.bag.odometry import ODOMETRY_SOURCES
from semdepth_ros.checkpoint import CheckpointError
from semdepth_training.adapt.run import POSE_MODES, STATE_FILE, AdaptError, AdaptOptions, adapt

DEFAULTS = AdaptOptions(bags=[], out="")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    parser.add_argument("bags", nargs="*", help="rosbag2 folders, .mcap/.db3 files, or folders of bags")
    parser.add_argument("--out", type=Path, required=True, help="output folder (model.pt, report, run state)")
    parser.add_argument("--init", default=None,
                        help="node checkpoint to start from (default: $SEMDEPTH_DEFAULT_MODEL or the bundled model)")
    parser.add_argument("--init-pose", default=None,
                        help="pose-net weights (a checkpoint or training resume.pt with 'pose_net', or a PoseNet "
                             "state_dict); default: from --init when it has them, else a new pose net")
    parser.add_argument("--resume", action="store_true", help=f"continue the run in --out (its {STATE_FILE})")
    topics = parser.add_argument_group("topics, intrinsics, odometry")
    topics.add_argument("--image-topic", help="Image or CompressedImage (default /camera/image_raw or the only one)")
    topics.add_argument("--info-topic", help="CameraInfo (default: camera_info beside the image topic)")
    topics.add_argument("--intrinsics", help="intrinsics.yaml / camera_info.yaml for bags without camera_info")
    topics.add_argument("--odometry", choices=ODOMETRY_SOURCES, default=d.odometry,
                        help="auto: nav_msgs/Odometry if the bag has it, else /tf to the camera frame")
    topics.add_argument("--odom-topic", help="nav_msgs/Odometry topic (default: the bag's only one)")
    topics.add_argument("--fixed-frame", help="/tf odometry: the world-fixed frame (default odom, map or world)")
    topics.add_argument("--camera-extrinsic", metavar="'x y z qx qy qz qw'",
                        help="camera optical frame in the odometry's child frame, when /tf_static lacks it")
    select = parser.add_argument_group("frame selection")
    select.add_argument("--min-baseline", type=float, default=d.min_baseline,
                        help=f"metres moved between kept frames, with odometry (default {d.min_baseline})")
    select.add_argument("--still-speed", type=float, default=d.still_speed,
                        help=f"m/s below which frames count as stationary, with odometry (default {d.still_speed})")
    select.add_argument("--min-change", type=float, default=d.min_change,
                        help=f"photometric change between kept frames, without odometry (default {d.min_change})")
    select.add_argument("--still-change", type=float, default=d.still_change,
                        help=f"photometric change below which a frame is stationary (default {d.still_change})")
    select.add_argument("--max-gap", type=float, default=d.max_gap,
                        help=f"a stamp step over this many frame periods splits the sequence (default {d.max_gap:g})")
    select.add_argument("--cache-mb", type=float, default=d.cache_mb,
                        help=f"disk cap of the cached frames (default {d.cache_mb:g})")
    train = parser.add_argument_group("training")
    train.add_argument("--pose", choices=POSE_MODES, default=d.pose,
                       help="ego-motion: odometry (the recording's motion), network (pose net, anchored to the "
                            "odometry when there is one); auto = odometry when present")
    train.add_argument("--odometry-weight", type=float, default=d.odometry_weight,
                       help=f"--pose network: weight of the odometry anchor (default {d.odometry_weight})")
    train.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    train.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    train.add_argument("--lr", dest="learning_rate", type=float, default=d.learning_rate,
                       help=f"learning rate (default {d.learning_rate:g})")
    train.add_argument("--height", type=int, default=None, help="network input height (default: the checkpoint's)")
    train.add_argument("--width", type=int, default=None, help="network input width (default: the checkpoint's)")
    train.add_argument("--val-fraction", type=float, default=d.val_fraction,
                       help=f"held-back share at the end of each bag's time (default {d.val_fraction})")
    train.add_argument("--seed", type=int, default=d.seed)
    train.add_argument("--device", default=d.device, help="auto, cpu or cuda")
    train.add_argument("--num-workers", type=int, default=d.num_workers, help="data loader processes (default 0)")
    evaluation = parser.add_argument_group("scale and evaluation")
    evaluation.add_argument("--camera-height", type=float, default=None,
                            help="metres above the ground: metric scale from the ground plane when there is no "
                                 "odometry")
    evaluation.add_argument("--eval-frames", type=int, default=d.eval_frames,
                            help=f"held-back frames for the photometric error (default {d.eval_frames})")
    gt = evaluation.add_mutually_exclusive_group()
    gt.add_argument("--lidar-topic", help="PointCloud2 ground truth for Abs Rel (default: the bag's only one)")
    gt.add_argument("--depth-topic", help="depth Image ground truth for Abs Rel")
    evaluation.add_argument("--crop", choices=("auto", "none", "garg", "eigen"), default=d.crop,
                            help="eval-bag's crop (default auto: Garg for KITTI data, none otherwise)")
    evaluation.add_argument("--max-eval-depth", type=float, default=d.max_eval_depth,
                            help=f"ground truth cap in metres (default {d.max_eval_depth:g})")


def run(args: argparse.Namespace) -> int:
    if not args.bags and not args.resume:
        print("error: give at least one bag (or --resume an existing --out)", file=sys.stderr)
        return 2
    fields = {f.name for f in dataclasses.fields(AdaptOptions)}
    values = {k: v for k, v in vars(args).items() if k in fields and k not in ("bags", "out")}
    options = AdaptOptions(bags=[str(b) for b in args.bags], out=str(args.out), **values)
    try:
        result = adapt(options, resume=args.resume)
    except (AdaptError, BagError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 130 if result.stopped else 0
