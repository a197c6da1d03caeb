"""Evaluate a checkpoint (KITTI Eigen protocol, image folders, synthetic).

KITTI: `semdepth evaluate --checkpoint model.pt --data KITTI_RAW --kind kitti --split
splits/eigen/test_files.txt` (Velodyne GT, Garg crop, median scaling; the GT is cached after the first
run). Improved GT: `--split splits/eigen_benchmark/test_files.txt --gt improved [--gt-root ANNOTATED]`.
Writes report.md (in the layout of Semantic-Guided Representation Enhancement, Table 1), metrics.json
and PNG figures to --out. `--low-light` evaluates at several darkness levels instead (SIGNet, Fig. 6).
"""
from __future__ import annotations

import argparse
import os
from itertools import islice
from pathlib import Path

from semdepth_ros.checkpoint import CheckpointError
from semdepth_ros.metrics import MAX_DEPTH, MIN_DEPTH
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
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint file (semdepth train/export)")
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


def _run_low_light(args: argparse.Namespace, predictor: Predictor, make_samples, total: int) -> int:
    if not all(0.0 <= d < 1.0 for d in args.darkness):
        print(f"error: --darkness values must be in [0, 1), got {args.darkness}")
        return 2
    options = _options(args, predictor.meta.scale_factor)
    rows = evaluate_low_light(predictor, make_samples, total, options, args.darkness, args.noise, args.gamma)
    stem = Path(predictor.checkpoint_path).stem
    method = args.method or stem
    protocol = (f"Ground truth: {args.kind} ({args.gt if args.kind == 'kitti' else 'dataset depth'}); crop: "
                f"{options.crop or 'none'}; scaling: {options.scaling}; {total} frames.")
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
        return _run_low_light(args, predictor, lambda: islice(eval_samples(dataset, args.gt, args.gt_root, cache),
                                                               total), total)
    try:
        result = evaluate(predictor, samples, total, _options(args, meta.scale_factor))
    except (FileNotFoundError, LabelError) as error:  # a GT file or label PNG missing or malformed
        print(f"error: {error}")
        return 1
    out = args.out or Path(f"eval_{args.checkpoint.stem}")
    config = {"checkpoint": str(args.checkpoint), "data": str(args.data), "kind": args.kind,
              "split": str(args.split) if args.split else None,
              "gt": args.gt if args.kind == "kitti" else "dataset"}
    # The "Training" column of Semantic-Guided Representation Enhancement, Table 1.
    training = "M+Sem" if meta.model_config.semantic else "M"
    paths = write_report(result, out, args.method or args.checkpoint.stem, training, config)
    m = result.metrics
    print(f"{result.num_images} images: abs_rel {m['abs_rel']:.3f} sq_rel {m['sq_rel']:.3f} rmse {m['rmse']:.3f} "
          f"rmse_log {m['rmse_log']:.3f} a1 {m['a1']:.3f} a2 {m['a2']:.3f} a3 {m['a3']:.3f}")
    print(f"report: {paths['markdown']}")
    return 0
