"""Low-light robustness (SIGNet, Sec. 5.3, Fig. 6): the test images darkened step by step, with sensor
noise, and the protocol's metrics at every level.

SIGNet multiplies the RGB input by a scalar between 0 and 1 and plots the error against darkness =
1 - intensity. Here each level also adds Gaussian read noise of a fixed strength (in 8-bit levels) after
darkening and rounds to 8 bits, as a camera does, so the signal-to-noise ratio falls with the light;
``gamma`` > 1 additionally crushes the shadows (x^gamma before the scaling). Ground truth, crop and
scaling are the normal evaluation's (`semdepth_training.evaluation.evaluate`); only the network's
input changes. Noise is drawn from (seed, level, image index), so every checkpoint sees the same images.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from semdepth_ros.predictor import Predictor
from semdepth_training.evaluation.evaluate import EvalOptions, evaluate
from semdepth_training.evaluation.samples import EvalSample

DARKNESS_LEVELS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9)
NOISE_LEVELS = 2.0   # std of the read noise in 8-bit levels


def darken(image: np.ndarray, darkness: float, noise: float = NOISE_LEVELS, gamma: float = 1.0,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """uint8 RGB -> uint8 RGB at intensity (1 - darkness): 255 * (1 - darkness) * (x / 255)^gamma plus
    N(0, noise) in 8-bit levels, rounded and clipped."""
    if not 0.0 <= darkness < 1.0:
        raise ValueError(f"darkness must be in [0, 1), got {darkness}")
    out = 255.0 * (1.0 - darkness) * (image.astype(np.float64) / 255.0) ** gamma
    if noise > 0:
        out += (rng or np.random.default_rng(0)).normal(0.0, noise, size=image.shape)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def darkened_samples(samples: Iterable[EvalSample], level: int, darkness: float, noise: float, gamma: float,
                     seed: int) -> Iterator[EvalSample]:
    for index, sample in enumerate(samples):
        rng = np.random.default_rng((seed, level, index))
        yield dataclasses.replace(sample, image=darken(sample.image, darkness, noise, gamma, rng))


def evaluate_low_light(predictor: Predictor, make_samples: Callable[[], Iterable[EvalSample]], total: int | None,
                       options: EvalOptions, levels: Iterable[float] = DARKNESS_LEVELS,
                       noise: float = NOISE_LEVELS, gamma: float = 1.0, seed: int = 0) -> list[dict[str, Any]]:
    """One evaluation per darkness level: [{"darkness", "intensity", "num_images", "metrics",
    "class_average"}]; ``make_samples`` gives a fresh pass over the test set each time."""
    options = dataclasses.replace(options, num_examples=0)
    rows = []
    for level, darkness in enumerate(levels):
        result = evaluate(predictor, darkened_samples(make_samples(), level, darkness, noise, gamma, seed),
                          total, options)
        rows.append({"darkness": darkness, "intensity": 1.0 - darkness, "num_images": result.num_images,
                     "metrics": result.metrics, "class_average": result.class_average})
    return rows


def low_light_figure(curves: dict[str, list[dict[str, Any]]], noise: float, gamma: float) -> Figure:
    """SIGNet Fig. 6(b) layout: error against darkness = 1 - intensity, one line per method; Sq Rel (the
    paper's axis) and Abs Rel side by side."""
    fig = Figure(figsize=(9.0, 3.4), tight_layout=True)
    for column, (metric, label) in enumerate((("sq_rel", "Square Relative Error"), ("abs_rel", "Abs Rel")), 1):
        ax = fig.add_subplot(1, 2, column)
        for method, rows in curves.items():
            ax.plot([r["darkness"] for r in rows], [r["metrics"][metric] for r in rows], marker="o", label=method)
        ax.set_xlabel("Darkness = 1 - Intensity")
        ax.set_ylabel(label)
        ax.set_xlim(0.0, 1.0)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    fig.suptitle(f"Test under varied light (read noise {noise:g}/255, gamma {gamma:g})", fontsize=9)
    return fig


def low_light_markdown(method: str, rows: list[dict[str, Any]], noise: float, gamma: float, protocol: str) -> str:
    lines = [f"## Low-light robustness: {method}", "",
             f"SIGNet, Fig. 6: every test image x (1 - darkness) (gamma {gamma:g}), plus Gaussian read noise of "
             f"{noise:g} 8-bit levels, rounded to 8 bits. {protocol}", "",
             "| Darkness | Intensity | Images | Abs Rel | Sq Rel | RMSE | RMSE log | δ < 1.25 | δ < 1.25² | δ < 1.25³ |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["metrics"]
        lines.append(f"| {r['darkness']:.2f} | {r['intensity']:.2f} | {r['num_images']} | " + " | ".join(
            f"{m[k]:.3f}" for k in ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3")) + " |")
    return "\n".join(lines) + "\n"


def write_low_light(rows: list[dict[str, Any]], out_dir: str | Path, method: str, noise: float, gamma: float,
                    protocol: str, config: dict[str, Any] | None = None) -> dict[str, Path]:
    """low_light.md, low_light.json and low_light.png in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "low_light.md", "json": out / "low_light.json", "figure": out / "low_light.png"}
    paths["markdown"].write_text(low_light_markdown(method, rows, noise, gamma, protocol))
    paths["json"].write_text(json.dumps({"method": method, "noise": noise, "gamma": gamma, "protocol": protocol,
                                         "config": config or {}, "levels": rows}, indent=2))
    low_light_figure({method: rows}, noise, gamma).savefig(paths["figure"], dpi=110)
    return paths
