"""Images/s of distributed training against one process, measured in the same run.

Renders a synthetic image folder once, then trains the same config for --steps steps as
  1. one process with batch B (the baseline),
  2. N processes with batch B/N each (the same effective batch: the cost of splitting it),
  3. N processes with batch B each (N times the effective batch: how throughput scales),
under `torchrun --standalone`, and prints images/s of each (from the TensorBoard step times, the first
10 steps left out as warm-up) and its ratio to the baseline. On one GPU the N processes share it
(gloo, since NCCL refuses two processes on one device), which shows the overhead of DDP itself.

    python scripts/bench_distributed.py --device cuda --processes 2 --out /tmp/bench_ddp
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WARM_UP = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (data, runs, logs)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--processes", type=int, default=2, help="N")
    parser.add_argument("--batch", type=int, default=8, help="B, the baseline's batch")
    parser.add_argument("--steps", type=int, default=50, help="optimiser steps per run (> 10)")
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--sequences", type=int, default=8, help="synthetic sequences to render")
    parser.add_argument("--frames", type=int, default=120, help="frames per sequence")
    parser.add_argument("--workers", type=int, default=5, help="data.num_workers per process")
    args = parser.parse_args()
    if args.steps <= WARM_UP or args.batch % args.processes:
        parser.error(f"need --steps > {WARM_UP} and --batch divisible by --processes")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    data = args.out / "synth"
    if not data.is_dir():
        render = [subprocess.Popen([sys.executable, "-m", "semdepth_training", "synth", "--out", str(args.out / f"render_{i}"),
                                    "--frames", str(args.frames), "--height", str(args.height), "--width", str(args.width),
                                    "--seed", str(100 + i)], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                  for i in range(args.sequences)]
        if any(p.wait() for p in render):
            raise SystemExit("rendering the synthetic data failed")
        data.mkdir(parents=True)
        for i in range(args.sequences):
            (sequence,) = (args.out / f"render_{i}").glob("seq_*")
            sequence.rename(data / f"seq_{i:04d}")
            shutil.rmtree(args.out / f"render_{i}")
    config = args.out / "config.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"dataset": "folder", "path": str(data), "height": args.height, "width": args.width,
                 "num_workers": args.workers, "eval_crop": None},
        "model": {"num_layers": 18, "semantic": True, "seem": True, "attention": True},
        "optim": {"batch_size": args.batch, "num_epochs": 1000},
        "run": {"device": args.device, "log_every": 1, "image_every": 10 ** 9, "validate": False,
                "save_every_minutes": None}}))
    n = args.processes
    shared_gpu = args.device == "cuda" and _gpus() < n
    runs = [("1 process", 1, args.batch), (f"{n} processes, same effective batch", n, args.batch // n),
            (f"{n} processes, {n}x the batch", n, args.batch)]
    baseline = None
    for label, processes, batch in runs:
        out = args.out / f"run_p{processes}_b{batch}"
        shutil.rmtree(out, ignore_errors=True)
        launcher = [sys.executable] if processes == 1 else \
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
        command = [*launcher, "-m", "semdepth_training", "train", "--config", str(config), "--out", str(out),
                   "--max-steps", str(args.steps), "--set", f"optim.batch_size={batch}"]
        if shared_gpu and processes > 1:
            command += ["--set", "run.dist_backend=gloo"]
        with open(args.out / f"{out.name}.log", "w") as log:
            if subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT).returncode:
                raise SystemExit(f"{label}: training failed, see {log.name}")
        rate = _images_per_second(out, batch * processes)
        baseline = baseline or rate
        print(f"{label} (batch {batch} each, {batch * processes} per step): {rate:.1f} images/s, "
              f"{rate / baseline:.2f}x one process", flush=True)
    return 0


def _gpus() -> int:
    import torch

    return torch.cuda.device_count()


def _images_per_second(run_dir: Path, images_per_step: int) -> float:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    times = [e.wall_time for e in events.Scalars("loss/total")]
    return (len(times) - 1 - WARM_UP) * images_per_step / (times[-1] - times[WARM_UP])


if __name__ == "__main__":
    sys.exit(main())
