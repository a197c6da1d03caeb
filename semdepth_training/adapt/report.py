"""What `semdepth adapt` did, for people (report.md, montage.png) and scripts (report.json).

Every figure names what it was measured on: the held-back images (never trained on), the error
(photometric at the best rigid motion, photometric with the odometry's motion and the checkpoint's
metric scale, depth Abs Rel against the bag's own LiDAR / depth topic through eval-bag), and the
scaling. Figures use matplotlib's object API (no pyplot, no display).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from semdepth_ros.bag.report import json_safe
from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.model import SemDepthNet
from semdepth_training.adapt.photometric import evenly_spaced, held_back_errors
from semdepth_training.datasets.rosbag import RosbagDataset

MONTAGE_FRAMES = 4
MONTAGE = "montage.png"
MOTION_DESCRIPTIONS = {"odometry": "the odometry", "fit": "motion fitted with the initial network's depth",
                       "network": "the pose net"}


def describe_motion(pose_mode: str, has_odometry: bool) -> str:
    """Where the training's ego-motion came from, in words."""
    anchored = " anchored to the odometry" if pose_mode == "network" and has_odometry else ""
    return MOTION_DESCRIPTIONS[pose_mode] + anchored


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or before == 0:
        return ""
    return f"{100.0 * (after - before) / before:+.1f}%"


def _montage(network_before: tuple[SemDepthNet, CheckpointMeta], network_after: tuple[SemDepthNet, CheckpointMeta],
             held_back: RosbagDataset, device: torch.device, motion_units: float | None) -> Figure:
    """Held-back frames: image | depth before | depth after | error before | error after (best motion)."""
    indices = evenly_spaced(len(held_back), MONTAGE_FRAMES)
    runs = [held_back_errors(model.to(device), meta.scale_factor, meta.min_depth, meta.max_depth, held_back,
                             indices, device, motion_units) for model, meta in (network_before, network_after)]
    h, w = held_back.height, held_back.width
    fig = Figure(figsize=(15, len(indices) * 3.0 * h / w + 0.8), layout="constrained")
    axes = fig.subplots(len(indices), 5, squeeze=False)
    error_max = float(max(np.percentile(r.error_maps, 99) for r in runs))
    for row, (ax_row, index) in enumerate(zip(axes, indices)):
        target = held_back.targets[index]
        frame = held_back.bag_frames.frames[target]
        ax_row[0].imshow(held_back.bag_frames.image(target))
        ax_row[0].set_title(f"held-back image {frame.raw_index} of bag {frame.bag}", fontsize=8)
        for column, (run, label) in enumerate(zip(runs, ("before", "after"))):
            depth = run.depth[row]
            ax_row[1 + column].imshow(1.0 / np.clip(depth, 1e-3, None), cmap="magma",
                                      vmin=float(np.percentile(1.0 / depth, 2)), vmax=float(np.percentile(1.0 / depth, 98)))
            ax_row[1 + column].set_title(f"inverse depth {label} (median {np.median(depth):.3g})", fontsize=8)
            shown = ax_row[3 + column].imshow(run.error_maps[row], cmap="inferno", vmin=0.0, vmax=error_max)
            ax_row[3 + column].set_title(f"photometric error {label}: {run.best_motion[row]:.4f}", fontsize=8)
        fig.colorbar(shown, ax=ax_row[4], fraction=0.04)
        for ax in ax_row:
            ax.set_axis_off()
    return fig


def markdown(report: dict[str, Any]) -> str:
    options, frames, before, after = report["options"], report["frames"], report["before"], report["after"]
    scale, training = report["scale"], report["training"]
    lines = ["# semdepth adapt", "",
             f"- initial checkpoint: `{report['init']}`; adapted: `{report['model']}`",
             f"- bags: {', '.join(f'`{b}`' for b in options['bags'])}",
             f"- frames: {frames['description']}"]
    for bag in frames["bags"]:
        lines.append(f"  - `{bag['path']}` ({bag['image_topic']}): {bag['images']} images, odometry: "
                     f"{bag['odometry'] or 'none'}{', TRUNCATED: adapted on what could be read' if bag['truncated'] else ''}; "
                     f"held back from image {bag['held_back_from_image']} on (`semdepth eval-bag {bag['path']} "
                     f"--frames {bag['held_back_from_image']}:`)")
    lines += [f"- note: {note}" for note in frames["notes"]]
    pose = describe_motion(report["pose_mode"], report["has_odometry"])
    lines += [f"- training: {training['steps']} steps x {training['batch_size']} frames on {training['device']}, "
              f"ego-motion from {pose}; {_fmt(training['images_per_second'])} images/s; "
              f"{_fmt(report['wall_seconds_this_session'])} s wall time in all (this session, before the report)",
              "", "## Metric scale", ""]
    if scale["source"] == "none":
        lines.append(f"**RELATIVE depth**: {scale['method']}.")
    else:
        lines.append(f"factor {scale['factor']:.5g} from **{scale['source']}** ({scale['method']}); the initial "
                     f"checkpoint had {before['scale_factor']:.5g} ({before['scale_source']}).")
    lines += ["", "## Held-back part (never trained on)", "",
              "| measure | before | after | change |", "|---|---|---|---|"]
    pb, pa = before["photometric"], after["photometric"]
    lines.append(f"| photometric error, best rigid motion per frame pair (scale-free) | {_fmt(pb['best_motion'])} | "
                 f"{_fmt(pa['best_motion'])} | {_change(pb['best_motion'], pa['best_motion'])} |")
    if pb["odometry"] is not None:
        lines.append(f"| photometric error, odometry motion with the checkpoint's metric depth | {_fmt(pb['odometry'])} | "
                     f"{_fmt(pa['odometry'])} | {_change(pb['odometry'], pa['odometry'])} |")
    for db, da in zip(before["depth"], after["depth"]):
        name = Path(db["bag"]).name
        if "abs_rel" not in db or "abs_rel" not in da:
            lines.append(f"| depth Abs Rel ({name}) | no ground truth: {db.get('error') or da.get('error')} | | |")
            continue
        lines.append(f"| depth Abs Rel vs the bag's ground truth, median-scaled ({name}, {db['evaluated']} frames, "
                     f"crop {db.get('crop') or 'none'}) | "
                     f"{_fmt(db['abs_rel'])} | {_fmt(da['abs_rel'])} | {_change(db['abs_rel'], da['abs_rel'])} |")
        lines.append(f"| median GT / prediction with the checkpoint's scale (1 = metric right) ({name}) | "
                     f"{_fmt(db['gt_over_pred'])} | {_fmt(da['gt_over_pred'])} | |")
    lines += ["", f"Photometric error: 0.85 SSIM + 0.15 L1, per-pixel minimum over the previous and next kept frame, "
              f"mean over {pa['frames']} held-back frames evenly spaced (lower is better). Depth Abs Rel: eval-bag's "
              f"protocol on the held-back images (`--crop {options['crop']}`), ground truth capped at "
              f"{options['max_eval_depth']:g} m, per-frame median scaling; full eval-bag reports (ground truth "
              "used, crop and why) in `eval_before_*/` and `eval_after_*/`.", "", f"![before / after]({MONTAGE})", "",
              "## Time per stage", "", "| stage | wall s | CPU s (this process) |", "|---|---|---|"]
    lines += [f"| {name} | {t['wall_s']:g} | {t['cpu_s']:g} |" for name, t in report["timings"].items()]
    lines += ["", "## Run the node on it", "",
              f"`ros2 launch semdepth_ros depth.launch.py checkpoint:={report['model']}` "
              "(scale_mode checkpoint uses the factor above)", ""]
    return "\n".join(lines)


def write_adapt_report(out: Path, report: dict[str, Any], network_before: tuple[SemDepthNet, CheckpointMeta],
                       network_after: tuple[SemDepthNet, CheckpointMeta], held_back: RosbagDataset,
                       device: torch.device) -> Path:
    """report.json, montage.png and report.md in ``out``; returns the path of report.md."""
    (out / "report.json").write_text(json.dumps(json_safe(report), indent=1, allow_nan=False) + "\n")
    motion_units = report["metres_per_unit"] if report["has_odometry"] else None
    _montage(network_before, network_after, held_back, device, motion_units).savefig(out / MONTAGE, dpi=100)
    path = out / "report.md"
    path.write_text(markdown(report))
    return path
