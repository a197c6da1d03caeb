#!/usr/bin/env python3
"""Learning curve on the synthetic world: train on the CPU, print median-scaled AbsRel against the
generator's exact depth and the held-out photometric error before training and after every epoch,
and plot both to RUN_DIR/curve.png.

The validation streets are not the training ones (seed run.seed + 1). The default config
(synthetic_r18.yaml) takes ego-motion from the generator (pose.source: dataset, docs/training.md):
AbsRel falls within minutes. With the pose net (the papers' regime) the photometric error falls from
the first epoch, but AbsRel does not: from random initialisation the pose net settles on a sideways
motion in this world, as it does with Monodepth2's own code (docs/training.md; on real video both
learn).

    python scripts/train_synthetic_curve.py --out runs/curve --epochs 3
    python scripts/train_synthetic_curve.py --out runs/curve_posenet --epochs 5 --set pose.source=network
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out", type=Path, required=True, help="new run folder")
    parser.add_argument("--epochs", type=int, default=None, help="sets optim.num_epochs")
    parser.add_argument("--device", default="cpu", help="run.device (the curve is meant for the CPU)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    values = {"run.device": args.device, "run.validate": True}
    if args.epochs is not None:
        values["optim.num_epochs"] = args.epochs
    trainer = Trainer(load_config(args.config, args.overrides, values), args.out)
    if trainer.val_set is None:
        parser.error("the config gives no validation set with ground truth")
    start = time.perf_counter()
    curve = [{"epoch": 0, "step": 0, **trainer.validate()}]
    print(f"before training: abs_rel {curve[0]['abs_rel']:.4f}, photometric {curve[0]['photometric']:.4f} "
          f"({curve[0]['images']} val images)", flush=True)
    trainer.train()
    curve += trainer.history
    minutes = (time.perf_counter() - start) / 60
    print(f"\n{'epoch':>5} {'step':>6} {'photometric':>11} {'abs_rel':>8} {'sq_rel':>8} {'rmse':>7} {'a1':>6}")
    for row in curve:
        print(f"{row['epoch']:>5} {row['step']:>6} {row['photometric']:>11.4f} {row['abs_rel']:>8.4f} "
              f"{row['sq_rel']:>8.4f} {row['rmse']:>7.3f} {row['a1']:>6.3f}")
    print(f"({minutes:.1f} min)")
    (args.out / "curve.json").write_text(json.dumps(curve, indent=1))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = [r["epoch"] for r in curve]
    for ax, key, label in zip(axes, ("abs_rel", "photometric"),
                              ("AbsRel vs GT (median-scaled)", "photometric error Lp")):
        ax.plot(epochs, [r[key] for r in curve], "o-")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle("synthetic world, held-out streets: self-supervised learning curve")
    fig.tight_layout()
    fig.savefig(args.out / "curve.png", dpi=120)
    print(f"curve: {args.out / 'curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
