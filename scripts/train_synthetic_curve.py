#!/usr/bin/env python3
"""Learning curve on the synthetic world: train on the CPU, print median-scaled AbsRel against the
generator's exact depth and the held-out photometric error (and, for pre-training, metric AbsRel and
the pose net's errors) before training and after every epoch, the training speed (steps/s, validation
excluded), and plot them to RUN_DIR/curve.png.

The validation streets are not the training ones (seed run.seed + 1). The default config
(synthetic_r18.yaml) takes ego-motion from the generator (pose.source: dataset, docs/training.md):
AbsRel falls within minutes. With the pose net (the papers' regime) the photometric error falls from
the first epoch, but AbsRel does not: from random initialisation the pose net settles on a sideways
motion in this world, as it does with Monodepth2's own code (docs/training.md; on real video both
learn).

    python scripts/train_synthetic_curve.py --out runs/curve --epochs 3
    python scripts/train_synthetic_curve.py --out runs/curve_posenet --epochs 5 --set pose.source=network
    python scripts/train_synthetic_curve.py --config config/train/pretrain_synthetic_r18.yaml \
        --out runs/pretrain_curve --steps 300          # synthetic pre-training (loss.mode: supervised)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from semdepth_training.config import load_config  # noqa: E402
from semdepth_training.trainer import Trainer  # noqa: E402

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "train" / "synthetic_r18.yaml"
COLUMNS = ("photometric", "abs_rel", "metric_abs_rel", "sq_rel", "rmse", "a1", "pose_cosine",
           "pose_translation_error", "pose_rotation_error")
PLOTTED = {"abs_rel": "AbsRel vs GT (median-scaled)", "metric_abs_rel": "AbsRel vs GT (metric, unscaled)",
           "photometric": "photometric error Lp", "pose_cosine": "pose direction cosine (both directions)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out", type=Path, required=True, help="new run folder")
    parser.add_argument("--epochs", type=int, default=None, help="sets optim.num_epochs")
    parser.add_argument("--steps", type=int, default=None, help="sets run.max_steps")
    parser.add_argument("--device", default="cpu", help="run.device (the curve is meant for the CPU)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    values = {"run.device": args.device, "run.validate": True}
    if args.epochs is not None:
        values["optim.num_epochs"] = args.epochs
    if args.steps is not None:
        values["run.max_steps"] = args.steps
    trainer = Trainer(load_config(args.config, args.overrides, values), args.out)
    if trainer.val_set is None:
        parser.error("the config gives no validation set with ground truth")
    validate = trainer.validate

    def timed_validate() -> dict | None:
        begin = time.perf_counter(), time.process_time()
        result = validate()
        validation_time[0] += time.perf_counter() - begin[0]
        validation_time[1] += time.process_time() - begin[1]
        return result

    validation_time = [0.0, 0.0]  # wall, CPU
    trainer.validate = timed_validate
    start = time.perf_counter(), time.process_time()
    curve = [{"epoch": 0, "step": 0, **trainer.validate()}]
    print(f"before training: abs_rel {curve[0]['abs_rel']:.4f}, photometric {curve[0]['photometric']:.4f} "
          f"({curve[0]['images']} val images)", flush=True)
    trainer.train()
    curve += trainer.history
    seconds = time.perf_counter() - start[0]
    training = seconds - validation_time[0]
    training_cpu = time.process_time() - start[1] - validation_time[1]
    columns = [k for k in COLUMNS if k in curve[0]]
    print(f"\n{'epoch':>5} {'step':>6} " + " ".join(f"{k:>{max(len(k), 8)}}" for k in columns))
    for row in curve:
        print(f"{row['epoch']:>5} {row['step']:>6} " + " ".join(f"{row.get(k, float('nan')):>{max(len(k), 8)}.4f}"
                                                               for k in columns))
    print(f"({seconds / 60:.1f} min; training {trainer.step} steps of batch {trainer.config.optim.batch_size} in "
          f"{training:.0f} s = {trainer.step / training:.3f} steps/s, data loading in this process included; "
          f"CPU time {training_cpu / max(trainer.step, 1):.2f} s/step (what an otherwise idle machine would take "
          f"at this thread count); validation {validation_time[0]:.0f} s)")
    (args.out / "curve.json").write_text(json.dumps(curve, indent=1))
    plotted = [k for k in PLOTTED if k in curve[0]]
    fig, axes = plt.subplots(1, len(plotted), figsize=(4.5 * len(plotted), 3.2), squeeze=False)
    steps = [r["step"] for r in curve]
    for ax, key in zip(axes[0], plotted):
        ax.plot(steps, [r.get(key, float("nan")) for r in curve], "o-")
        ax.set_xlabel("step")
        ax.set_ylabel(PLOTTED[key])
        ax.grid(alpha=0.3)
    fig.suptitle(f"synthetic world, held-out streets: {trainer.config.loss.mode} learning curve")
    fig.tight_layout()
    fig.savefig(args.out / "curve.png", dpi=120)
    print(f"curve: {args.out / 'curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
