#!/usr/bin/env python3
"""Ablation of the paper variants: the default network (Semantic-Guided Representation Enhancement) and
each variant of the other three papers alone, trained on the same data with the same budget and seed,
evaluated under one protocol (docs/variants.md explains every switch).

Columns: the seven depth metrics (image averages, per-image median scaling), the class-average Abs Rel
(Semantically-Guided Representation Learning, Table 2's last column: the mean over classes of the
pixel-pooled per-class Abs Rel), parameters of the deployed network (with the frozen guide's share)
and ms per image (the network stage of the Predictor, batch 1, median of repeated runs, on the
device the run uses). Writes OUT/ablation.md, OUT/ablation.json, OUT/class_abs_rel.png (the Fig. 4
layout of Semantically-Guided Representation Learning), with --low-light OUT/low_light.png (SIGNet,
Fig. 6, every variant) and, with --docs, the table into the marked section of docs/variants.md plus
docs/variants_ablation_<kind>.json and the figures under docs/images/.

CPU, synthetic world (the documented run, ~40 min on 2 shared cores):
    python scripts/ablation.py --out /tmp/ablation --low-light --docs docs/variants.md
Real video on a GPU (KITTI raw layout with the split folder of docs/data.md; the model is selected
on nothing, the last checkpoint is evaluated on the split's test_files.txt with Velodyne GT):
    python scripts/ablation.py --kind kitti --data $DATA/real/kitti_raw \
        --split $DATA/real/splits/real_kitti_plus --device cuda --height 192 --width 640 \
        --layers 18 --width-mult 1.0 --steps 3000 --batch-size 12 --out runs/ablation_kitti --docs docs/variants.md
Needs torch, numpy, cv2, matplotlib, tqdm, yaml (no ROS, no rosbags).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from semdepth_ros.checkpoint import describe_architecture, load_checkpoint, read_meta  # noqa: E402
from semdepth_ros.metrics import METRIC_NAMES  # noqa: E402
from semdepth_ros.predictor import Predictor  # noqa: E402
from semdepth_ros.scale import NO_SCALE  # noqa: E402
from semdepth_training.config import load_config  # noqa: E402
from semdepth_training.datasets import build_eval_dataset  # noqa: E402
from semdepth_training.evaluation.evaluate import EvalOptions, EvalResult, evaluate  # noqa: E402
from semdepth_training.evaluation.low_light import NOISE_LEVELS, evaluate_low_light, low_light_figure  # noqa: E402
from semdepth_training.evaluation.report import class_figure  # noqa: E402
from semdepth_training.evaluation.samples import eval_samples  # noqa: E402
from semdepth_training.trainer import MODELS_DIR, Trainer  # noqa: E402
from semdepth_training.two_stage import EXCLUDED_FILE, run_two_stage  # noqa: E402

DEFAULT_GUIDE = REPO / "semdepth_ros" / "data" / "default_model.pt"


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    paper: str
    label: str
    switches: dict[str, Any]


def variants(guide: Path) -> list[Variant]:
    """The default and each paper's switches alone (weights of the added loss terms: docs/variants.md)."""
    frozen = {"model.guide": "branch", "model.guide_path": str(guide)}
    return [
        Variant("default", "Semantic-Guided Representation Enhancement", "sem + SEEM + attention (default)", {}),
        Variant("sgrl-pac", "Semantically-Guided Representation Learning", "+ PAC guided by a frozen semantic net",
                {**frozen, "model.pac": True}),
        Variant("sgrl-pac-tst", "Semantically-Guided Representation Learning", "+ PAC + two-stage training",
                {**frozen, "model.pac": True, "two_stage.enabled": True}),
        Variant("ldid", "Look Deeper into Depth", "+ lateral sharing + L_DA + L_JG",
                {"model.lateral_sharing": True, "loss.depth_aware_weight": 0.01, "loss.joint_gradient_weight": 0.1}),
        Variant("signet", "SIGNet", "+ semantic input (one-hot, edges) + semantic losses",
                {**frozen, "model.semantic_input": "onehot", "model.semantic_input_edges": True,
                 "loss.semantic_warp_weight": 0.1, "loss.masked_reconstruction": True,
                 "loss.semantic_smoothness": True}),
    ]


def base_values(args: argparse.Namespace) -> dict[str, Any]:
    """The shared recipe: data, size, network size, budget, seed."""
    values = {"data.dataset": args.kind, "data.height": args.height, "data.width": args.width,
              "data.num_workers": args.workers, "model.num_layers": args.layers, "model.width": args.width_mult,
              "optim.batch_size": args.batch_size, "optim.num_epochs": 1000, "optim.learning_rate": args.lr,
              "run.max_steps": args.steps, "run.device": args.device, "run.seed": args.seed,
              "run.validate": False, "run.log_every": 10, "run.image_every": 10 ** 9}
    if args.kind == "synthetic":
        values.update({"data.eval_crop": None, "pose.source": "dataset",
                       "data.options": {"num_sequences": args.train_sequences,
                                        "config": {"num_frames": args.train_frames}}})
    else:
        values.update({"data.path": str(args.data), "data.split": str(args.split), "pose.source": "network"})
    return values


def warm_start(model: torch.nn.Module, checkpoint: Path) -> dict[str, int]:
    """Copy every tensor the variant shares with ``checkpoint``'s network: same names, plus the 3x3
    weights of a pixel-adaptive upconv from the plain upconv it replaces and the RGB part of a first
    convolution that takes extra (class-map) channels, whose extra weights start at 0. The frozen guide
    keeps its own weights. Returns counts of copied and newly initialised tensors."""
    source, _ = load_checkpoint(checkpoint)
    theirs = source.state_dict()
    ours = model.state_dict()
    copied, fresh = 0, 0
    for key, tensor in ours.items():
        if key.startswith("guide."):
            continue
        alias = re.sub(r"^(depth_decoder\.upconvs\.\d+\.conv)\.(weight|bias)$", r"\1.conv.\2", key)
        value = theirs.get(key, theirs.get(alias))
        if value is not None and value.shape == tensor.shape:
            tensor.copy_(value)
        elif key == "encoder.conv1.weight" and value is not None and value.shape[1] < tensor.shape[1]:
            tensor.zero_()
            tensor[:, :value.shape[1]].copy_(value)
        else:
            fresh += 1
            continue
        copied += 1
    return {"copied": copied, "new": fresh}


def train(variant: Variant, args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """Train one variant; returns its last checkpoint and notes (frames dropped by two-stage training,
    tensors taken from the initial checkpoint)."""
    config = load_config(overrides=args.overrides, values={**base_values(args), **variant.switches})
    out = args.out / variant.name
    notes: dict[str, Any] = {}

    def prepare(trainer: Trainer) -> None:
        if args.init is not None:
            with torch.no_grad():
                notes["init"] = {"checkpoint": str(args.init), **warm_start(trainer.model, args.init)}

    if config.two_stage.enabled:
        summary = run_two_stage(config, out, prepare=prepare)
        if summary["stopped"]:
            raise SystemExit(f"stopped during {variant.name}")
        report = json.loads((out / EXCLUDED_FILE).read_text())
        notes.update(frames=report["frames"], dropped=report["dropped"], threshold_pixels=report["threshold_pixels"],
                     frames_without_plane=report["frames_without_plane"])
        return Path(summary["checkpoint"]), notes
    trainer = Trainer(config, out)
    prepare(trainer)
    if trainer.train()["stopped"]:
        raise SystemExit(f"stopped during {variant.name}")
    return out / MODELS_DIR / "last.pt", notes


def trained_run(variant: Variant, args: argparse.Namespace) -> dict[str, Any]:
    """Train the variant, or with --reuse-runs take the run an earlier invocation finished (OUT/<variant>/
    train_info.json: checkpoint, notes, training minutes, and the recipe it was trained with)."""
    info_path = args.out / variant.name / "train_info.json"
    recipe = {"base": base_values(args), "switches": variant.switches, "overrides": args.overrides,
              "init": str(args.init)}
    if args.reuse_runs and info_path.is_file():
        info = json.loads(info_path.read_text())
        if info["recipe"] != json.loads(json.dumps(recipe)):
            raise SystemExit(f"{info_path} was trained with another recipe; drop --reuse-runs or that folder")
        print(f"{variant.name}: reusing the run in {info_path.parent}", flush=True)
        return {k: info[k] for k in ("checkpoint", "notes", "train_minutes")}
    began = time.perf_counter()
    checkpoint, notes = train(variant, args)
    info = {"checkpoint": str(checkpoint), "notes": notes, "train_minutes": (time.perf_counter() - began) / 60,
            "recipe": recipe}
    info_path.write_text(json.dumps(info, indent=2))
    return {k: info[k] for k in ("checkpoint", "notes", "train_minutes")}


def resolve_init(args: argparse.Namespace) -> Path | None:
    if args.init == "none":
        return None
    if args.init != "auto":
        return Path(args.init)
    config = read_meta(args.guide).model_config
    return args.guide if (config.num_layers, config.width) == (args.layers, args.width_mult) else None


def test_samples(args: argparse.Namespace, height: int, width: int):
    """(factory of a fresh pass over the test set, its size, protocol options, description)."""
    if args.kind == "synthetic":
        dataset = build_eval_dataset("synthetic", None, height, width, synthetic_sequences=args.test_sequences,
                                     seed=args.seed + 1000)
        options = EvalOptions(crop=None, scaling="median", num_examples=0)
        what = (f"synthetic world, {args.test_sequences} held-out sequences (world seed {args.seed + 1000}, training "
                f"uses {args.seed}), exact depth (sky excluded), exact class ids, no crop")
    else:
        split_file = Path(args.split) / "test_files.txt"
        dataset = build_eval_dataset("kitti", args.data, height, width, split_file)
        options = EvalOptions(crop="garg", scaling="median", num_examples=0)
        what = f"KITTI {split_file} with Velodyne ground truth, Garg crop; class ids from classes/ PNGs where present"
    total = len(dataset) if args.test_frames is None else min(len(dataset), args.test_frames)
    cache = args.out / "gt_cache.npz" if args.kind == "kitti" and args.test_frames is None else None
    return (lambda: islice(eval_samples(dataset, gt_cache=cache), total)), total, options, what


def network_ms(predictor: Predictor, image: np.ndarray, repeats: int) -> float:
    """Median milliseconds of the network stage for one image (after warm-up runs): wall time on a GPU;
    on a CPU the process's CPU time with one thread, which other processes on a shared machine
    inflate far less than wall time."""
    cpu = predictor.device.type == "cpu"
    threads = torch.get_num_threads()
    if cpu:
        torch.set_num_threads(1)
    try:
        for _ in range(3):
            predictor.predict(image, scale=NO_SCALE, with_points=False)
        times = []
        for _ in range(repeats):
            start = time.process_time()
            pred = predictor.predict(image, scale=NO_SCALE, with_points=False)
            times.append((time.process_time() - start) * 1e3 if cpu else pred.timings["network"])
    finally:
        torch.set_num_threads(threads)
    return float(np.median(times))


def parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(all parameters of the deployed network, of which the frozen guide's)."""
    total = sum(p.numel() for p in model.parameters())
    guide = sum(p.numel() for p in model.guide.parameters()) if model.guide is not None else 0
    return total, guide


def evaluate_variant(checkpoint: Path, args: argparse.Namespace) -> tuple[dict[str, Any], EvalResult]:
    predictor = Predictor.load(checkpoint, device=args.device)
    make_samples, total, options, what = test_samples(args, predictor.height, predictor.width)
    result = evaluate(predictor, make_samples(), total, options)
    low_light = evaluate_low_light(predictor, make_samples, total, options) if args.low_light else None
    first = next(iter(make_samples())).image
    total_params, guide_params = parameters(predictor.model)
    row = {"metrics": result.metrics, "class_average_abs_rel": result.class_average.get("abs_rel"),
           "classes": len(result.by_class), "num_images": result.num_images, "params": total_params,
           "guide_params": guide_params, "ms_per_image": network_ms(predictor, first, args.timing_repeats),
           "architecture": describe_architecture(predictor.meta.model_config), "test_set": what,
           "scaling": result.scaling, **({"low_light": low_light} if low_light else {})}
    return row, result


LABELS = {"abs_rel": "Abs Rel", "sq_rel": "Sq Rel", "rmse": "RMSE", "rmse_log": "RMSE log",
          "a1": "δ<1.25", "a2": "δ<1.25²", "a3": "δ<1.25³"}


def low_light_table(rows: list[dict[str, Any]]) -> str:
    """Sq Rel (SIGNet Fig. 6's axis) and Abs Rel per darkness level, one row per variant."""
    done = [r for r in rows if "low_light" in r]
    levels = [level["darkness"] for level in done[0]["low_light"]]
    head = ["Variant"] + [f"{d:.1f}" for d in levels]
    lines = ["Sq Rel / Abs Rel by darkness (1 - intensity; read noise 2/255, SIGNet Fig. 6):", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in done:
        cells = [f"{level['metrics']['sq_rel']:.2f} / {level['metrics']['abs_rel']:.3f}" for level in r["low_light"]]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = (["Variant", "Paper"] + [LABELS[m] for m in METRIC_NAMES]
            + ["Class-avg Abs Rel", "Params (M)", "ms / image"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if "metrics" not in row:
            lines.append(f"| {row['label']} | {row['paper']} | " + " | ".join(["not run"] * (len(head) - 2)) + " |")
            continue
        m = row["metrics"]
        params = f"{row['params'] / 1e6:.2f}" + (f" ({row['guide_params'] / 1e6:.2f} frozen)" if row["guide_params"] else "")
        class_avg = row["class_average_abs_rel"]
        lines.append(f"| {row['label']} | {row['paper']} | " + " | ".join(f"{m[k]:.3f}" for k in METRIC_NAMES)
                     + f" | {'–' if class_avg is None else f'{class_avg:.3f}'} | {params} | {row['ms_per_image']:.1f} |")
    return "\n".join(lines)


def summary_text(rows: list[dict[str, Any]], args: argparse.Namespace, minutes: float) -> str:
    done = [r for r in rows if "metrics" in r]
    test = done[0]["test_set"] if done else "-"
    notes = [f"- {r['label']}: {r['notes']['dropped']} of {r['notes']['frames']} training frames dropped by the "
             f"two-stage check (> {r['notes']['threshold_pixels']} foreground pixels below the ground plane; "
             f"{r['notes']['frames_without_plane']} frames without a trustworthy plane kept)"
             for r in rows if "dropped" in r.get("notes", {})]
    per_variant = ", ".join(f"{r['name']} {r['train_minutes']:.1f}" for r in done)
    recipe = (f"{args.kind}; R{args.layers} width {args.width_mult:g}; {args.height}x{args.width}; {args.steps} steps of "
              f"batch {args.batch_size}; lr {args.lr:g}; seed {args.seed}; device {args.device}")
    if args.kind == "synthetic":
        recipe += (f"; {args.train_sequences} training sequences x {args.train_frames} frames, known camera poses "
                   "(pose.source dataset)")
    recipe += (f"; every variant starts from {shown(args.init)} (the tensors it shares with that network; new ones "
               "initialised: zero lateral weights, zero extra input channels, PAC from the plain upconv's weights), "
               "both stages of two-stage training too" if args.init is not None else "; random initialisation")
    return "\n".join([
        f"Recipe: {recipe}. Test set: {test}; {done[0]['num_images'] if done else 0} images; per-image median "
        "scaling, depth capped to (1e-3, 80] m. Class-average Abs Rel: mean over the classes present of the "
        "pixel-pooled Abs Rel. ms / image: the Predictor at batch 1, median; "
        + ("process CPU time with 1 thread (wall time on this shared CPU is noise). " if args.device == "cpu"
           else "network stage wall time. ")
        + f"Training time {sum(r['train_minutes'] for r in done):.0f} min in all ({per_variant}); this invocation "
        f"{minutes:.0f} min.",
        *([""] + notes if notes else [])])


def shown(path: Path) -> str:
    """A path as the docs print it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def write_docs(doc: Path, kind: str, table: str, summary: str, command: str, payload: dict[str, Any]) -> None:
    """Replace the section between <!-- ablation:KIND --> and <!-- /ablation:KIND --> in ``doc``."""
    begin, end = f"<!-- ablation:{kind} -->", f"<!-- /ablation:{kind} -->"
    text = doc.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{doc} has no {begin} ... {end} section to fill")
    block = f"{begin}\n```\n{command}\n```\n\n{table}\n\n{summary}\n{end}"
    doc.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S))
    (doc.parent / f"variants_ablation_{kind}.json").write_text(json.dumps(payload, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs and the results")
    parser.add_argument("--kind", choices=("synthetic", "kitti"), default="synthetic")
    parser.add_argument("--data", type=Path, default=None, help="--kind kitti: KITTI raw root")
    parser.add_argument("--split", type=Path, default=None,
                        help="--kind kitti: folder with train_files.txt, val_files.txt, test_files.txt")
    parser.add_argument("--variants", default=None, help="comma-separated subset (default: all)")
    parser.add_argument("--guide", type=Path, default=DEFAULT_GUIDE,
                        help="checkpoint whose semantic branch is the frozen guide (default: the bundled model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch (1: on a shared CPU more threads spin and run slower)")
    parser.add_argument("--init", default="auto",
                        help="checkpoint every variant starts from (shared tensors; see warm_start), 'none' for "
                             "random initialisation; 'auto': --guide when its architecture matches --layers and "
                             "--width-mult, else none")
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--width-mult", type=float, default=0.5, help="model.width (channel multiplier)")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--workers", type=int, default=0, help="data.num_workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-sequences", type=int, default=8, help="synthetic: training sequences")
    parser.add_argument("--train-frames", type=int, default=30, help="synthetic: frames per training sequence")
    parser.add_argument("--test-sequences", type=int, default=2, help="synthetic: held-out sequences")
    parser.add_argument("--test-frames", type=int, default=None, help="evaluate only the first N test frames")
    parser.add_argument("--timing-repeats", type=int, default=20)
    parser.add_argument("--time-box", type=float, default=None, help="minutes; variants not started by then are skipped")
    parser.add_argument("--docs", type=Path, default=None, help="docs/variants.md to fill (section of --kind)")
    parser.add_argument("--low-light", action="store_true",
                        help="also evaluate every variant at the darkness levels of SIGNet, Fig. 6 (low_light.png)")
    parser.add_argument("--reuse-runs", action="store_true",
                        help="take variants already trained in --out with the same recipe instead of training again")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="config override for every variant, e.g. model.pretrained_path=/w/resnet18.pth")
    args = parser.parse_args(argv)
    if args.kind == "kitti" and (args.data is None or args.split is None):
        parser.error("--kind kitti needs --data and --split")
    args.init = resolve_init(args)
    known = [v.name for v in variants(args.guide)]
    args.chosen = args.variants.split(",") if args.variants else known
    if sorted(set(args.chosen) - set(known)):
        parser.error(f"unknown variants {sorted(set(args.chosen) - set(known))}; choose from {known}")
    return args


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    chosen = [v for v in variants(args.guide) if v.name in args.chosen]
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows, by_class = [], {}
    for variant in chosen:
        row: dict[str, Any] = {"name": variant.name, "paper": variant.paper, "label": variant.label,
                               "switches": variant.switches}
        if args.time_box is not None and (time.perf_counter() - start) / 60 > args.time_box:
            print(f"time box of {args.time_box:g} min reached: {variant.name} not run", flush=True)
            rows.append(row)
            continue
        row.update(trained_run(variant, args))
        checkpoint = Path(row["checkpoint"])
        measured, result = evaluate_variant(checkpoint, args)
        row.update(measured)
        by_class[variant.label] = result.by_class
        rows.append(row)
        print(f"{variant.name}: abs_rel {row['metrics']['abs_rel']:.4f}, class-avg {row['class_average_abs_rel']}, "
              f"{row['ms_per_image']:.1f} ms ({row['train_minutes']:.1f} min training)", flush=True)
    minutes = (time.perf_counter() - start) / 60
    table, summary = markdown_table(rows), summary_text(rows, args, minutes)
    curves = {r["label"]: r["low_light"] for r in rows if "low_light" in r}
    if curves:
        summary += "\n\n" + low_light_table(rows)
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    payload = {"command": command, "minutes": minutes, "args": {k: str(v) for k, v in vars(args).items()},
               "rows": rows}
    (args.out / "ablation.md").write_text(table + "\n\n" + summary + "\n")
    (args.out / "ablation.json").write_text(json.dumps(payload, indent=2))
    if by_class:
        class_figure(by_class, title=f"Class-specific Abs Rel ({args.kind})").savefig(args.out / "class_abs_rel.png",
                                                                                      dpi=110)
    if curves:
        low_light_figure(curves, NOISE_LEVELS, 1.0).savefig(args.out / "low_light.png", dpi=110)
    if args.docs is not None:
        write_docs(args.docs, args.kind, table, summary, command, payload)
        images = args.docs.parent / "images"
        if by_class:
            class_figure(by_class, title=f"Class-specific Abs Rel ({args.kind})").savefig(
                images / f"variants_class_abs_rel_{args.kind}.png", dpi=110)
        if curves:
            low_light_figure(curves, NOISE_LEVELS, 1.0).savefig(images / f"variants_low_light_{args.kind}.png", dpi=110)
    print(table + "\n\n" + summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
