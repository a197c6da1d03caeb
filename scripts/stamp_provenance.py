#!/usr/bin/env python3
"""Record where a checkpoint came from (command, config, seed, training time, hardware) in its metadata.

Used for the bundled demo model so anyone can see, and repeat, how it was made:
    python scripts/stamp_provenance.py RUN_DIR CHECKPOINT --command "..." [--synthetic-demo]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

import torch
import yaml

from semdepth_ros.checkpoint import load_checkpoint, save_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--command", required=True, help="the command(s) that produced the checkpoint")
    parser.add_argument("--config-file", default=None, help="the training config file, as given")
    parser.add_argument("--synthetic-demo", action="store_true", help="mark as the synthetic-world demo model")
    args = parser.parse_args()
    model, meta = load_checkpoint(args.checkpoint)
    config = yaml.safe_load((args.run_dir / "config.yaml").read_text())
    started = (args.run_dir / "config.yaml").stat().st_mtime
    ended = (args.run_dir / "models" / "last.pt").stat().st_mtime
    provenance = {
        **meta.provenance,
        "command": args.command,
        "config_file": args.config_file,
        "seed": config["run"]["seed"],
        "steps": meta.training.get("step"),
        "training_wall_minutes": round((ended - started) / 60, 1),
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores (shared), no GPU; "
                    f"torch {torch.__version__}, Python {platform.python_version()}",
        "stamped": time.strftime("%Y-%m-%d"),
        "synthetic_demo": bool(args.synthetic_demo),
    }
    provenance.pop("run_dir", None)  # a path on the builder's machine means nothing to users
    half = all(v.dtype == torch.float16 for v in torch.load(args.checkpoint, weights_only=True)["state_dict"].values()
               if v.is_floating_point())
    save_checkpoint(args.checkpoint, model, dataclasses.replace(meta, provenance=provenance), half=half)
    print(yaml.safe_dump(provenance, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
