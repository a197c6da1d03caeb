"""Depth error metrics of the standard monocular-depth protocol (ROS- and training-free).

The seven metrics are those of Eigen et al. (NIPS 2014) as reported in Semantic-Guided Representation
Enhancement, Table 1: abs_rel = mean(|d - d*| / d*), sq_rel = mean((d - d*)^2 / d*), rmse, rmse_log
(natural log) and the threshold accuracies a_k = fraction with max(d / d*, d* / d) < 1.25^k, d* = ground
truth. Pooled breakdowns also give log10 = mean(|log10 d - log10 d*|), the column Look Deeper into Depth,
Tables 4-7, report instead of sq_rel. Evaluation conventions follow Monodepth2 (which Semantic-Guided Representation Enhancement,
Sec. 5, builds on): Garg crop, depth capped to (1e-3, 80] m, per-image median scaling for monocular
models. Both `semdepth evaluate` and the bag tools use this module so their numbers are comparable.
"""
from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import cv2
import numpy as np

MIN_DEPTH = 1e-3
MAX_DEPTH = 80.0
SCALE_TOLERANCE = 0.25   # a stored metric scale further than this (relative) from the measured one is flagged
METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3")

# Look Deeper into Depth, Tables 4-7, report cumulative ranges (depth <= 4, 6, 8 m and all) measured on
# the ground truth; 20 m and 40 m extend the same scheme to KITTI's 80 m street scenes.
DEPTH_RANGES: tuple[tuple[str, float, float], ...] = (
    ("<=4m", 0.0, 4.0),
    ("<=6m", 0.0, 6.0),
    ("<=8m", 0.0, 8.0),
    ("<=20m", 0.0, 20.0),
    ("<=40m", 0.0, 40.0),
    ("all", 0.0, float("inf")),
)


class DepthErrorAccumulator:
    """Running sums of the per-pixel error terms, so metrics can be pooled over many images.

    Per-class and per-range breakdowns pool pixels over the whole test set (a class present in a
    few pixels of one image would otherwise weigh as much as a full image).
    """

    def __init__(self) -> None:
        self.count = 0
        self._sums = np.zeros(8, dtype=np.float64)

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        """Add valid pixels (matching 1-D or N-D arrays of positive depths)."""
        gt = np.asarray(gt, dtype=np.float64).ravel()
        pred = np.asarray(pred, dtype=np.float64).ravel()
        if gt.shape != pred.shape:
            raise ValueError(f"gt and pred differ in size: {gt.shape} vs {pred.shape}")
        if gt.size == 0:
            return
        diff = gt - pred
        thresh = np.maximum(gt / pred, pred / gt)
        self._sums += (
            np.sum(np.abs(diff) / gt),
            np.sum(diff ** 2 / gt),
            np.sum(diff ** 2),
            np.sum((np.log(gt) - np.log(pred)) ** 2),
            np.count_nonzero(thresh < 1.25),
            np.count_nonzero(thresh < 1.25 ** 2),
            np.count_nonzero(thresh < 1.25 ** 3),
            np.sum(np.abs(np.log10(gt) - np.log10(pred))),
        )
        self.count += gt.size

    def merge(self, other: "DepthErrorAccumulator") -> None:
        """Add another accumulator's pixels (pooling two sets = accumulating their union)."""
        self._sums += other._sums
        self.count += other.count

    def compute(self) -> dict[str, float]:
        """The seven metrics and log10 over all pixels added so far (NaN when none were)."""
        if self.count == 0:
            return {name: float("nan") for name in (*METRIC_NAMES, "log10")}
        mean = self._sums / self.count
        return {"abs_rel": float(mean[0]), "sq_rel": float(mean[1]), "rmse": float(np.sqrt(mean[2])),
                "rmse_log": float(np.sqrt(mean[3])), "a1": float(mean[4]), "a2": float(mean[5]),
                "a3": float(mean[6]), "log10": float(mean[7])}


def compute_depth_errors(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The seven metrics on already-valid pixels (see the module docstring for definitions)."""
    acc = DepthErrorAccumulator()
    acc.update(gt, pred)
    errors = acc.compute()
    return {name: errors[name] for name in METRIC_NAMES}


def median_scale(gt: np.ndarray, pred: np.ndarray) -> float:
    """median(gt) / median(pred): the per-image scale a monocular (scale-free) model is given."""
    return float(np.median(gt) / np.median(pred))


def _crop_mask(h: int, w: int, rows: tuple[float, float], cols: tuple[float, float]) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    mask[int(rows[0] * h):int(rows[1] * h), int(cols[0] * w):int(cols[1] * w)] = True
    return mask


def garg_crop_mask(h: int, w: int) -> np.ndarray:
    """Garg et al. (ECCV 2016) crop used by the Eigen-split evaluation (rows 153:371, cols 44:1197 at 375x1242)."""
    return _crop_mask(h, w, (0.40810811, 0.99189189), (0.03594771, 0.96405229))


def eigen_crop_mask(h: int, w: int) -> np.ndarray:
    """Eigen et al. (NIPS 2014) crop, the older and taller alternative to the Garg crop."""
    return _crop_mask(h, w, (0.3324324, 0.91351351), (0.0359477, 0.96405229))


def depth_range_masks(gt: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(name, boolean mask over ``gt``) for each of :data:`DEPTH_RANGES` (lo < gt <= hi)."""
    for name, lo, hi in DEPTH_RANGES:
        yield name, (gt > lo) & (gt <= hi)


def errors_by_range(gt: np.ndarray, pred: np.ndarray) -> dict[str, dict[str, float]]:
    """Metrics per depth range of the ground truth (Look Deeper into Depth, Tables 4-7); adds ``count``.

    Ranges without pixels are left out.
    """
    gt = np.asarray(gt).ravel()
    pred = np.asarray(pred).ravel()
    result = {}
    for name, mask in depth_range_masks(gt):
        if mask.any():
            result[name] = {**compute_depth_errors(gt[mask], pred[mask]), "count": int(mask.sum())}
    return result


def resize_prediction(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Network-size depth -> GT (height, width), interpolating disparity as Monodepth2's evaluation does."""
    if depth.shape == size:
        return depth
    valid = depth > 0   # invalid depth (0, NaN from a node) stays invalid: zero disparity, zero depth
    disp = np.where(valid, 1.0 / np.where(valid, depth, 1.0), 0.0).astype(depth.dtype)
    disp = cv2.resize(disp, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return np.where(disp > 0, 1.0 / np.where(disp > 0, disp, 1.0), 0.0).astype(depth.dtype)


class EvalPixels(NamedTuple):
    """Valid pixels of one image ready for the metrics."""

    gt: np.ndarray       # [N] ground truth, metres
    pred: np.ndarray     # [N] scaled and clamped prediction, metres
    ratio: float         # the scale applied to the prediction
    mask: np.ndarray     # [H, W] bool: where the N pixels came from (to index class maps)
    gt_ratio: float      # median(gt) / median(prediction as given): the scale the ground truth asks for


def prepare_eval_pixels(gt: np.ndarray, pred: np.ndarray, crop: str | None = "garg",
                        scale: float | None = None, min_depth: float = MIN_DEPTH,
                        max_depth: float = MAX_DEPTH) -> EvalPixels:
    """Apply the protocol to one image: valid GT in (min, max], crop, scaling, prediction clamp.

    ``pred`` must already have the GT's size. ``scale=None`` means per-image median scaling;
    otherwise the prediction is multiplied by ``scale`` (a metric model: 1.0 or its checkpoint factor).
    ``crop`` is "garg", "eigen" or None (no crop, e.g. synthetic data with dense GT).
    """
    if gt.shape != pred.shape:
        raise ValueError(f"prediction {pred.shape} must be resized to the ground truth {gt.shape} first")
    mask = (gt > min_depth) & (gt <= max_depth)
    if crop == "garg":
        mask &= garg_crop_mask(*gt.shape)
    elif crop == "eigen":
        mask &= eigen_crop_mask(*gt.shape)
    elif crop is not None:
        raise ValueError(f"crop must be 'garg', 'eigen' or None, not {crop!r}")
    gt_valid = gt[mask].astype(np.float64)
    pred_valid = pred[mask].astype(np.float64)
    if gt_valid.size == 0:
        return EvalPixels(gt_valid, pred_valid, float("nan"), mask, float("nan"))
    gt_ratio = median_scale(gt_valid, pred_valid)
    ratio = gt_ratio if scale is None else float(scale)
    pred_valid = np.clip(pred_valid * ratio, min_depth, max_depth)
    return EvalPixels(gt_valid, pred_valid, ratio, mask, gt_ratio)


BASELINE_LABEL = "constant depth (median-scaled)"


def constant_depth_errors(gt: np.ndarray) -> dict[str, float]:
    """The "predict nothing" floor: one depth everywhere, median-scaled per image, i.e. median(gt) at
    every valid pixel. A model that does not beat it has learnt no depth."""
    gt = np.asarray(gt, dtype=np.float64)
    return compute_depth_errors(gt, np.full_like(gt, np.median(gt)))


def relative_difference(stored: float, measured: float) -> float:
    """|stored - measured| / measured: how far a stored metric scale is from what the ground truth says."""
    return abs(stored - measured) / measured


def scale_warning(factor: float, what: str, gt_factor: float) -> str | None:
    """One line when a metric scale is further than SCALE_TOLERANCE from the factor the ground truth asks
    for (median over images of median(gt) / median(network depth)); None when within it or unknown."""
    if not (np.isfinite(factor) and np.isfinite(gt_factor) and gt_factor > 0):
        return None
    difference = relative_difference(factor, gt_factor)
    if difference <= SCALE_TOLERANCE:
        return None
    return (f"{what} x{factor:.4g} differs by {difference:.0%} from x{gt_factor:.4g}, the median ground-truth/"
            f"prediction ratio here (tolerance {SCALE_TOLERANCE:.0%}): metric depth at that scale is off by as much")


class FrameScore(NamedTuple):
    pixels: EvalPixels
    metrics: dict[str, float]
    baseline: dict[str, float]     # constant-depth baseline on the same pixels
    factor: float                  # total factor applied to the network's depth (metric scale x protocol ratio)
    gt_factor: float               # the factor the ground truth asks for: median(gt) / median(network depth)


class ImageSetMetrics:
    """The protocol over a set of images, shared by `semdepth evaluate` and `semdepth eval-bag`.

    Per image: the prediction is resized to the GT (as disparity), capped, cropped and scaled
    (`prepare_eval_pixels`); the seven metrics and the constant-depth baseline are averaged over images
    (the Eigen convention), pixels are pooled per GT depth range, and the scale factors are kept.
    ``crop`` None/"garg"/"eigen"; ``scale`` None = per-image median scaling, else that factor.
    Sets merge: the merge of per-bag sets equals the set of all their images.
    """

    def __init__(self, crop: str | None, scale: float | None, min_depth: float = MIN_DEPTH,
                 max_depth: float = MAX_DEPTH) -> None:
        self.crop, self.scale, self.min_depth, self.max_depth = crop, scale, min_depth, max_depth
        self.images = 0
        self._sums = dict.fromkeys(METRIC_NAMES, 0.0)
        self._baseline = dict.fromkeys(METRIC_NAMES, 0.0)
        self.factors: list[float] = []
        self.gt_factors: list[float] = []
        self.ranges = {name: DepthErrorAccumulator() for name, _, _ in DEPTH_RANGES}

    def add(self, gt: np.ndarray, pred: np.ndarray, network_factor: float = 1.0) -> FrameScore | None:
        """Score one image; ``pred`` is network depth times ``network_factor`` (the metric scale already
        applied, 1 for raw network depth). None when the image has no valid ground truth."""
        pred = resize_prediction(pred, gt.shape)
        pixels = prepare_eval_pixels(gt, pred, self.crop, self.scale, self.min_depth, self.max_depth)
        if pixels.gt.size == 0:
            return None
        score = FrameScore(pixels, compute_depth_errors(pixels.gt, pixels.pred), constant_depth_errors(pixels.gt),
                           pixels.ratio * network_factor, pixels.gt_ratio * network_factor)
        self.images += 1
        for name in METRIC_NAMES:
            self._sums[name] += score.metrics[name]
            self._baseline[name] += score.baseline[name]
        self.factors.append(score.factor)
        self.gt_factors.append(score.gt_factor)
        for name, mask in depth_range_masks(pixels.gt):
            self.ranges[name].update(pixels.gt[mask], pixels.pred[mask])
        return score

    def merge(self, other: "ImageSetMetrics") -> None:
        self.images += other.images
        for name in METRIC_NAMES:
            self._sums[name] += other._sums[name]
            self._baseline[name] += other._baseline[name]
        self.factors += other.factors
        self.gt_factors += other.gt_factors
        for name, acc in self.ranges.items():
            acc.merge(other.ranges[name])

    def _mean(self, sums: dict[str, float]) -> dict[str, float]:
        return {name: value / self.images if self.images else float("nan") for name, value in sums.items()}

    @property
    def metrics(self) -> dict[str, float]:
        return self._mean(self._sums)

    @property
    def baseline(self) -> dict[str, float]:
        return self._mean(self._baseline)

    def by_range(self) -> dict[str, dict[str, float]]:
        """Metrics + pixel ``count`` per GT depth range with pixels."""
        return {name: {**acc.compute(), "count": acc.count} for name, acc in self.ranges.items() if acc.count}

    def scale_summary(self) -> dict[str, Any]:
        """Medians of the applied and the ground-truth factors, with their spread relative to the median
        (Monodepth2 prints this std / median for median scaling)."""
        def stats(values: list[float]) -> tuple[float, float]:
            if not values:
                return float("nan"), float("nan")
            arr = np.asarray(values, dtype=np.float64)
            median = float(np.median(arr))
            return median, float(np.std(arr / median))

        (ratio, ratio_std), (gt_ratio, gt_ratio_std) = stats(self.factors), stats(self.gt_factors)
        return {"ratio_median": ratio, "ratio_std": ratio_std, "gt_ratio_median": gt_ratio,
                "gt_ratio_std": gt_ratio_std}
