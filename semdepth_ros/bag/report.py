"""eval-bag outputs: report.md for people, metrics.json and per_frame.csv for scripts, PNG plots.

Written for partial runs too: an error is the first thing report.md and metrics.json say, and the
numbers cover the frames evaluated before it. Figures use matplotlib's object API (no pyplot, no
display). JSON holds null where a number is undefined (NaN is not JSON).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.figure import Figure

from semdepth_ros.bag.eval_bag import EvalResult
from semdepth_ros.metrics import BASELINE_LABEL, METRIC_NAMES

METRIC_LABELS = {"abs_rel": "Abs Rel", "sq_rel": "Sq Rel", "rmse": "RMSE", "rmse_log": "RMSE log",
                 "a1": "δ<1.25", "a2": "δ<1.25²", "a3": "δ<1.25³"}
PLOTS = {"by_range": "error_by_range.png", "per_frame": "per_frame_abs_rel.png",
         "qualitative": "qualitative.png"}


def json_safe(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python, sets -> sorted lists, paths -> str, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(json_safe(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    return value


def _bag_document(result: EvalResult) -> dict[str, Any]:
    return {
        "bag": result.bag, "mode": result.mode, "status": "error" if result.error else "ok",
        "error": result.error, "topics": dataclasses.asdict(result.topics) if result.topics else None,
        "ground_truth": result.ground_truth, "crop": result.crop, "crop_reason": result.crop_reason,
        "frame_set": result.frame_set, "marks": dataclasses.asdict(result.marks), **result.summary,
        "live": result.live, "warnings": result.warnings, "notes": result.notes,
    }


def metrics_document(result: EvalResult, bags: Sequence[EvalResult] = ()) -> dict[str, Any]:
    """metrics.json: the result (the pooled one when ``bags`` are given) and each bag's own numbers."""
    options = dataclasses.asdict(result.options)  # the extrinsic, when given, as a 4x4 nested list
    doc = {**_bag_document(result), "options": options}
    if bags:
        doc["bags"] = [_bag_document(b) for b in bags]
    return json_safe(doc)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or ["frame"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def _fmt(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.3f}"


def _metric_table(first: str, rows: dict[str, dict[str, Any]], with_count: bool) -> list[str]:
    head = [first] + (["Pixels"] if with_count else []) + [METRIC_LABELS[m] for m in METRIC_NAMES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in rows.items():
        cells = [name] + ([str(m.get("count", ""))] if with_count else []) + [_fmt(m.get(k)) for k in METRIC_NAMES]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _scale_lines(doc: dict[str, Any]) -> list[str]:
    """The scale used and its source, the checkpoint's stored factor and the factor the ground truth asks for."""
    scaling, check = doc.get("scaling", {}), doc.get("scale_check") or {}
    mode = scaling.get("mode")
    sources = ", ".join(f"{s} ({n} frames)" for s, n in (scaling.get("network_scale_sources") or {}).items())
    used = {"median": "per-frame median scaling (the scale-free monocular protocol)",
            "checkpoint": "the checkpoint's metric scale, as the node publishes by default",
            "ground_plane": "ground plane from the camera height, as the node's scale_mode ground_plane"}.get(mode, mode)
    lines = [f"- scaling: {used}; factor applied to the network's depth: median {_fmt(scaling.get('ratio_median'))}, "
             f"std/median {_fmt(scaling.get('ratio_std'))}" + (f"; network scale source: {sources}" if sources else "")]
    stored = check.get("checkpoint")
    text = f"- metric scale: checkpoint x{stored['factor']:g} ({stored['source']}; measured on {stored['domain']})" \
        if stored else "- metric scale: checkpoint unknown"
    text += (f"; this ground truth asks for x{_fmt(check.get('gt_ratio_median'))} (median over frames of median GT / "
             f"median network depth, std/median {_fmt(scaling.get('gt_ratio_std'))})")
    if check.get("difference") is not None:
        text += f"; {'ground-plane' if mode == 'ground_plane' else 'stored'} factor differs by {check['difference']:.0%}"
    return lines + [text]


def _bags_table(bags: Sequence[dict[str, Any]], pooled: dict[str, Any]) -> list[str]:
    head = ["Bag", "Frames", "Evaluated", "Ground truth", "Crop", "Frame set"] + \
        [METRIC_LABELS[m] for m in METRIC_NAMES] + ["Baseline Abs Rel"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for doc in [*bags, pooled]:
        name = "**pooled**" if doc is pooled else Path(doc["bag"]).name + (" (ERROR)" if doc["error"] else "")
        gt = doc.get("topics", {}).get("gt", "") if doc.get("topics") else ("" if doc is pooled else "n/a")
        metrics, baseline = doc.get("metrics") or {}, doc.get("baseline") or {}
        cells = [name, str(doc.get("frames", 0)), str(doc.get("evaluated", 0)), f"`{gt}`" if gt else "",
                 str(doc.get("crop") or "none") if doc is not pooled else "", "" if doc is pooled else doc["frame_set"]]
        lines.append("| " + " | ".join(cells + [_fmt(metrics.get(m)) for m in METRIC_NAMES]
                                        + [_fmt(baseline.get("abs_rel"))]) + " |")
    return lines


def markdown(result: EvalResult, doc: dict[str, Any], plots: list[str]) -> str:
    bags = doc.get("bags", [])
    title = f"{len(bags)} bags" if bags else Path(result.bag).name
    lines = [f"# eval-bag: {title} ({result.mode})", ""]
    if result.error:
        lines += [f"**ERROR:** {result.error}", "",
                  "The numbers below cover only the frames evaluated before the error.", ""]
    if bags:
        lines += ["## Per bag and pooled (pooled = every frame of every bag, as if they were one bag)", ""]
        lines += _bags_table(bags, doc) + [""]
        for b in bags:
            lines += [f"- `{Path(b['bag']).name}`: ground truth {b.get('ground_truth') or 'n/a'}; crop "
                      f"{b.get('crop') or 'none'} ({b.get('crop_reason') or 'n/a'})"]
            lines += [f"  - **WARNING:** {warning}" for warning in b.get("warnings", [])]
    else:
        topics = result.topics
        if topics:
            lines += [f"- image: `{topics.image}`, camera_info: `{topics.info}`"]
        lines += [f"- ground truth: {result.ground_truth or 'n/a'}"]
        if topics and topics.own_outputs:
            lines += [f"- never ground truth (this package's outputs): {', '.join(f'`{t}`' for t in topics.own_outputs)}"]
        lines += [f"- crop: {result.crop or 'none'} ({result.crop_reason or 'n/a'})"]
    counts = ", ".join(f"{n} {s}" for s, n in doc.get("status_counts", {}).items())
    lines += [f"- frames: {result.frame_set}: {doc.get('frames', 0)} ({counts or 'none'}); evaluated: "
              f"{doc.get('evaluated', 0)}",
              f"- depth range ({result.options.min_depth:g}, {result.options.max_depth:g}] m; metrics averaged over "
              f"frames (Eigen convention)"]
    if doc.get("scaling"):
        lines += _scale_lines(doc)
    lines += [f"- **WARNING:** {warning}" for warning in result.warnings]
    lines += [""]
    if doc.get("evaluated"):
        lines += ["## Overall (mean over frames)", ""]
        lines += _metric_table("", {"model": doc["metrics"], BASELINE_LABEL: doc["baseline"]}, False)
        lines += ["", "The baseline predicts one depth everywhere, median-scaled per frame (the ground truth's "
                  "median at every pixel), on the same pixels: a model that does not beat it has learnt no depth.",
                  "", "## By ground-truth depth range (pixels pooled over frames)", ""]
        lines += _metric_table("Range", doc.get("by_range", {}), True)
    if result.live:
        live = result.live
        lines += ["", "## Live (through the node over DDS)", "", "| figure | value |", "|---|---|"]
        lines += [f"| {key.replace('_', ' ')} | {_fmt(v) if isinstance(v, float) else v} |"
                  for key, v in live.items()]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in result.notes]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def _by_range_figure(by_range: dict[str, dict[str, float]]) -> Figure:
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    names = list(by_range)
    for ax, metric in zip(fig.subplots(1, 2), ("abs_rel", "rmse")):
        ax.bar(names, [by_range[n][metric] for n in names], color="tab:blue")
        ax.set_title(f"{METRIC_LABELS[metric]} by ground-truth depth")
        ax.set_xlabel("range")
    return fig


def _per_frame_figure(rows: list[dict[str, Any]]) -> Figure:
    """Abs Rel per frame (per bag when pooled) with the constant-depth baseline dashed; latency when live."""
    latency = [(r["frame"], r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    fig = Figure(figsize=(8, 5.5 if latency else 3), layout="constrained")
    axes = fig.subplots(2 if latency else 1, 1, squeeze=False)[:, 0]
    bags = list(dict.fromkeys(r.get("bag") for r in rows))
    for bag in bags:
        ok = [r for r in rows if r["status"] == "ok" and r.get("bag") == bag]
        if ok:
            line, = axes[0].plot([r["frame"] for r in ok], [r["abs_rel"] for r in ok], ".-", ms=3,
                                 label=bag or "model")
            axes[0].plot([r["frame"] for r in ok], [r["baseline_abs_rel"] for r in ok], "--", lw=0.8,
                         color=line.get_color(), label=f"{bag or ''} constant-depth baseline".strip())
    axes[0].set(title="Abs Rel per frame (dashed: constant-depth baseline)", xlabel="frame", ylabel="abs rel")
    if any(r["status"] == "ok" for r in rows):
        axes[0].legend(fontsize=7)
    if latency:
        axes[1].plot(*zip(*latency), ".-", ms=3, color="tab:orange")
        axes[1].set(title="latency (publish to depth arrival)", xlabel="frame", ylabel="ms")
    return fig


def _densify(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Grow sparse LiDAR samples to 3x3 blobs so they are visible at report size (NaN elsewhere)."""
    grown = cv2.dilate(np.where(valid, values, 0).astype(np.float32), np.ones((3, 3), np.uint8))
    reach = cv2.dilate(valid.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(valid, values, np.where(reach, grown, np.nan))


def _qualitative_figure(result: EvalResult, min_depth: float, max_depth: float) -> Figure:
    """Image | GT | prediction | error rows; GT and prediction share one inverse-depth colour scale."""
    samples = result.samples
    h, w = samples[0].gt.shape
    fig = Figure(figsize=(13, len(samples) * 3.2 * h / w + 0.6), layout="constrained")
    axes = fig.subplots(len(samples), 4, squeeze=False)
    for row, s in zip(axes, samples):
        valid = s.gt > 0
        near = float(np.percentile(s.gt[valid], 5)) if valid.any() else 1.0
        inv = {"cmap": "magma", "vmin": 1.0 / max_depth, "vmax": 1.0 / max(near, min_depth)}
        error = np.where(valid, np.abs(s.pred - s.gt) / np.where(valid, s.gt, 1.0), 0.0)
        row[0].imshow(s.rgb)
        row[0].set_title(f"frame {s.index}", fontsize=8)
        row[1].imshow(1.0 / _densify(s.gt, valid), **inv)
        row[1].set_title("ground truth (inverse depth)", fontsize=8)
        row[2].imshow(1.0 / np.clip(s.pred, min_depth, max_depth), **inv)
        row[2].set_title("prediction, scaled as evaluated", fontsize=8)
        shown = row[3].imshow(_densify(error, valid), cmap="inferno", vmin=0.0, vmax=0.5)
        row[3].set_title("abs rel error", fontsize=8)
        fig.colorbar(shown, ax=row[3], fraction=0.04)
        for ax in row:
            ax.set_axis_off()
    return fig


def write_report(result: EvalResult, out_dir: str | Path, bags: Sequence[EvalResult] = ()) -> Path:
    """Write every output into ``out_dir``; returns the path of report.md. With ``bags``, ``result`` is
    their pooled result (`eval_bag.pool`) and the report holds each bag's numbers too."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = metrics_document(result, bags)
    (out / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    write_csv(out / "per_frame.csv", result.rows)
    figures = {}
    if doc.get("by_range"):
        figures["by_range"] = _by_range_figure(doc["by_range"])
    if result.rows:
        figures["per_frame"] = _per_frame_figure(result.rows)
    if result.samples:
        figures["qualitative"] = _qualitative_figure(result, result.options.min_depth, result.options.max_depth)
    for key, fig in figures.items():
        fig.savefig(out / PLOTS[key], dpi=110)
    report = out / "report.md"
    report.write_text(markdown(result, doc, [PLOTS[k] for k in figures]))
    return report
