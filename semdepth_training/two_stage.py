"""Two-stage training against the "infinite depth" bias (Semantically-Guided Representation Learning,
Sec. 4.3).

Objects moving with the camera are explained best by infinite depth, so a self-supervised network
learns holes there. The paper trains once, then finds the training frames where this happened with a
geometric prior: depth of the nearby ground is predicted robustly, so a RANSAC plane fitted to it
(`semdepth_ros.scale.fit_ground_plane`, the one ground-plane fit of the project) is trustworthy, and a
foreground pixel whose predicted depth puts it well below that plane can only be such a hole. A frame
with more such pixels than a threshold (the paper's conservative 10, at 640x192, dropping about 5% of
KITTI) is left out, and the network is trained again from scratch on the rest.

Foreground comes from the frame's labels (``fg_mask``) where it has them, else from the first-stage
network's own semantic branch. "Well below" = farther beyond the plane than ``below_ground_margin``
times the camera's height above it (scale-free: the plane is fitted in the network's own units).
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.geometry import depth_to_points
from semdepth_ros.predictor import Predictor
from semdepth_ros.scale import NO_SCALE, GroundPlaneSettings, PlaneFit, fit_ground_plane
from semdepth_ros.visualize import colorize_depth
from semdepth_training.config import TrainConfig
from semdepth_training.datasets import SampleDataset
from semdepth_training.trainer import MODELS_DIR, RESUME_FILE, Trainer, build_datasets

EXCLUDED_FILE = "excluded_frames.json"
PREVIEW_FILE = "excluded_frames.png"   # the frames with the most below-ground pixels: image, pixels in red, depth
PAPER_PIXELS = 192 * 640       # the input size the paper's threshold (10 pixels) is given for


def below_ground_mask(depth: np.ndarray, foreground: np.ndarray, K: np.ndarray, fit: PlaneFit,
                      margin: float) -> np.ndarray:
    """Foreground pixels whose 3-D point lies beyond the ground plane by more than ``margin`` x its
    distance to the camera (the plane's normal points from the camera to the ground): [H,W] bool."""
    points = depth_to_points(depth.astype(np.float32), K)
    with np.errstate(invalid="ignore"):
        beyond = points @ fit.normal > fit.distance * (1.0 + margin)
    return beyond & (foreground > 0) & np.isfinite(points).all(axis=2)



@dataclasses.dataclass
class FrameCheck:
    """Per-frame result: pixels below the ground (None: no trustworthy plane, the frame is kept)."""

    index: int
    below_ground: int | None
    foreground_source: str


def _check(predictor: Predictor, dataset: SampleDataset, index: int, margin: float, settings: GroundPlaneSettings,
           rng: np.random.Generator) -> tuple[FrameCheck, np.ndarray | None, np.ndarray, np.ndarray]:
    """One frame: its check, the below-ground mask (None without a plane), the image and the depth."""
    raw = dataset.load(index)
    pred = predictor.predict(raw.images[0], intrinsics=raw.K, scale=NO_SCALE, with_points=False)
    source, foreground = "predicted", pred.mask
    if raw.fg_mask is not None:
        source = "labels"
        foreground = cv2.resize(raw.fg_mask, pred.depth.shape[::-1], interpolation=cv2.INTER_NEAREST)
    fit = fit_ground_plane(pred.depth, foreground, pred.intrinsics, settings, rng)
    mask = None if fit is None else below_ground_mask(pred.depth, foreground, pred.intrinsics, fit, margin)
    image = cv2.resize(raw.images[0], pred.depth.shape[::-1], interpolation=cv2.INTER_AREA)
    return FrameCheck(index, None if mask is None else int(mask.sum()), source), mask, image, pred.depth


def check_frames(predictor: Predictor, dataset: SampleDataset, margin: float = 0.5,
                 settings: GroundPlaneSettings = GroundPlaneSettings(), preview: Path | None = None,
                 preview_frames: int = 4) -> list[FrameCheck]:
    """Run the first-stage network on every target frame of ``dataset`` (no augmentation); with
    ``preview`` also write a PNG of the frames with the most below-ground pixels (image, those pixels
    in red, depth)."""
    rng = np.random.default_rng(settings.seed)
    checks, worst = [], []
    for index in tqdm(range(len(dataset)), desc="infinite-depth check", unit="frame"):
        check, mask, image, depth = _check(predictor, dataset, index, margin, settings, rng)
        checks.append(check)
        if preview is not None and check.below_ground:
            marked = image.copy()
            marked[mask] = (255, 0, 0)
            worst = sorted(worst + [(check.below_ground, index, np.concatenate(
                [image, marked, colorize_depth(depth)], 1))], key=lambda item: -item[0])[:preview_frames]
    if preview is not None and worst:
        preview.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(preview), cv2.cvtColor(np.concatenate([row for _, _, row in worst], 0), cv2.COLOR_RGB2BGR))
    return checks


def threshold_for(height: int, width: int, threshold: float) -> int:
    """The paper's pixel threshold scaled from 640x192 to this input size (at least 1)."""
    return max(1, int(round(threshold * height * width / PAPER_PIXELS)))


def excluded_frames(checks: list[FrameCheck], threshold: int) -> list[int]:
    return [c.index for c in checks if c.below_ground is not None and c.below_ground > threshold]


def run_two_stage(config: TrainConfig, out_dir: str | Path, resume: bool = False,
                  prepare: Callable[[Trainer], None] | None = None) -> dict[str, Any]:
    """Stage one in ``out/stage1``, the frame check (``out/excluded_frames.json``), stage two from
    scratch in ``out/stage2`` without the excluded frames (``config.two_stage`` sets the threshold and
    margin); returns stage two's summary with the counts (stage one's, uncounted, when it was stopped). ``prepare`` is applied to each stage's new
    Trainer before it trains (e.g. the same initial weights for both stages)."""
    out = Path(out_dir)
    margin = config.two_stage.below_ground_margin
    first = _trainer(config, out / "stage1", resume, prepare).train()
    if first["stopped"]:
        return {**first, "frames": None, "dropped": None, "checkpoint": str(out / "stage1" / MODELS_DIR / "last.pt")}
    predictor = Predictor.load(out / "stage1" / MODELS_DIR / "last.pt", device=config.run.device)
    train_set, _ = build_datasets(dataclasses.replace(config, run=dataclasses.replace(config.run, validate=False)),
                                  out / "stage1")
    checks = check_frames(predictor, train_set, margin, preview=out / PREVIEW_FILE)
    limit = threshold_for(config.data.height, config.data.width, config.two_stage.threshold)
    excluded = excluded_frames(checks, limit)
    report = {"frames": len(checks), "dropped": len(excluded), "excluded": excluded,
              "threshold_pixels": limit, "below_ground_margin": margin,
              "frames_without_plane": sum(c.below_ground is None for c in checks),
              "foreground_source": sorted({c.foreground_source for c in checks}),
              "below_ground": {c.index: c.below_ground for c in checks if c.below_ground}}
    exclude_path = out / EXCLUDED_FILE
    exclude_path.parent.mkdir(parents=True, exist_ok=True)
    exclude_path.write_text(json.dumps(report, indent=2))
    print(f"two-stage training: {len(excluded)} of {len(checks)} training frames dropped "
          f"(> {limit} foreground pixels below the ground plane); list in {exclude_path}, examples in "
          f"{out / PREVIEW_FILE}")
    second_config = dataclasses.replace(config, data=dataclasses.replace(config.data, exclude=str(exclude_path)))
    summary = _trainer(second_config, out / "stage2", resume, prepare).train()
    return {**summary, "frames": len(checks), "dropped": len(excluded),
            "checkpoint": str(out / "stage2" / MODELS_DIR / "last.pt")}


def _trainer(config: TrainConfig, run_dir: Path, resume: bool, prepare: Callable[[Trainer], None] | None) -> Trainer:
    resuming = resume and (run_dir / RESUME_FILE).is_file()
    trainer = Trainer(config, run_dir, resume=resuming)
    if prepare is not None and not resuming:
        prepare(trainer)
    return trainer
