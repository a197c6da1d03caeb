"""The demo's files: montage.png, cloud.ply, metrics.json and metrics.md.

metrics.json is for scripts (NaN written as null, since NaN is not JSON); metrics.md says the same
for people, with the protocol spelled out because "abs_rel 0.12" means little without it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from semdepth_ros.bag.report import METRIC_LABELS
from semdepth_ros.demo.recording import Cloud, MontageRow
from semdepth_ros.metrics import METRIC_NAMES
from semdepth_ros.ply import write_ply
from semdepth_ros.visualize import colorize_depth

COLUMNS = ("input", "depth (node)", "overlay (node)")
SCALING_TITLES = {"median_scaled": "median-scaled (per frame)", "checkpoint_scale": "checkpoint scale"}
HEADER_PX = 22
GAP_PX = 4


def _fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)


def write_montage(path: Path, rows: list[MontageRow]) -> None:
    """Rows of input | colourised depth | mask overlay, under a header naming the columns."""
    h, w = rows[0].rgb.shape[:2]
    header = np.full((HEADER_PX, len(COLUMNS) * (w + GAP_PX) - GAP_PX, 3), 255, np.uint8)
    for i, title in enumerate(COLUMNS):
        cv2.putText(header, title, (i * (w + GAP_PX) + 4, HEADER_PX - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    gap = np.full((h, GAP_PX, 3), 255, np.uint8)
    blank = np.zeros((h, w, 3), np.uint8)
    lines = [header]
    for row in rows:
        tiles = [row.rgb, _fit(colorize_depth(row.depth), h, w),
                 blank if row.overlay is None else _fit(row.overlay, h, w)]
        lines += [np.full((GAP_PX, header.shape[1], 3), 255, np.uint8),
                  np.hstack([tiles[0], gap, tiles[1], gap, tiles[2]])]
    if not cv2.imwrite(str(path), np.vstack(lines)[..., ::-1]):
        raise OSError(f"cannot write {path}")


def write_cloud(path: Path, cloud: Cloud) -> int:
    """The received cloud as a coloured, labelled PLY; returns its point count."""
    return write_ply(path, cloud.points, cloud.colours, cloud.labels)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_metrics_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(_json_safe(document), indent=2, allow_nan=False) + "\n")


def fmt(value: Any, digits: int = 3) -> str:
    """A number for people: 'n/a' for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def metrics_markdown(document: dict[str, Any]) -> str:
    ckpt, live, drive = document["checkpoint"], document["live"] or {}, document["drive"]
    lines = ["# semdepth demo", ""]
    if document.get("error"):
        lines += [f"**ERROR:** {document['error']}", "", "The numbers cover the frames answered before it.", ""]
    lines += [f"- checkpoint: `{ckpt['path']}` ({ckpt['architecture']}, {ckpt['input_size'][0]}x"
              f"{ckpt['input_size'][1]}, scale factor {ckpt['scale_factor']:g} from {ckpt['scale_source']})",
              f"- drive: {drive['frames']} synthetic frames (seed {drive['seed']}) sent at {drive['rate']} "
              f"to the node over DDS; ground truth: the renderer's exact depth",
              f"- protocol: {document['protocol']}", "",
              "## Accuracy (mean over frames)", "",
              "| scaling | frames | scale | " + " | ".join(METRIC_LABELS[m] for m in METRIC_NAMES) + " |",
              "|" + "---|" * (3 + len(METRIC_NAMES))]
    for key, summary in document["accuracy"].items():
        metrics = summary.get("metrics", {})
        ratio = summary.get("scaling", {}).get("ratio_median")
        lines.append(f"| {SCALING_TITLES[key]} | {summary.get('evaluated', 0)} | {fmt(ratio)} | "
                     + " | ".join(fmt(metrics.get(m)) for m in METRIC_NAMES) + " |")
    lines += ["", "## Live (through the node over DDS)", "", "| figure | value |", "|---|---|",
              f"| frames answered / sent | {live.get('answered', 0)} / {live.get('frames_sent', 0)} |",
              f"| dropped | {live.get('dropped', 0)} |",
              f"| output rate (fps) | {fmt(live.get('output_rate_hz'), 2)} |",
              f"| latency p50 / p90 (ms, publish to depth) | {fmt(live.get('latency_p50_ms'), 1)} / "
              f"{fmt(live.get('latency_p90_ms'), 1)} |"]
    if document.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in document["notes"]]
    return "\n".join(lines) + "\n"
