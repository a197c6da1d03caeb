"""Write a synthetic street-world dataset (image-folder layout) with exact depth, classes and poses.

Each sequence is a deterministic drive (seed, seed + 1, ...) written as images/, depth/, fg_mask/,
classes/, poses.txt, timestamps.txt and intrinsics.yaml, ready for `semdepth train` and `semdepth evaluate`.
"""
from __future__ import annotations

import argparse
import time

from semdepth_synth import REALISM, SynthConfig, write_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per sequence)")
    parser.add_argument("--frames", type=int, default=100, help="frames per sequence (default 100)")
    parser.add_argument("--sequences", type=int, default=1, help="number of sequences (default 1)")
    parser.add_argument("--height", type=int, default=192, help="image height in pixels (default 192)")
    parser.add_argument("--width", type=int, default=640, help="image width in pixels (default 640)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sequence (default 0)")
    parser.add_argument("--speed", type=float, default=0.8,
                        help="basic world: mean metres driven per frame (default 0.8)")
    parser.add_argument("--realism", default="basic", choices=REALISM,
                        help="basic: the fixed KITTI-like street (cheapest); fast/full: domain-randomised "
                             "streets, cameras, drives, light and camera effects, full with shadows "
                             "(default basic)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace sequence folders that already exist")


def run(args: argparse.Namespace) -> int:
    config = SynthConfig(height=args.height, width=args.width, seed=args.seed, num_frames=args.frames,
                         speed=args.speed, realism=args.realism)
    start = time.perf_counter()
    folders = write_dataset(args.out, args.sequences, config, overwrite=args.overwrite)
    per_frame = (time.perf_counter() - start) / (args.sequences * args.frames)
    for folder in folders:
        print(folder)
    print(f"wrote {len(folders)} sequence(s) x {args.frames} frames at {args.height}x{args.width} "
          f"({per_frame:.3f} s/frame)")
    return 0
