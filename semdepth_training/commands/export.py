"""Export a node checkpoint (with metric scale) and an ONNX model.

`semdepth export --run RUN_DIR | --checkpoint FILE --out model.pt [--onnx model.onnx]` plus one scale
source: `--scale-from-val` (median GT/prediction ratio on --val-data, which needs depth GT),
`--camera-height H` (metres; ground-plane fit on --val-data images, no GT needed) or `--scale-factor F`.
Without one, the source checkpoint's factor is kept.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from semdepth_ros.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from semdepth_ros.predictor import Predictor
from semdepth_training.evaluation.kitti_gt import GT_SOURCES
from semdepth_training.datasets import DATASETS, build_eval_dataset
from semdepth_training.export import (SELECTIONS, ExportError, export_onnx, scale_from_camera_height,
                                      scale_from_ground_truth, select_checkpoint, with_scale)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path, help="a `semdepth train` run folder")
    source.add_argument("--checkpoint", type=Path, help="a checkpoint file")
    parser.add_argument("--select", choices=SELECTIONS, default="last",
                        help="--run: newest checkpoint or the epoch with the best validation Abs Rel")
    parser.add_argument("--out", type=Path, required=True, help="node checkpoint to write (.pt)")
    parser.add_argument("--onnx", type=Path, default=None, help="also write the network as ONNX, verified")
    parser.add_argument("--half", action="store_true", help="store weights as fp16 (half the file size)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--scale-from-val", action="store_true",
                       help="metric scale = median GT/prediction ratio over --val-data")
    scale.add_argument("--camera-height", type=float, metavar="H",
                       help="metric scale from this camera height (m) over the ground in --val-data images")
    scale.add_argument("--scale-factor", type=float, help="metric scale factor given directly")
    parser.add_argument("--val-data", type=Path, default=None, help="validation dataset root")
    parser.add_argument("--val-kind", choices=tuple(DATASETS), default="kitti", help="validation dataset layout")
    parser.add_argument("--val-split", type=Path, default=None, help="KITTI split, e.g. eigen_zhou/val_files.txt")
    parser.add_argument("--val-frames", type=int, default=200, help="frames used for the scale (first N)")
    parser.add_argument("--gt", choices=GT_SOURCES, default="velodyne", help="KITTI ground truth for the scale")
    parser.add_argument("--device", default="auto", help="device for the scale estimation (auto, cpu, cuda)")


def _scale(args: argparse.Namespace, predictor: Predictor) -> tuple[float, str, str, dict]:
    """(factor, source, domain = the data it was measured on, details)."""
    meta = predictor.meta
    if args.scale_factor is not None:
        return args.scale_factor, "given", "not measured (given with --scale-factor)", {"method": "given"}
    if not (args.scale_from_val or args.camera_height is not None):
        return meta.scale_factor, meta.scale_source, meta.scale_domain, {"method": "kept from source"}
    dataset = build_eval_dataset(args.val_kind, args.val_data, meta.input_height, meta.input_width, args.val_split)
    where = f"{args.val_kind} {args.val_data}" + (f" split {args.val_split}" if args.val_split else "")
    if args.camera_height is not None:
        factor, details = scale_from_camera_height(predictor, dataset, args.camera_height, args.val_frames)
        return (factor, f"camera_height:{args.camera_height:g}m",
                f"{where} ({details['frames']} frames, ground plane {args.camera_height:g} m below the camera)", details)
    crop = "garg" if args.val_kind == "kitti" and args.gt == "velodyne" else None
    factor, details = scale_from_ground_truth(predictor, dataset, args.val_frames, crop, args.gt)
    gt = f"{args.gt} ground truth" if args.val_kind == "kitti" else "its depth maps"
    return factor, f"median_gt:{args.val_kind}", f"{where} ({details.get('images', '?')} frames, {gt})", details


def run(args: argparse.Namespace) -> int:
    try:
        source = args.checkpoint or select_checkpoint(args.run, args.select)
        model, meta = load_checkpoint(source)
        factor, scale_source, domain, details = _scale(args, Predictor(model, meta, device=args.device))
        model.cpu()
        meta = with_scale(meta, factor, scale_source, domain, details, str(source))
    except (CheckpointError, ExportError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}")
        return 1
    save_checkpoint(args.out, model, meta, half=args.half)
    print(f"wrote {args.out} (scale factor {factor:.4f}, {scale_source}, measured on {domain}; from {source})")
    if args.onnx is not None:
        try:
            check = export_onnx(model, meta, args.onnx)
        except ExportError as error:
            print(f"error: {error}\nthe node checkpoint {args.out} was written; the node does not need ONNX")
            return 1
        print(f"wrote {args.onnx}: {json.dumps(check)}")
    return 0
