"""Train the network self-supervised (KITTI, image folders, synthetic).

`semdepth train --config config/train/kitti_r50_semdepth.yaml --data KITTI_RAW --out runs/r50`;
Ctrl-C (or SIGTERM) stops after the current step and saves; `--resume` continues the run in --out
exactly where it stopped, from its own config.yaml unless --config is given. `--init CHECKPOINT`
starts from a checkpoint's weights (the synthetic pre-training of `semdepth pretrain`). On several
GPUs or machines the same arguments go to `torchrun ... -m semdepth_training train` (docs/training.md).
With `two_stage.enabled: true` (Semantically-Guided Representation Learning, Sec. 4.3) the run folder
holds stage1/, excluded_frames.json and stage2/ (the final model); two-stage training runs in one process.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from semdepth_training.config import DEVICES, load_config
from semdepth_training.distributed import init_world
from semdepth_training.trainer import CONFIG_FILE, Trainer
from semdepth_training.two_stage import run_two_stage


CONFIG_HELP = "training YAML (config/train/*.yaml); default: defaults, or RUN_DIR/config.yaml with --resume"


def add_arguments(parser: argparse.ArgumentParser, config_help: str = CONFIG_HELP) -> None:
    parser.add_argument("--config", type=Path, default=None, help=config_help)
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, logs, resume state)")
    parser.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this checkpoint's weights (encoder, decoders and, when it has one, "
                             "the pose net), e.g. models/last.pt of `semdepth pretrain`; sets run.init")
    parser.add_argument("--data", default=None, help="dataset root (sets data.path)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps in total (--resume without it runs to the last epoch)")
    parser.add_argument("--device", choices=DEVICES, default=None, help="sets run.device")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (YAML syntax), e.g. --set optim.batch_size=4; repeatable")


def run(args: argparse.Namespace, forced: dict[str, object] | None = None) -> int:
    """Train as the arguments say; ``forced`` config values win over the file and --set (a
    sub-command built on this one, e.g. pretrain, fixes its stage with them)."""
    config_path = args.config
    if config_path is None and args.resume:
        config_path = args.out / CONFIG_FILE
        if not config_path.is_file():  # a two-stage run keeps its config in its stages
            config_path = args.out / "stage1" / CONFIG_FILE
        if not config_path.is_file():
            raise FileNotFoundError(f"cannot resume: {args.out} holds no run ({CONFIG_FILE} missing)")
    if args.resume and args.init is not None:
        raise ValueError("--init starts a new run from a checkpoint's weights; --resume continues the run in "
                         "--out with its own weights: give one of them")
    init = None if args.init is None else str(args.init)
    values = {key: value for key, value in (("data.path", args.data), ("run.max_steps", args.max_steps),
                                            ("run.device", args.device), ("run.init", init)) if value is not None}
    if args.resume and args.max_steps is None:
        values["run.max_steps"] = None  # a short run's limit is not part of the recipe it continues
    config = load_config(config_path, args.overrides, {**values, **(forced or {})})
    run_cfg = config.run
    with init_world(run_cfg.device, run_cfg.dist_backend, run_cfg.dist_timeout_minutes) as world:
        if config.two_stage.enabled and world.distributed:
            raise ValueError("two_stage.enabled runs in one process (its frame check between the stages is not "
                             "distributed); start it without torchrun")
        elif config.two_stage.enabled:
            summary = run_two_stage(config, args.out, resume=args.resume)
            run_dir = args.out / "stage2"
        else:
            summary = Trainer(config, args.out, resume=args.resume, world=world).train()
            run_dir = args.out
    if world.is_main:
        status = "stopped" if summary["stopped"] else "finished"
        val = "; last validation " + ", ".join(f"{k} {v:.4g}" for k, v in summary["val"].items()) if summary["val"] else ""
        print(f"{status} at step {summary['step']} (epoch {summary['epoch']}){val}")
        again = ("the same torchrun command with --resume" if world.distributed
                 else f"semdepth train --out {args.out} --resume")
        print(f"checkpoint: {run_dir / 'models' / 'last.pt'}; continue with: {again}")
    return 130 if summary["stopped"] else 0
