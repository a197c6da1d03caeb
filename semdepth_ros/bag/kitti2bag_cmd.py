"""Convert a KITTI raw drive to a rosbag2 (mcap or sqlite3) with image, camera_info, LiDAR, /tf_static and OXTS odometry.

Usage: semdepth kitti2bag <root>/2011_09_26/2011_09_26_drive_0002_sync --out drive_0002 [--storage sqlite3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semdepth_ros.bag.io import STORAGES, BagError
from semdepth_ros.bag.kitti2bag import KittiError, convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("drive", type=Path,
                        help="drive folder <date>_drive_<nnnn>_sync (calibration files in its parent date folder)")
    parser.add_argument("--out", type=Path, required=True, help="output bag folder (must not exist)")
    parser.add_argument("--storage", choices=tuple(STORAGES), default="mcap",
                        help="rosbag2 storage plugin (default: mcap, the Jazzy default)")


def run(args: argparse.Namespace) -> int:
    try:
        out = convert(args.drive, args.out, args.storage)
    except (KittiError, BagError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({args.storage}); play it with: ros2 bag play {out}")
    return 0
