#!/usr/bin/env python3
"""Rendering cost of the synthetic world per preset, on one core, as ratios to the basic world
measured in the same run (pre-training renders thousands of frames: this is its budget).

  OMP_NUM_THREADS=1 python scripts/synth_speed.py --sequences 4 --frames 5
Prints s/frame (sequence set-up included) at 96x320 and 192x640 for basic, fast and full.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semdepth_synth import REALISM, SynthConfig, SynthSequence  # noqa: E402

SIZES = ((96, 320), (192, 640))


def seconds_per_frame(realism: str, height: int, width: int, sequences: int, frames: int) -> float:
    start = time.perf_counter()
    for seed in range(sequences):
        sequence = SynthSequence(SynthConfig(height=height, width=width, seed=100 + seed, num_frames=frames,
                                             realism=realism))
        for i in range(frames):
            sequence[i]
    return (time.perf_counter() - start) / (sequences * frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=4, help="sequences (seeds 100...) per measurement")
    parser.add_argument("--frames", type=int, default=5, help="frames rendered per sequence")
    args = parser.parse_args()
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: set OMP_NUM_THREADS=1 for a one-core figure")
    for height, width in SIZES:
        base = None
        for realism in REALISM:
            cost = seconds_per_frame(realism, height, width, args.sequences, args.frames)
            base = base or cost
            print(f"{height}x{width} {realism:5s}: {cost:.3f} s/frame ({cost / base:.2f}x basic)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
