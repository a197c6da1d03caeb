"""Depth, mask, overlay and a coloured point cloud for image files."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.cli.engine_args import add_engine_arguments, engine_options
from semdepth_ros.image_size import MAX_INPUT_PIXELS
from semdepth_ros.imageio import check_image_file, read_rgb
from semdepth_ros.intrinsics import intrinsics_for_image
from semdepth_ros.outputs import OutputSettings, valid_depth
from semdepth_ros.ply import write_ply
from semdepth_ros.predictor import Prediction, Predictor
from semdepth_ros.visualize import colorize_depth, overlay_mask


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="image files (png, jpg, ...)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint file (default: the bundled model)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--intrinsics", type=Path, default=None,
                        help="intrinsics.yaml (fx, fy, cx, cy) or ROS camera_info YAML; without it the "
                             "point cloud uses KITTI-like intrinsics (a guess)")
    parser.add_argument("--resolution", choices=("network", "input"), default="input",
                        help="output size: the network's input size or the image's")
    parser.add_argument("--scale", type=float, default=None,
                        help="metric scale factor (default: the checkpoint's)")
    parser.add_argument("--max-range", type=float, default=OutputSettings.max_point_range,
                        help="depth farther than this (metres) is invalid in every output, as is depth at the "
                             "network's cap, e.g. sky (default %(default)s, the node's max_point_range)")
    parser.add_argument("--max-input-pixels", type=int, default=MAX_INPUT_PIXELS,
                        help="refuse images larger than this many pixels, read from the PNG/JPEG header before "
                             "decoding (default %(default)s = 4096x3072)")
    add_engine_arguments(parser)


def run(args: argparse.Namespace) -> int:
    problems = []
    for path in args.images:  # every input is checked before the model is loaded
        try:
            check_image_file(path, args.max_input_pixels)
        except (OSError, ValueError) as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValueError(f"{len(problems)} of {len(args.images)} input files unusable: " + "; ".join(problems[:3]) + more)
    predictor = Predictor.load(args.checkpoint, device=args.device, options=engine_options(args))
    if args.intrinsics is None:
        print("note: no --intrinsics given; the point cloud uses KITTI-like intrinsics")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = []
    for path in tqdm(args.images, desc="predict", unit="img"):
        rgb = read_rgb(path, args.max_input_pixels)
        k = intrinsics_for_image(args.intrinsics, rgb.shape[1], rgb.shape[0])
        pred = predictor.predict(rgb, intrinsics=k, output=args.resolution, scale=args.scale)
        summary.append(_write_outputs(args.out / path.stem, rgb, pred, args.max_range))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {len(summary)} result sets to {args.out}")
    return 0


def _write_outputs(stem: Path, rgb: np.ndarray, pred: Prediction, max_range: float) -> dict:
    """Every artefact for one image; 16-bit PNG in millimetres is the ROS/KITTI depth-image habit.

    Depth the node would not publish (`outputs.valid_depth`) is NaN in the .npy, 0 in the PNG and
    absent from the cloud."""
    valid = valid_depth(pred, max_range)
    depth = np.where(valid, pred.depth, np.float32(np.nan))
    points = np.where(valid[..., None], pred.points, np.float32(np.nan))
    h, w = pred.depth.shape
    image = rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    files = {
        "depth_color": f"{stem}_depth.png", "depth_mm": f"{stem}_depth_mm.png",
        "depth_npy": f"{stem}_depth.npy", "mask": f"{stem}_mask.png",
        "overlay": f"{stem}_overlay.png", "cloud": f"{stem}.ply",
    }
    cv2.imwrite(files["depth_color"], colorize_depth(depth)[..., ::-1])
    depth_mm = np.clip(np.nan_to_num(depth * 1000.0), 0, 65535).astype(np.uint16)
    cv2.imwrite(files["depth_mm"], depth_mm)
    np.save(files["depth_npy"], depth)
    cv2.imwrite(files["mask"], pred.mask * 255)
    cv2.imwrite(files["overlay"], overlay_mask(image, pred.mask)[..., ::-1])
    count = write_ply(files["cloud"], points, image, pred.mask)
    median = float(np.median(depth[valid])) if valid.any() else float("nan")
    return {"files": files, "points": count, "median_depth_m": median,
            "foreground_fraction": float(pred.mask.mean())}
