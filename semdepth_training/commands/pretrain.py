"""Pre-train on the synthetic world with its exact labels: the ImageNet substitute for `train --init`.

`semdepth pretrain --out runs/pretrain` is `semdepth train` with ``loss.mode: supervised`` and, by
default, config/train/pretrain_synthetic_r18.yaml: the depth network learns metric depth (scale-
invariant log loss) and the foreground (BCE), the pose net the exact camera motion in metres, on
synthetic streets that keep coming (or pre-rendered ones: --set data.dataset=folder --data DIR).
Fine-tune on real video with `semdepth train --init runs/pretrain/models/last.pt ...`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semdepth_training.commands import train

DEFAULT_CONFIG = "pretrain_synthetic_r18.yaml"


def shipped_config(name: str = DEFAULT_CONFIG) -> Path | None:
    """A config/train file of this package: the source checkout's, else a pip install's share/."""
    for root in (Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "semdepth_ros"):
        path = root / "config" / "train" / name
        if path.is_file():
            return path
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    train.add_arguments(parser, config_help=f"training YAML (default: config/train/{DEFAULT_CONFIG}, or "
                                            "RUN_DIR/config.yaml with --resume); loss.mode is always supervised")


def run(args: argparse.Namespace) -> int:
    if args.config is None and not args.resume:
        args.config = shipped_config()
        if args.config is None:
            raise FileNotFoundError(f"config/train/{DEFAULT_CONFIG} not found beside this install; "
                                    "pass --config (e.g. a copy from the source repository)")
    return train.run(args, forced={"loss.mode": "supervised"})
