"""`semdepth`: one entry point; each sub-command lives in its own module, imported on use.

Lazy import keeps `semdepth predict` free of the training stack and makes a broken optional
dependency fail only the sub-command that needs it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

SUBCOMMANDS: dict[str, str] = {
    "predict": "semdepth_ros.cli.predict",
    "bench": "semdepth_ros.cli.bench",
    "demo": "semdepth_ros.demo.demo_cmd",
    "kitti2bag": "semdepth_ros.bag.kitti2bag_cmd",
    "eval-bag": "semdepth_ros.bag.eval_bag_cmd",
    "synth": "semdepth_training.commands.synth",
    "train": "semdepth_training.commands.train",
    "evaluate": "semdepth_training.commands.evaluate",
    "export": "semdepth_training.commands.export",
    "pseudo-labels": "semdepth_training.commands.pseudo_labels",
}
HELP = {
    "predict": "depth, mask, overlay and point cloud for image files",
    "bench": "time each inference stage (p50/p90, fps)",
    "demo": "the whole pipeline on a synthetic drive: node over DDS, montage, cloud, bag, metrics",
    "kitti2bag": "convert a KITTI raw drive to a rosbag2 (mcap or sqlite3)",
    "eval-bag": "evaluate depth on a rosbag against its LiDAR or depth ground truth",
    "synth": "write a synthetic street-world dataset (image-folder layout)",
    "train": "train the network self-supervised (KITTI, image folders, synthetic)",
    "evaluate": "evaluate a checkpoint (KITTI Eigen protocol, image folders, synthetic)",
    "export": "export a node checkpoint (with metric scale) and an ONNX model",
    "pseudo-labels": "make binary foreground pseudo labels from semantic segmentations",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top parser; only the chosen sub-command's module is imported to add its options."""
    parser = argparse.ArgumentParser(prog="semdepth", description=__doc__.splitlines()[0])
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        sub = subs.add_parser(name, help=HELP[name], description=HELP[name])
        if name == command:
            importlib.import_module(SUBCOMMANDS[name]).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in SUBCOMMANDS:
        command = None
    args = build_parser(command).parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        # User-facing errors (bad paths, bad files, bad options) are one line; SEMDEPTH_DEBUG=1 shows
        # the traceback for bug reports.
        if os.environ.get("SEMDEPTH_DEBUG"):
            raise
        print(f"semdepth {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
