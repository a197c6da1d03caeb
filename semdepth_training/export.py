"""Export: the node checkpoint with a metric scale factor, and an ONNX file of the inference network.

A monocular network predicts depth up to scale (Semantic-Guided Representation Enhancement, Sec. 3),
so the node needs one factor to publish metres. It comes from a validation set with ground truth
(median of the per-image median GT/prediction ratios, the evaluation's median scaling turned into a
constant) or, without any GT, from the known camera height over a ground plane (the RANSAC ground plane
of Semantically-Guided Representation Learning, Sec. 4.3; `semdepth_ros.scale`, the same fit the node
runs online).

ONNX covers deployments without PyTorch (TensorRT, ONNX Runtime, OpenVINO): the runtime's exporter
(`semdepth_ros.engine.onnx_export`) writes the network at the checkpoint's fixed input size, checked
against PyTorch with onnxruntime before it is kept. The variants export too (docs/variants.md), except
a network whose frozen guide is a TorchScript file.
"""
from __future__ import annotations

import dataclasses
import os
import time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from semdepth_ros.checkpoint import CheckpointMeta, read_meta
from semdepth_ros.engine.onnx_export import ONNX_TOLERANCE, OnnxExportError, export_onnx_bytes
from semdepth_ros.model import SemDepthNet
from semdepth_ros.predictor import Predictor
from semdepth_ros.scale import NO_SCALE, GroundPlaneSettings, fit_ground_plane
from semdepth_training.datasets import SampleDataset
from semdepth_training.evaluation.evaluate import EvalOptions, evaluate
from semdepth_training.evaluation.samples import eval_samples
from semdepth_training.trainer import MODELS_DIR

SELECTIONS = ("last", "best-val")


class ExportError(RuntimeError):
    """Export could not produce a trustworthy file; the message says which step and why."""


def select_checkpoint(run_dir: str | os.PathLike, select: str = "last") -> Path:
    """A training run's node checkpoint: the newest, or the epoch with the lowest validation Abs Rel
    (Semantic-Guided Representation Enhancement, Sec. 5.1 selects its final model on the validation set)."""
    models = Path(run_dir) / MODELS_DIR
    if select == "last":
        path = models / "last.pt"
        if not path.is_file():
            raise ExportError(f"{path} not found: is {run_dir} a `semdepth train` run folder?")
        return path
    if select != "best-val":
        raise ValueError(f"select must be one of {SELECTIONS}, not {select!r}")
    scored = [(read_meta(p).training.get("val") or {}, p) for p in sorted(models.glob("epoch_*.pt"))]
    scored = [(val["abs_rel"], p) for val, p in scored if "abs_rel" in val]
    if not scored:
        raise ExportError(f"no epoch checkpoint in {models} has validation metrics; use --select last")
    return min(scored)[1]


def scale_from_ground_truth(predictor: Predictor, dataset: SampleDataset, max_frames: int | None = None,
                            crop: str | None = None, gt_source: str = "velodyne",
                            gt_root: str | os.PathLike | None = None) -> tuple[float, dict[str, Any]]:
    """Median over images of the per-image median GT/prediction ratio (the evaluation's median scaling)."""
    total = len(dataset) if max_frames is None else min(len(dataset), max_frames)
    samples = islice(eval_samples(dataset, gt_source, gt_root), total)
    result = evaluate(predictor, samples, total, EvalOptions(crop=crop, num_examples=0))
    details = {"method": "median_gt_ratio", "images": result.num_images, "ratio_std": result.scaling["ratio_std"]}
    return result.scaling["ratio_median"], details


def scale_from_camera_height(predictor: Predictor, dataset: SampleDataset, camera_height: float,
                             max_frames: int | None = None) -> tuple[float, dict[str, Any]]:
    """Median over frames of camera_height / (distance to the fitted ground plane) on unscaled depth."""
    settings = GroundPlaneSettings()
    rng = np.random.default_rng(settings.seed)
    total = len(dataset) if max_frames is None else min(len(dataset), max_frames)
    estimates = []
    for index in range(total):
        raw = dataset.load(index)
        pred = predictor.predict(raw.images[0], intrinsics=raw.K, scale=NO_SCALE, with_points=False)
        fit = fit_ground_plane(pred.depth, pred.mask, pred.intrinsics, settings, rng)
        if fit is not None:
            estimates.append(camera_height / fit.distance)
    if not estimates:
        raise ExportError(f"no ground plane found in {total} frames (needs road visible in the lower "
                          "image part); use a validation set with depth GT instead")
    details = {"method": "camera_height", "camera_height": camera_height, "frames": total,
               "frames_with_plane": len(estimates), "ratio_std": float(np.std(estimates) / np.median(estimates))}
    return float(np.median(estimates)), details


def export_onnx(model: SemDepthNet, meta: CheckpointMeta, path: str | os.PathLike,
                tolerance: float = ONNX_TOLERANCE) -> dict[str, Any]:
    """Write ``path`` and return the verification numbers; raise ExportError (writing nothing) when
    the export fails or onnxruntime disagrees with PyTorch by more than ``tolerance`` (the runtime's
    exporter, `semdepth_ros.engine.onnx_export`, which the onnxruntime backend also uses)."""
    import onnxruntime  # noqa: F401 - the check below must run: refuse to write an unverified file

    try:
        data, report = export_onnx_bytes(model, meta, tolerance)
    except OnnxExportError as error:
        raise ExportError(f"{error}; not written") from error
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return report


def with_scale(meta: CheckpointMeta, factor: float, source: str, domain: str, details: dict[str, Any],
               exported_from: str) -> CheckpointMeta:
    """Metadata carrying the metric factor, how it was found and the data it was measured on."""
    if not np.isfinite(factor) or factor <= 0:
        raise ExportError(f"scale factor must be a positive number, got {factor}")
    provenance = {**meta.provenance, "exported_from": exported_from,
                  "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "scale": details}
    return dataclasses.replace(meta, scale_factor=float(factor), scale_source=source, scale_domain=domain,
                               provenance=provenance)
