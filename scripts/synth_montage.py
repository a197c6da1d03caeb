#!/usr/bin/env python3
"""A montage PNG of random synthetic streets, optionally beside a few real frames, for a visual check
that the randomised world looks like street photos at a glance.

  python scripts/synth_montage.py --out docs/images/synth_vs_real.png --seeds 0-8 \
      --real /data/kitti_raw/2011_09_26/2011_09_26_drive_0011_sync/image_02/data/0000000045.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semdepth_synth import REALISM, SynthConfig, SynthSequence  # noqa: E402


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(v) for v in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(v) for v in text.split(",")]


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--seeds", default="0-8", help="synthetic seeds: 'a-b' or 'a,b,c' (default 0-8)")
    parser.add_argument("--realism", default="full", choices=REALISM)
    parser.add_argument("--frame", type=int, default=10, help="frame of each sequence to show (default 10)")
    parser.add_argument("--real", nargs="*", default=[], help="real images to show in the last row")
    parser.add_argument("--columns", type=int, default=3)
    parser.add_argument("--tile", type=int, nargs=2, default=(128, 426), metavar=("H", "W"),
                        help="tile size in the montage (default 128 426)")
    args = parser.parse_args()
    th, tw = args.tile
    tiles = []
    for seed in tqdm(_seeds(args.seeds), desc="render", unit="world"):
        seq = SynthSequence(SynthConfig(height=192, width=640, seed=seed, num_frames=args.frame + 2,
                                        realism=args.realism))
        rgb = cv2.resize(seq[args.frame].rgb, (tw, th), interpolation=cv2.INTER_AREA)
        tiles.append(_label(rgb, f"synthetic, seed {seed}"))
    for path in args.real:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            parser.error(f"cannot read image {path}")
        rgb = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), (tw, th), interpolation=cv2.INTER_AREA)
        parts = Path(path).parts  # KITTI raw: .../<drive>/image_02/data/<frame>.png
        tiles.append(_label(rgb, f"real: {parts[-4] if len(parts) > 4 else parts[-1]}"))
    while len(tiles) % args.columns:
        tiles.append(np.zeros((th, tw, 3), np.uint8))
    rows = [np.concatenate(tiles[i:i + args.columns], axis=1) for i in range(0, len(tiles), args.columns)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {args.out}")
    print(f"{args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
