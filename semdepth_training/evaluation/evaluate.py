"""The evaluation loop: a checkpoint's depth against ground truth under the standard protocol.

Protocol (Semantic-Guided Representation Enhancement, Sec. 5 / Table 1, after Monodepth2 and Eigen et
al. 2014): the network runs at its input size, its disparity is resized to the GT size, the GT is
capped to (1e-3, 80] m and cropped (Garg crop for KITTI Velodyne GT), each prediction is median-scaled
(or multiplied by a fixed metric factor) and the seven metrics are averaged over images; that protocol is
`semdepth_ros.metrics.ImageSetMetrics`, the one eval-bag runs, with the constant-depth baseline beside
the model. Breakdowns
pool pixels over the whole set: per semantic class (Semantic-Guided Representation Enhancement, Fig. 5;
Semantically-Guided Representation Learning, Fig. 4: pseudo-label train ids binned per pixel),
foreground vs background (Semantic-Guided Representation Enhancement, Table 7) and per GT depth range
(Look Deeper into Depth, Tables 4-7).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.classes import CITYSCAPES_TRAIN_IDS, foreground_from_train_ids
from semdepth_ros.metrics import (MAX_DEPTH, METRIC_NAMES, MIN_DEPTH, DepthErrorAccumulator, EvalPixels,
                                  ImageSetMetrics, resize_prediction)
from semdepth_ros.predictor import Predictor
from semdepth_ros.scale import NO_SCALE
from semdepth_training.evaluation.samples import EvalSample

SCALINGS = ("median", "fixed")
FOREGROUND_NAMES = ("background", "foreground")


@dataclass
class EvalOptions:
    """Protocol settings; the defaults are the KITTI Eigen-split ones."""

    crop: str | None = "garg"
    scaling: str = "median"
    scale_factor: float = 1.0          # the multiplier when scaling == "fixed"
    min_depth: float = MIN_DEPTH
    max_depth: float = MAX_DEPTH
    batch_size: int = 4
    num_examples: int = 4


@dataclass
class Example:
    """One image kept for the qualitative figure (prediction already scaled)."""

    name: str
    image: np.ndarray
    depth_pred: np.ndarray
    fg_pred: np.ndarray
    abs_rel_map: np.ndarray            # NaN where there is no valid GT


@dataclass
class EvalResult:
    """Image-averaged metrics (the published protocol) and the constant-depth baseline on the same
    pixels, plus pixel-pooled breakdowns."""

    metrics: dict[str, float]
    baseline: dict[str, float]
    num_images: int
    num_skipped: int
    scaling: dict[str, Any]
    by_range: dict[str, dict[str, float]]
    by_class: dict[str, dict[str, float]]
    by_foreground: dict[str, dict[str, float]]
    foreground_source: dict[str, int]
    examples: list[Example] = field(default_factory=list)

    @property
    def class_average(self) -> dict[str, float]:
        """Mean over classes of each metric (the rightmost column of Semantically-Guided Representation
        Learning, Fig. 4)."""
        if not self.by_class:
            return {}
        return {m: float(np.mean([c[m] for c in self.by_class.values()])) for m in METRIC_NAMES}

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "baseline": self.baseline, "num_images": self.num_images,
                "num_skipped": self.num_skipped,
                "scaling": self.scaling, "by_range": self.by_range, "by_class": self.by_class,
                "class_average": self.class_average, "by_foreground": self.by_foreground,
                "foreground_source": self.foreground_source}


def _foreground_labels(sample: EvalSample, fg_pred: np.ndarray) -> tuple[str, np.ndarray]:
    """Foreground/background per pixel from the best source at hand, and the source's name."""
    if sample.classes is not None:
        return "train_ids", foreground_from_train_ids(sample.classes)
    if sample.fg_mask is not None:
        return "fg_mask", sample.fg_mask
    return "predicted", (fg_pred > 0.5).astype(np.uint8)


class _Breakdowns:
    """Pixel-pooled accumulators for the class and foreground breakdowns, keyed by name."""

    def __init__(self) -> None:
        self.classes: dict[str, DepthErrorAccumulator] = {}
        self.foreground: dict[str, DepthErrorAccumulator] = {}

    @staticmethod
    def _add(table: dict[str, DepthErrorAccumulator], key: str, gt: np.ndarray, pred: np.ndarray) -> None:
        table.setdefault(key, DepthErrorAccumulator()).update(gt, pred)

    def update(self, gt: np.ndarray, pred: np.ndarray, classes: np.ndarray | None, fg: np.ndarray) -> None:
        for value, name in enumerate(FOREGROUND_NAMES):
            mask = fg == value
            if mask.any():
                self._add(self.foreground, name, gt[mask], pred[mask])
        if classes is not None:
            for class_id in np.unique(classes):
                if class_id < len(CITYSCAPES_TRAIN_IDS):
                    mask = classes == class_id
                    self._add(self.classes, CITYSCAPES_TRAIN_IDS[class_id], gt[mask], pred[mask])

    def tables(self) -> tuple[dict, dict]:
        """(by class, by foreground) tables of metrics + pixel ``count``, in a fixed order."""
        def table(accumulators: dict[str, DepthErrorAccumulator], order: Sequence[str]) -> dict:
            return {k: {**accumulators[k].compute(), "count": accumulators[k].count}
                    for k in order if k in accumulators}

        return table(self.classes, CITYSCAPES_TRAIN_IDS), table(self.foreground, FOREGROUND_NAMES)


def _batches(items: Iterable[EvalSample], size: int) -> Iterator[list[EvalSample]]:
    batch: list[EvalSample] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Evaluation:
    """Everything accumulated over the test set, one image at a time."""

    def __init__(self, options: EvalOptions, keep: set[int]) -> None:
        self.options = options
        self.protocol = ImageSetMetrics(options.crop, None if options.scaling == "median" else options.scale_factor,
                                        options.min_depth, options.max_depth)
        self.keep = keep
        self.breakdowns = _Breakdowns()
        self.sources: Counter[str] = Counter()
        self.examples: list[Example] = []
        self.seen = 0

    def add(self, sample: EvalSample, depth: np.ndarray, fg_prob: np.ndarray) -> None:
        index, self.seen = self.seen, self.seen + 1
        score = self.protocol.add(sample.depth_gt, depth)
        if score is None:
            return
        size = sample.depth_gt.shape
        if fg_prob.shape != size:
            fg_prob = cv2.resize(fg_prob, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        pixels = score.pixels
        source, fg = _foreground_labels(sample, fg_prob)
        self.sources[source] += 1
        classes = sample.classes[pixels.mask] if sample.classes is not None else None
        self.breakdowns.update(pixels.gt, pixels.pred, classes, fg[pixels.mask])
        if index in self.keep:
            self.examples.append(_example(sample, resize_prediction(depth, size), fg_prob, pixels, self.options))

    def result(self) -> EvalResult:
        count = self.protocol.images
        if count == 0:
            raise ValueError("no image had valid ground truth; check the GT source and the depth cap")
        by_class, by_foreground = self.breakdowns.tables()
        scaling = {"mode": self.options.scaling, **self.protocol.scale_summary(), "crop": self.options.crop or "none",
                   "min_depth": self.options.min_depth, "max_depth": self.options.max_depth}
        return EvalResult(
            metrics=self.protocol.metrics, baseline=self.protocol.baseline, num_images=count,
            num_skipped=self.seen - count, scaling=scaling, by_range=self.protocol.by_range(), by_class=by_class,
            by_foreground=by_foreground, foreground_source=dict(self.sources), examples=self.examples)


def evaluate(predictor: Predictor, samples: Iterable[EvalSample], total: int | None,
             options: EvalOptions) -> EvalResult:
    """Run the protocol over ``samples`` (``total`` only drives progress and example spacing).

    The predictor runs batched without autograd and unscaled (NO_SCALE); scaling is the protocol's.
    """
    if options.scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, not {options.scaling!r}")
    state = _Evaluation(options, _example_indices(total, options.num_examples))
    for batch in _batches(tqdm(samples, total=total, desc="evaluate", unit="img"), options.batch_size):
        predictions = predictor.predict_batch([s.image for s in batch], scale=NO_SCALE, with_points=False)
        for sample, prediction in zip(batch, predictions):
            state.add(sample, prediction.depth, prediction.fg_prob)
    return state.result()


def _example_indices(total: int | None, count: int) -> set[int]:
    """Evenly spaced sample indices for the qualitative figure (the first ones if ``total`` is unknown)."""
    if count <= 0:
        return set()
    return set(np.linspace(0, max((total or count) - 1, 0), count).astype(int).tolist())


def _example(sample: EvalSample, depth: np.ndarray, fg_pred: np.ndarray, pixels: EvalPixels,
             options: EvalOptions) -> Example:
    scaled = np.clip(depth * pixels.ratio, options.min_depth, options.max_depth)
    error = np.full(sample.depth_gt.shape, np.nan, dtype=np.float32)
    error[pixels.mask] = np.abs(pixels.gt - pixels.pred) / pixels.gt
    image = cv2.resize(sample.image, (depth.shape[1], depth.shape[0]), interpolation=cv2.INTER_AREA) \
        if sample.image.shape[:2] != depth.shape else sample.image
    return Example(sample.name, image, scaled.astype(np.float32), fg_pred, error)
