"""Where a checkpoint comes from, recorded in its metadata: the stage, the command, seed, data,
starting weights, wall time and hardware, so a model found on disk months later can be trusted or
rebuilt (and a pre-trained one is recognisably the synthetic ImageNet substitute)."""
from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from semdepth_training.config import TrainConfig

PRETRAINING_STAGE = "synthetic pre-training (ImageNet substitute)"
SELF_SUPERVISED_STAGE = "self-supervised training"


def stage(config: TrainConfig) -> str:
    """The kind of training a config runs, as checkpoints record it."""
    return PRETRAINING_STAGE if config.loss.mode == "supervised" else SELF_SUPERVISED_STAGE


def hardware(device: torch.device) -> str:
    """e.g. 'cuda: NVIDIA H200' or 'cpu: x86_64, 1 torch thread(s) of 2 cores'."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.machine()}, {torch.get_num_threads()} torch thread(s) of {os.cpu_count()} cores"


def run_provenance(config: TrainConfig, run_dir: Path, device: torch.device, wall_time_s: float,
                   init: dict[str, Any] | None) -> dict[str, Any]:
    """The provenance block of a training checkpoint (the full config is in its ``training``)."""
    data = config.data
    return {"stage": stage(config), "command": shlex.join(sys.argv), "seed": config.run.seed,
            "data": {"dataset": data.dataset, "path": data.path, "val_path": data.val_path,
                     "options": data.options, "height": data.height, "width": data.width},
            "init": init, "wall_time_s": round(wall_time_s, 1), "hardware": hardware(device),
            "torch": str(torch.__version__), "run_dir": str(run_dir.resolve()),
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
