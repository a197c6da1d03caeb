#!/usr/bin/env python3
"""Does the papers' self-supervised regime learn depth from scratch at the papers' resolution, with
and without mixed precision?

On the CPU (docs/training.md, "The papers' regime from scratch") this code and the public Monodepth2
code learn identically on real KITTI frames at 64x224, and both fail on the synthetic world. This
script runs the same regime (ResNet-18 depth + pose nets, no ImageNet weights, photometric + min
reprojection + auto-mask + smoothness, Adam 1e-4, batch 12) at 192x640 on a GPU, once in fp32 and once
with AMP (as the failed H200 run), each for an equal share of ``--seconds``, and prints the learning
curves: median-scaled AbsRel on the validation frames (the constant-depth floor for reference), the
validation photometric error, and the pose net's translation-direction cosine against the true poses.

Data: image folders (docs/training.md, "Your own recordings") given by --train and --val; the
validation folder needs depth/ and poses.txt. Without them, synthetic streets are rendered (~30 s on
16 cores) and used for both. Example, with a real-KITTI pack copied to runs/regime_pack:

    PYTHONPATH=. python3 scripts/regime_gpu_check.py --out $OUT --seconds 120 \
        --train runs/regime_pack/train --val runs/regime_pack/val --crop garg

Writes OUT/curves.json (every validation point) and OUT/curves.png, and prints a table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from semdepth_ros.metrics import compute_depth_errors, prepare_eval_pixels  # noqa: E402
from semdepth_synth import SynthConfig  # noqa: E402
from semdepth_synth.writer import write_sequence  # noqa: E402
from semdepth_training.config import load_config  # noqa: E402
from semdepth_training.datasets import build_dataset  # noqa: E402
from semdepth_training.trainer import Trainer  # noqa: E402

# name -> overrides of the papers' regime.
VARIANTS: dict[str, dict[str, object]] = {
    "fp32": {"run.amp": False},
    "amp": {"run.amp": True},
}


class Epochs(torch.utils.data.Dataset):
    """``epochs`` passes over ``base`` as one dataset, so DataLoader workers start once even when an
    epoch is a few steps: item k is sample k % n of epoch k // n (fresh flips and jitter per epoch)."""

    def __init__(self, base: torch.utils.data.Dataset, epochs: int) -> None:
        self.base, self.epochs = base, epochs

    def __len__(self) -> int:
        return len(self.base) * self.epochs

    def __getitem__(self, k: int) -> dict:
        self.base.set_epoch(k // len(self.base))
        return self.base[k % len(self.base)]


def render(root: Path, seed: int, sequences: int, frames: int, height: int, width: int, workers: int) -> Path:
    config = SynthConfig(height=height, width=width, num_frames=frames)
    jobs = [(root / f"seq_{seed + k:05d}", replace(config, seed=seed + k)) for k in range(sequences)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(write_sequence, *zip(*jobs), [True] * len(jobs)))
    return root


def constant_floor(val_root: Path, height: int, width: int, crop: str | None) -> float:
    """AbsRel of one constant depth per image, median scaled: a network that learned no depth."""
    dataset = build_dataset("folder", root=val_root, height=height, width=width)
    errors = []
    for i in range(len(dataset)):
        gt = dataset[i]["depth_gt"][0].numpy()
        pixels = prepare_eval_pixels(gt, np.ones_like(gt), crop)
        errors.append(compute_depth_errors(pixels.gt, pixels.pred)["abs_rel"])
    return float(np.mean(errors))


def run_variant(name: str, overrides: dict[str, object], args: argparse.Namespace, train_root: Path,
                val_root: Path, seconds: float) -> list[dict[str, float]]:
    values = {"data.dataset": "folder", "data.path": str(train_root), "data.val_path": str(val_root),
              "data.height": args.height, "data.width": args.width, "data.num_workers": args.workers,
              "data.eval_crop": args.crop, "model.num_layers": 18, "model.semantic": False, "model.seem": False,
              "model.attention": False, "pose.source": "network", "optim.batch_size": args.batch,
              "optim.scheduler_step_size": 10 ** 6, "run.device": args.device, "run.seed": args.seed,
              "run.log_every": 10 ** 9, "run.image_every": 10 ** 9, **overrides}
    trainer = Trainer(load_config(values=values), args.out / "runs" / name.replace(" ", "_"))
    loader = torch.utils.data.DataLoader(Epochs(trainer.train_set, 10_000), batch_size=args.batch, shuffle=True,
                                         drop_last=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0,
                                         pin_memory=trainer.device.type == "cuda")
    curve = [{"step": 0, "seconds": 0.0, **trainer.validate()}]
    print(f"[{name}] step 0: {curve[-1]}", flush=True)
    # Budget: wall-clock time of training, data loading included, validation excluded.
    step, validating, start = 0, 0.0, time.perf_counter()
    for batch in loader:
        trainer.train_step(batch)
        step += 1
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        training = time.perf_counter() - start - validating
        done = training >= seconds
        if step % args.val_every == 0 or done:
            tick = time.perf_counter()
            curve.append({"step": step, "seconds": training, "images_per_s": step * args.batch / training,
                          **trainer.validate()})
            validating += time.perf_counter() - tick
            print(f"[{name}] step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in curve[-1].items()), flush=True)
        if done:
            break
    return curve


def plot(results: dict[str, list[dict[str, float]]], floor: float, path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib not installed: no curves.png (curves.json has the same numbers)")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, curve in results.items():
        steps = [p["step"] for p in curve]
        for ax, key in zip(axes, ("abs_rel", "photometric", "pose_cosine")):
            ax.plot(steps, [p.get(key, np.nan) for p in curve], marker=".", label=name)
    axes[0].axhline(floor, color="grey", linestyle="--", label="constant depth")
    for ax, title in zip(axes, ("val AbsRel (median-scaled)", "val photometric",
                                "pose translation cosine vs truth (both orders)")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=120.0, help="training time shared by the variants")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--train", type=Path, default=None, help="image-folder root to train on")
    parser.add_argument("--val", type=Path, default=None, help="image-folder root with depth/ and poses.txt")
    parser.add_argument("--crop", choices=["garg", "eigen"], default=None, help="evaluation crop (KITTI: garg)")
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--sequences", type=int, default=32, help="training streets")
    parser.add_argument("--frames", type=int, default=30, help="frames per street")
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("/tmp/regime_gpu_check"), help="rendered streets")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if (args.train is None) != (args.val is None):
        parser.error("give both --train and --val, or neither (synthetic streets)")
    if args.train is None:
        train_root = render(args.data / "train", 0, args.sequences, args.frames, args.height, args.width, 16)
        val_root = render(args.data / "val", 50_000, 4, 12, args.height, args.width, 16)  # other streets
    else:
        train_root, val_root = args.train, args.val
    floor = constant_floor(val_root, args.height, args.width, args.crop)
    print(f"data ready in {time.perf_counter() - t0:.0f} s; constant-depth AbsRel floor {floor:.3f}", flush=True)
    results = {name: run_variant(name, overrides, args, train_root, val_root, args.seconds / len(VARIANTS))
               for name, overrides in VARIANTS.items()}
    (args.out / "curves.json").write_text(json.dumps({"floor": floor, "args": {k: str(v) for k, v in vars(args).items()},
                                                      "curves": results}, indent=1))
    plot(results, floor, args.out / "curves.png")
    print(f"\n{'variant':<30} {'step':>6} {'img/s':>7} {'abs_rel':>8} {'photo':>7} {'pose_cos':>8}")
    for name, curve in results.items():
        for p in curve:
            print(f"{name:<30} {p['step']:>6} {p.get('images_per_s', 0):>7.0f} {p.get('abs_rel', np.nan):>8.3f} "
                  f"{p['photometric']:>7.4f} {p.get('pose_cosine', np.nan):>8.3f}")
    print(f"(constant-depth floor {floor:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
