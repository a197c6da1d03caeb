"""Evaluate a checkpoint (KITTI Eigen protocol, image folders, synthetic).

KITTI: `semdepth evaluate --checkpoint model.pt --data KITTI_RAW --kind kitti --split
splits/eigen/test_files.txt` (Velodyne GT, Garg crop, median scaling; the GT is cached after the first
run). Improved GT: `--split splits/eigen_benchmark/test_files.txt --gt improved [--gt-root ANNOTATED]`.
Without --checkpoint the default model is evaluated (as predict and eval-bag do). Writes report.md (in
the layout of Semantic-Guided Representation Enhancement, Table 1, with the constant-depth baseline as a
second row), metrics.json and PNG figures to --out. `--low-light` evaluates at several darkness levels
instead (SIGNet, Fig. 6).
"""
from __future__ import annotations

import argparse
import os
import sys
from itertools import islice
from pathlib import Path
from typing import Any

from semdepth_ros.checkpoint import CheckpointError, CheckpointMeta
from semdepth_ros.metrics import BASELINE_LABEL, MAX_DEPTH, MIN_DEPTH, scale_warning
from semdepth_ros.predictor import Predictor
from semdepth_training.evaluation.evaluate import SCALINGS, EvalOptions, evaluate
from semdepth_training.evaluation.kitti_gt import GT_SOURCES
from semdepth_training.datasets import DATASETS, build_eval_dataset
from semdepth_training.evaluation.low_light import DARKNESS_LEVELS, NOISE_LEVELS, evaluate_low_light, write_low_light
from semdepth_training.evaluation.samples import eval_samples
from semdepth_training.evaluation.report import write_report
from semdepth_training.pseudo_labels import LabelError

CROPS = ("garg", "eigen", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint file (semdepth train/export; default: $SEMDEPTH_DEFAULT_MODEL or the "
                             "bundled model)")
    parser.add_argument("--data", type=Path, default=None, help="dataset root (KITTI raw or image folder)")
    parser.add_argument("--kind", choices=tuple(DATASETS), default="kitti", help="dataset layout")
    parser.add_argument("--split", type=Path, default=None, help="KITTI split file, e.g. eigen/test_files.txt")
    parser.add_argument("--gt", choices=GT_SOURCES, default="velodyne",
                        help="KITTI ground truth: raw Velodyne or improved (data_depth_annotated) PNGs")
    parser.add_argument("--gt-root", type=Path, default=None, help="improved-GT root (default: --data)")
    parser.add_argument("--gt-cache", type=Path, default=None,
                        help="KITTI GT cache .npz (default: ~/.cache/semdepth/gt_<split>_<gt>.npz)")
    parser.add_argument("--no-gt-cache", action="store_true", help="recompute KITTI GT, write no cache")
    parser.add_argument("--scaling", choices=SCALINGS, default="median",
                        help="median: per-image median GT/pred ratio (monocular protocol); fixed: one factor")
    parser.add_argument("--scale-factor", type=float, default=None,
                        help="factor for --scaling fixed (default: the checkpoint's metric scale)")
    parser.add_argument("--crop", choices=CROPS, default=None,
                        help="default: garg for KITTI Velodyne GT (Eigen split), none otherwise")
    parser.add_argument("--min-depth", type=float, default=MIN_DEPTH, help="GT cap, lower (exclusive)")
    parser.add_argument("--max-depth", type=float, default=MAX_DEPTH, help="GT cap, upper (inclusive)")
    parser.add_argument("--synthetic-sequences", type=int, default=2, help="--kind synthetic: sequences")
    parser.add_argument("--seed", type=int, default=1, help="--kind synthetic: world seed (training uses 0)")
    parser.add_argument("--max-frames", type=int, default=None, help="evaluate only the first N frames")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--examples", type=int, default=4, help="rows in the qualitative figure")
    parser.add_argument("--method", default=None, help="row label in the table (default: checkpoint name)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: eval_<checkpoint>)")
    low = parser.add_argument_group("low-light robustness (SIGNet, Fig. 6)")
    low.add_argument("--low-light", action="store_true",
                     help="evaluate at several darkness levels instead (low_light.md/.json/.png in --out)")
    low.add_argument("--darkness", type=float, nargs="+", default=list(DARKNESS_LEVELS),
                     help="darkness = 1 - intensity per level, each in [0, 1)")
    low.add_argument("--noise", type=float, default=NOISE_LEVELS, help="read noise std in 8-bit levels (0: none)")
    low.add_argument("--gamma", type=float, default=1.0, help="x^gamma before darkening (> 1 crushes shadows)")


def default_gt_cache(split: Path | None, gt: str) -> Path | None:
    """One cache per split file and GT source, reused by every later evaluation on this machine."""
    if split is None:
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "semdepth"
    return base / f"gt_{split.parent.name}_{split.stem}_{gt}.npz"


def _options(args: argparse.Namespace, checkpoint_scale: float) -> EvalOptions:
    crop = args.crop or ("garg" if args.kind == "kitti" and args.gt == "velodyne" else "none")
    return EvalOptions(crop=None if crop == "none" else crop, scaling=args.scaling,
                       scale_factor=checkpoint_scale if args.scale_factor is None else args.scale_factor,
                       min_depth=args.min_depth, max_depth=args.max_depth, batch_size=args.batch_size,
                       num_examples=args.examples)


def _ground_truth(args: argparse.Namespace) -> str:
    if args.kind == "kitti" and args.gt == "velodyne":
        return ("KITTI Velodyne scans, projected with P_rect_02 R_rect_00 [R|T] at the rectified size, pixel = "
                "round(x) - 1 (KITTI/Monodepth2), nearest point per pixel (semdepth_ros.lidar)")
    if args.kind == "kitti":
        return f"KITTI improved ground truth (data_depth_annotated PNGs under {args.gt_root or args.data})"
    if args.kind == "synthetic":
        return "the synthetic world's exact depth (sky excluded)"
    return f"the dataset's depth maps (depth/<stem>.npy under {args.data})"


def _frames(args: argparse.Namespace, dataset: Any, total: int) -> str:
    if args.kind == "kitti":
        text = f"split {args.split} ({len(dataset)} entries"
        text += f", {dataset.num_skipped} without neighbour frames left out)" if dataset.num_skipped else ")"
    elif args.kind == "synthetic":
        text = f"{args.synthetic_sequences} synthetic sequences of world seed {args.seed} ({len(dataset)} frames)"
    else:
        text = f"every frame with depth under {args.data} ({len(dataset)} frames)"
    return text + (f"; the first {total} only (--max-frames)" if args.max_frames is not None else "")


def _scale_check(options: EvalOptions, meta: CheckpointMeta, scaling: dict[str, Any],
                 given: bool) -> tuple[str, list[str]]:
    """The scale line of the report and the warnings: the factor used (fixed) or the checkpoint's
    stored one (median) against the factor this ground truth asks for."""
    measured = scaling["gt_ratio_median"]
    text = f"checkpoint {meta.describe_scale()}; this ground truth asks for x{measured:.4g} (median over images)"
    if options.scaling == "fixed" and given:
        text = f"given x{options.scale_factor:g} (--scale-factor); {text}"
        what = "the given metric scale"
        factor = options.scale_factor
    else:
        what = f"the checkpoint's metric scale ({meta.scale_source}; measured on {meta.scale_domain})"
        factor = meta.scale_factor
    warning = scale_warning(factor, what, measured)
    return text, [warning] if warning else []


def _run_low_light(args: argparse.Namespace, predictor: Predictor, dataset: Any, make_samples, total: int) -> int:
    if not all(0.0 <= d < 1.0 for d in args.darkness):
        print(f"error: --darkness values must be in [0, 1), got {args.darkness}")
        return 2
    options = _options(args, predictor.meta.scale_factor)
    rows = evaluate_low_light(predictor, make_samples, total, options, args.darkness, args.noise, args.gamma)
    stem = Path(predictor.checkpoint_path).stem
    method = args.method or stem
    protocol = (f"Ground truth: {_ground_truth(args)}; frames: {_frames(args, dataset, total)}; crop: "
                f"{options.crop or 'none'}; scaling: {options.scaling}.")
    paths = write_low_light(rows, args.out or Path(f"eval_{stem}"), method, args.noise, args.gamma, protocol,
                            {"checkpoint": predictor.checkpoint_path, "data": str(args.data), "kind": args.kind})
    for row in rows:
        m = row["metrics"]
        print(f"darkness {row['darkness']:.2f}: abs_rel {m['abs_rel']:.3f} sq_rel {m['sq_rel']:.3f} "
              f"rmse {m['rmse']:.3f} a1 {m['a1']:.3f}")
    print(f"report: {paths['markdown']}; figure: {paths['figure']}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        predictor = Predictor.load(args.checkpoint, device=args.device)
        meta = predictor.meta
        dataset = build_eval_dataset(args.kind, args.data, meta.input_height, meta.input_width, args.split,
                                     args.synthetic_sequences, args.seed)
    except (CheckpointError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}")
        return 2
    # A partial run (--max-frames) computes only its frames' GT and leaves the cache alone.
    cache = None if args.no_gt_cache or args.max_frames \
        else (args.gt_cache or default_gt_cache(args.split, args.gt))
    samples, total = eval_samples(dataset, args.gt, args.gt_root, cache), len(dataset)
    if args.max_frames is not None:
        samples, total = islice(samples, args.max_frames), min(total, args.max_frames)
    if args.low_light:
        return _run_low_light(args, predictor, dataset, lambda: islice(eval_samples(dataset, args.gt, args.gt_root, cache),
                                                               total), total)
    try:
        result = evaluate(predictor, samples, total, _options(args, meta.scale_factor))
    except (FileNotFoundError, LabelError) as error:  # a GT file or label PNG missing or malformed
        print(f"error: {error}")
        return 1
    checkpoint = Path(predictor.checkpoint_path)
    out = args.out or Path(f"eval_{checkpoint.stem}")
    options = _options(args, meta.scale_factor)
    scale_text, warnings = _scale_check(options, meta, result.scaling, args.scale_factor is not None)
    config = {"checkpoint": str(checkpoint), "data": str(args.data), "kind": args.kind,
              "split": str(args.split) if args.split else None,
              "gt": args.gt if args.kind == "kitti" else "dataset"}
    context = {"ground_truth": _ground_truth(args), "frames": _frames(args, dataset, total), "scale": scale_text,
               "checkpoint_scale": {"factor": meta.scale_factor, "source": meta.scale_source,
                                    "domain": meta.scale_domain},
               "warnings": warnings}
    # The "Training" column of Semantic-Guided Representation Enhancement, Table 1.
    training = "M+Sem" if meta.model_config.semantic else "M"
    paths = write_report(result, out, args.method or checkpoint.stem, training, config, context)
    for label, m in ((checkpoint.stem, result.metrics), (BASELINE_LABEL, result.baseline)):
        print(f"{result.num_images} images, {label}: abs_rel {m['abs_rel']:.4f} sq_rel {m['sq_rel']:.4f} "
              f"rmse {m['rmse']:.4f} rmse_log {m['rmse_log']:.4f} a1 {m['a1']:.4f} a2 {m['a2']:.4f} a3 {m['a3']:.4f}")
    print(f"scaling: {options.scaling}; metric scale: {scale_text}")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"report: {paths['markdown']}")
    return 0
