"""Evaluation report: a markdown table in the paper's layout, the JSON numbers and PNG figures.

The main table has the columns of Semantic-Guided Representation Enhancement, Table 1, so a result can
be pasted next to the published rows; the breakdowns follow Look Deeper into Depth, Tables 4-7 (depth
ranges), and Semantic-Guided Representation Enhancement, Fig. 5 / Semantically-Guided Representation
Learning, Fig. 4 (per class, Abs Rel). Papers: docs/references.md. Figures use matplotlib's object API
(no pyplot, no display needed).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.figure import Figure

from semdepth_ros.classes import CITYSCAPES_TRAIN_IDS
from semdepth_ros.metrics import BASELINE_LABEL
from semdepth_ros.visualize import colorize_depth, overlay_mask
from semdepth_training.evaluation.evaluate import EvalResult, Example

TABLE1_COLUMNS = (("abs_rel", "Abs Rel"), ("sq_rel", "Sq Rel"), ("rmse", "RMSE"), ("rmse_log", "RMSE log"),
                  ("a1", "δ < 1.25"), ("a2", "δ < 1.25²"), ("a3", "δ < 1.25³"))


# Look Deeper into Depth, Tables 4-7: rel, log10, rms, rms (log) and the three accuracies per depth range.
RANGE_COLUMNS = (("abs_rel", "rel"), ("log10", "log10"), ("rmse", "rms"), ("rmse_log", "rms (log)"),
                 ("a1", "δ < 1.25"), ("a2", "δ < 1.25²"), ("a3", "δ < 1.25³"))


def _row(cells: list[str], metrics: dict[str, float], columns: tuple = TABLE1_COLUMNS) -> str:
    return "| " + " | ".join(cells + [f"{metrics[key]:.3f}" for key, _ in columns]) + " |"


def _header(first: list[str], columns: tuple = TABLE1_COLUMNS) -> list[str]:
    names = first + [label for _, label in columns]
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def _breakdown_table(title: str, first: str, table: dict[str, dict[str, float]],
                     extra: dict[str, float] | None = None, columns: tuple = TABLE1_COLUMNS) -> list[str]:
    lines = ["", f"### {title}", ""] + _header([first, "Pixels"], columns)
    lines += [_row([name, str(int(m["count"]))], m, columns) for name, m in table.items()]
    if extra:
        lines.append(_row(["class average", ""], extra, columns))
    return lines


def markdown_report(result: EvalResult, method: str, training: str = "M+Sem",
                    context: dict[str, Any] | None = None) -> str:
    """The layout of Semantic-Guided Representation Enhancement, Table 1 with the constant-depth baseline
    as a second row, then what was evaluated (ground truth, frames, crop, scaling, metric scale) and the
    breakdowns. ``context`` holds the descriptions the command knows: ground_truth, frames, scale, warnings."""
    context = context or {}
    s = result.scaling
    lines = ["## Depth evaluation", ""] + _header(["Method", "Training"])
    lines.append(_row([method, training], result.metrics))
    lines.append(_row([BASELINE_LABEL, "none"], result.baseline))
    lines += ["", f"- ground truth: {context.get('ground_truth', 'n/a')}",
              f"- frames: {context.get('frames', 'n/a')}; {result.num_images} images evaluated "
              f"({result.num_skipped} without valid ground truth skipped)",
              f"- crop: {s['crop']}; depth capped to ({s['min_depth']:g}, {s['max_depth']:g}] m",
              f"- scaling: {_scaling_text(s)}",
              "- baseline: one depth everywhere, median-scaled per image (the median of the ground truth at "
              "every pixel), on the same pixels: a model that does not beat it has learnt no depth"]
    if context.get("scale"):
        lines.append(f"- metric scale: {context['scale']}")
    lines += [f"- **WARNING:** {warning}" for warning in context.get("warnings", [])]
    lines += _breakdown_table("Per depth range (the layout of Look Deeper into Depth, Tables 4-7: cumulative "
                              "ranges of the ground truth, their columns; 20 m and 40 m added for street scenes)",
                              "Range", result.by_range, columns=RANGE_COLUMNS)
    if result.by_class:
        lines += _breakdown_table("Per semantic class (as Semantic-Guided Representation Enhancement, Fig. 5, and "
                                  "Semantically-Guided Representation Learning, Fig. 4; pseudo-label train ids)",
                                  "Class", result.by_class, result.class_average)
    sources = ", ".join(f"{k} ({v} images)" for k, v in sorted(result.foreground_source.items()))
    lines += _breakdown_table(f"Foreground vs background (classes of Semantic-Guided Representation Enhancement, "
                              f"Table 7; labels from {sources})", "Region", result.by_foreground)
    return "\n".join(lines) + "\n"


def _scaling_text(s: dict[str, Any]) -> str:
    if s["mode"] == "median":
        return (f"median (per image, median GT / prediction; ratio median {s['ratio_median']:.3f}, "
                f"std/median {s['ratio_std']:.3f})")
    return (f"fixed x{s['ratio_median']:.4g} (the ground truth asks for x{s['gt_ratio_median']:.4g}, median over "
            f"images, std/median {s['gt_ratio_std']:.3f})")


def _bar_figure(table: dict[str, dict[str, float]], title: str, metrics: tuple[str, ...]) -> Figure:
    fig = Figure(figsize=(max(4.0, 0.5 * len(table) + 2.0), 3.2 * len(metrics)), tight_layout=True)
    names = list(table)
    for row, metric in enumerate(metrics, 1):
        ax = fig.add_subplot(len(metrics), 1, row)
        ax.bar(range(len(names)), [table[n][metric] for n in names], color="tab:blue")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_ylabel(dict(TABLE1_COLUMNS)[metric])
        ax.grid(axis="y", alpha=0.3)
    fig.axes[0].set_title(title)
    return fig


def class_figure(by_class: dict[str, dict[str, dict[str, float]]], metric: str = "abs_rel",
                 title: str = "Class-specific depth evaluation") -> Figure:
    """Semantically-Guided Representation Learning, Fig. 4 layout: per class one bar per method (the
    first method, the baseline, in red; the others in blues) and the class average as the rightmost
    group. ``by_class``: method -> {class: metrics}; classes missing for a method are left empty."""
    methods = list(by_class)
    classes = [c for c in CITYSCAPES_TRAIN_IDS if any(c in table for table in by_class.values())]
    groups = classes + ["class avg."]
    fig = Figure(figsize=(max(5.0, 0.32 * len(groups) * max(2, len(methods)) + 2.0), 3.6), tight_layout=True)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(methods)
    blues = ["tab:blue", "tab:cyan", "tab:purple", "tab:green", "tab:olive", "navy"]
    for index, method in enumerate(methods):
        table = by_class[method]
        values = [table[c][metric] if c in table else np.nan for c in classes]
        values.append(float(np.mean([table[c][metric] for c in table])) if table else np.nan)
        positions = np.arange(len(groups)) + (index - (len(methods) - 1) / 2) * width
        colour = "tab:red" if index == 0 and len(methods) > 1 else blues[(index - (len(methods) > 1)) % len(blues)]
        ax.bar(positions, values, width, color=colour, label=method)
    ax.axvline(len(classes) - 0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(groups)), groups, rotation=45, ha="right")
    ax.set_ylabel(dict(TABLE1_COLUMNS)[metric] + " (lower is better)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title)
    if len(methods) > 1:
        ax.legend(fontsize=7)
    return fig


def _dilate_for_display(error: np.ndarray) -> np.ndarray:
    """Sparse LiDAR errors are single pixels, invisible at figure size: spread each over 5x5 for display."""
    valid = np.isfinite(error)
    grown = cv2.dilate(np.where(valid, error, 0).astype(np.float32), np.ones((5, 5), np.uint8))
    reach = cv2.dilate(valid.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return np.where(reach, grown, np.nan)


def qualitative_figure(examples: list[Example], max_error: float = 0.5) -> Figure:
    """Rows of image / predicted depth / predicted mask / Abs Rel error map."""
    columns = ("image", "depth (scaled)", "foreground mask", f"Abs Rel error (0-{max_error:g})")
    fig = Figure(figsize=(16, 2.4 * len(examples) + 0.5), tight_layout=True)
    for row, example in enumerate(examples):
        mask = (example.fg_pred > 0.5).astype(np.uint8)
        panels = (example.image, colorize_depth(example.depth_pred), overlay_mask(example.image, mask),
                  _dilate_for_display(example.abs_rel_map))
        for col, panel in enumerate(panels):
            ax = fig.add_subplot(len(examples), 4, row * 4 + col + 1)
            if col == 3:
                ax.set_facecolor("black")
                ax.imshow(panel, cmap="inferno", vmin=0.0, vmax=max_error, interpolation="nearest")
            else:
                ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(columns[col])
            if col == 0:
                ax.set_ylabel(example.name, fontsize=7)
    return fig


def write_report(result: EvalResult, out_dir: str | Path, method: str, training: str = "M+Sem",
                 config: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write report.md, metrics.json and the PNG figures into ``out_dir``; returns the paths by kind."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "report.md", "json": out / "metrics.json",
             "by_range": out / "error_by_range.png", "by_class": out / "error_by_class.png"}
    paths["markdown"].write_text(markdown_report(result, method, training, context))
    paths["json"].write_text(json.dumps({"method": method, "config": config or {}, **(context or {}),
                                         **result.to_dict()}, indent=2))
    _bar_figure(result.by_range, "Error by ground-truth depth range", ("abs_rel", "rmse")).savefig(
        paths["by_range"], dpi=100)
    if result.by_class:
        class_figure({method: result.by_class}, title=f"Abs Rel per class, {method}").savefig(paths["by_class"], dpi=100)
    else:
        _bar_figure(result.by_foreground, "Abs Rel by region", ("abs_rel",)).savefig(paths["by_class"], dpi=100)
    if result.examples:
        paths["qualitative"] = out / "qualitative.png"
        qualitative_figure(result.examples).savefig(paths["qualitative"], dpi=80)
    return paths
