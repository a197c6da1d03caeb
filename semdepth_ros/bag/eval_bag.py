"""Depth accuracy on rosbags against their LiDAR or depth-camera ground truth (offline mode).

The offline mode runs the predictor on the frames, batched, as fast as it can; `live.py` sends the same
frames through the ROS node instead. Both feed an `Evaluator`, which applies the protocol of
`semdepth_ros.metrics.ImageSetMetrics` (the one `semdepth evaluate` runs: prediction resized as
disparity, valid range, crop, scaling, the constant-depth baseline), with the ground truth projected by
`semdepth_ros.lidar`, so the two commands give the same numbers on the same frames. Ground truth never
comes from this package's own outputs (`bag/markers.py`). Whatever happens, the caller gets an
`EvalResult` holding every frame evaluated so far and the error that stopped the run, if any; the
results of several bags pool into one as if the bags were one.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.bag.frames import BagFrame, BagTopics, GroundTruth, LidarProjection, iter_frames, \
    read_static_transforms, resolve_topics
from semdepth_ros.bag.io import BagError, BagMessage, BagReader, BagWriter, to_message
from semdepth_ros.bag.markers import BagMarks
from semdepth_ros.bag.selection import FrameFilter, FrameSelection
from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.codec import InputError
from semdepth_ros.intrinsics import Camera
from semdepth_ros.lidar import PIXEL_OFFSETS
from semdepth_ros.metrics import MAX_DEPTH, METRIC_NAMES, MIN_DEPTH, ImageSetMetrics, relative_difference, \
    resize_prediction, scale_warning
from semdepth_ros.outputs import OUTPUTS, build_outputs, enabled
from semdepth_ros.predictor import Prediction
from semdepth_ros.scale import Scale, ScalePolicy

SCALE_MODES = ("median", "checkpoint", "ground_plane")
CROPS = ("auto", "none", "garg", "eigen")
PIXEL_CONVENTIONS = ("auto", *PIXEL_OFFSETS)
OUTPUT_NAMESPACE = "/semdepth"  # where --record puts the network outputs
SAMPLE_WIDTH = 480              # qualitative samples are kept downsized


class StopEvaluation(RuntimeError):
    """A frame handler cannot go on (e.g. the node died); like a BagError, partial results are kept."""


class DepthPredictor(Protocol):
    """What the evaluation needs from a model: `semdepth_ros.predictor.Predictor` or a test stand-in."""

    def predict_batch(self, images: Sequence[np.ndarray], intrinsics: np.ndarray | None = None,
                      output: str = "network", scale: ScalePolicy | float | None = None,
                      with_points: bool = True) -> list[Prediction]: ...


@dataclasses.dataclass
class EvalOptions:
    image_topic: str | None = None
    info_topic: str | None = None
    lidar_topic: str | None = None
    depth_topic: str | None = None
    extrinsic: np.ndarray | None = None   # T_camera_lidar; overrides /tf_static
    scale: str = "median"
    max_dt: float = 0.05                  # s between image and ground-truth stamps
    min_depth: float = MIN_DEPTH
    max_depth: float = MAX_DEPTH
    crop: str = "auto"                    # auto: garg for KITTI data (kitti2bag), none otherwise; or none/garg/eigen
    pixel_convention: str = "auto"        # auto: kitti for KITTI data, camera_info otherwise
    frames: FrameSelection = FrameSelection()
    samples: int = 4                      # frames in the qualitative strip
    batch_size: int = 4                   # images per network call (offline)


@dataclasses.dataclass(frozen=True)
class CheckpointScale:
    """The stored metric scale of the evaluated checkpoint, to compare with what the ground truth asks for."""

    factor: float
    source: str
    domain: str

    @classmethod
    def of(cls, meta: CheckpointMeta | None) -> "CheckpointScale | None":
        return None if meta is None else cls(meta.scale_factor, meta.scale_source, meta.scale_domain)


@dataclasses.dataclass
class Sample:
    index: int
    rgb: np.ndarray
    gt: np.ndarray
    pred: np.ndarray       # scaled as evaluated


class Evaluator:
    """Per-frame rows and the protocol's image set (metrics averaged over frames, the Eigen convention)."""

    def __init__(self, options: EvalOptions, expected_frames: int, crop: str | None = None) -> None:
        self.options = options
        self.crop = crop
        self.protocol = ImageSetMetrics(crop, None if options.scale == "median" else 1.0, options.min_depth,
                                        options.max_depth)
        self.rows: list[dict[str, Any]] = []
        self.samples: list[Sample] = []
        self.scale_sources: Counter[str] = Counter()
        count = min(options.samples, expected_frames)
        self._sample_at = {int(i) for i in np.linspace(0, expected_frames - 1, count).round()} if count else set()

    def add(self, frame: BagFrame, status: str, gt: np.ndarray | None = None, pred: np.ndarray | None = None,
            rgb: np.ndarray | None = None, scale: Scale | None = None, **extra: float) -> None:
        """Record one frame; ``status`` 'ok' with gt and pred evaluates it, anything else counts it.

        ``scale`` is the metric scale already in ``pred`` (network depth x factor), when known.
        """
        position = len(self.rows)
        row: dict[str, Any] = {"frame": frame.index, "stamp": f"{frame.stamp_ns / 1e9:.6f}",
                               "gt_dt_ms": None if frame.gt_dt is None else round(frame.gt_dt * 1e3, 3),
                               "status": status, "valid_px": 0, "scale": None, "gt_scale": None,
                               **{m: None for m in METRIC_NAMES}, "baseline_abs_rel": None, **extra}
        if status == "ok":
            score = self.protocol.add(gt, pred, 1.0 if scale is None else scale.factor)
            if score is None:
                row["status"] = "no_valid_gt"
            else:
                row.update(score.metrics, valid_px=int(score.pixels.gt.size), scale=score.factor,
                           gt_scale=score.gt_factor, baseline_abs_rel=score.baseline["abs_rel"])
                if scale is not None:
                    self.scale_sources[scale.source] += 1
                if position in self._sample_at and rgb is not None:
                    shown = resize_prediction(pred, gt.shape) * score.pixels.ratio
                    self.samples.append(_sample(frame.index, rgb, gt, shown))
        self.rows.append(row)

    def merge(self, other: "Evaluator") -> None:
        """Pool another bag's frames into this one, as if the bags were one."""
        self.protocol.merge(other.protocol)
        self.rows += other.rows
        self.samples += other.samples
        self.scale_sources += other.scale_sources

    def summary(self) -> dict[str, Any]:
        statuses = Counter(r["status"] for r in self.rows)
        return {
            "frames": len(self.rows), "evaluated": self.protocol.images, "status_counts": dict(statuses),
            "metrics": self.protocol.metrics, "baseline": self.protocol.baseline, "by_range": self.protocol.by_range(),
            "scaling": {"mode": self.options.scale, "crop": self.crop, "min_depth": self.options.min_depth,
                        "max_depth": self.options.max_depth, **self.protocol.scale_summary(),
                        "network_scale_sources": dict(self.scale_sources)},
        }


def _sample(index: int, rgb: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> Sample:
    """Downsized copies for the report (GT with nearest neighbour so sparse points survive)."""
    h, w = gt.shape
    size = (SAMPLE_WIDTH, max(1, round(h * SAMPLE_WIDTH / w))) if w > SAMPLE_WIDTH else (w, h)
    return Sample(index, cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
                  cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST),
                  cv2.resize(pred.astype(np.float32), size, interpolation=cv2.INTER_LINEAR))


@dataclasses.dataclass
class EvalResult:
    bag: str
    mode: str                              # "offline" or "live"
    options: EvalOptions
    checkpoint: CheckpointScale | None = None
    topics: BagTopics | None = None
    marks: BagMarks = BagMarks()
    ground_truth: str | None = None        # the topic and how it became a depth map
    crop: str | None = None
    crop_reason: str = ""
    frame_set: str = "every frame"
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    samples: list[Sample] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    live: dict[str, Any] | None = None
    error: str | None = None
    evaluator: Evaluator | None = dataclasses.field(default=None, repr=False)


class Recorder:
    """--record: the input topics and the network outputs in one mcap bag, for rviz or Foxglove.

    Outputs go under OUTPUT_NAMESPACE with the node's topic names and the input image's header, as
    `ros2 bag record` of a node with default parameters would store them (`semdepth_ros.outputs`). The
    bag's metadata lists them as this package's outputs (`bag/markers.py`), names the ground truth and
    keeps the source bag's KITTI origin, so evaluating the recording grades against the real sensor.
    """

    def __init__(self, path: str | Path, topics: BagTopics, static_tf: list[BagMessage], marks: BagMarks) -> None:
        self.topics = topics
        self.writer = BagWriter(path, "mcap").open()
        outputs = frozenset(f"{OUTPUT_NAMESPACE}/{output.topic}" for output in OUTPUTS.values())
        marks.recorded(outputs, topics.gt).write(self.writer)
        for item in static_tf:
            self.writer.write_raw(item.topic, item.msg.__msgtype__, item.raw, item.time_ns)

    def inputs(self, frame: BagFrame) -> None:
        self.writer.write_raw(self.topics.info, frame.info.__msgtype__, frame.info_raw, frame.time_ns)
        self.writer.write_raw(self.topics.image, frame.image.__msgtype__, frame.image_raw, frame.time_ns)
        if frame.gt is not None:
            self.writer.write(self.topics.gt, frame.gt, frame.time_ns)

    def output_raw(self, name: str, msgtype: str, data: bytes, time_ns: int) -> None:
        """A node output (``name`` relative, e.g. 'semantic/mask') as received over DDS."""
        self.writer.write_raw(f"{OUTPUT_NAMESPACE}/{name}", msgtype, data, time_ns)

    def prediction(self, frame: BagFrame, rgb: np.ndarray, pred: Prediction, camera: Camera) -> None:
        """The outputs a node with default parameters publishes for this frame, from an offline prediction."""
        stamp, frame_id = frame.stamp_ns, frame.image.header.frame_id
        for name, fields in build_outputs(pred, rgb, enabled(), camera).items():
            output = OUTPUTS[name]
            self.writer.write(f"{OUTPUT_NAMESPACE}/{output.topic}", to_message(output.msgtype, fields, stamp, frame_id),
                              frame.time_ns)

    def close(self) -> None:
        self.writer.close()


# Consumes the frames of a bag: (frames, ground truth, evaluator, recorder or None, result).
FrameHandler = Callable[[Iterable[BagFrame], GroundTruth, Evaluator, Recorder | None, EvalResult], None]


def resolve_crop(crop: str, marks: BagMarks) -> tuple[str | None, str]:
    """(crop or None, why): 'auto' is the Garg crop for KITTI data and no crop otherwise."""
    if crop != "auto":
        return (None if crop == "none" else crop), "--crop"
    if marks.kitti_drive:
        return "garg", f"KITTI data ({marks.kitti_drive}, from kitti2bag): the Eigen-split protocol's crop"
    return None, "not KITTI data (no kitti2bag marks in the bag's metadata): the Garg crop is KITTI's; --crop garg applies it"


def lidar_projection(convention: str, marks: BagMarks) -> LidarProjection:
    """'auto': KITTI data at the calibration's size with the KITTI convention, else camera_info at the image size."""
    if convention == "auto":
        convention = "kitti" if marks.kitti_drive else "camera_info"
    return LidarProjection(convention, marks.kitti_calib_size if marks.kitti_drive else None)


def _selected(frames: Iterator[BagFrame], selection: FrameFilter) -> Iterator[BagFrame]:
    for frame in frames:
        if selection.stop is not None and frame.index >= selection.stop:
            return
        if selection.keep(frame.index, frame.stamp_ns):
            yield frame


def run_on_bag(bag: str | Path, mode: str, options: EvalOptions, handle_frames: FrameHandler,
               record: str | Path | None = None, checkpoint: CheckpointScale | None = None) -> EvalResult:
    """Open the bag, pick topics and frames, then let ``handle_frames`` consume the frames.

    A BagError or StopEvaluation ends the run into ``result.error`` with the frames done so far kept,
    so a bag that is cut or corrupt midway still gives numbers (and a valid recorded bag).
    """
    result = EvalResult(str(bag), mode, options, checkpoint)
    evaluator: Evaluator | None = None
    recorder: Recorder | None = None
    try:
        with BagReader(bag) as reader:
            result.notes += reader.notes
            topics = resolve_topics(reader, options.image_topic, options.info_topic, options.lidar_topic,
                                    options.depth_topic)
            result.topics = topics
            result.marks = marks = BagMarks.read(reader.custom)
            result.crop, result.crop_reason = resolve_crop(options.crop, marks)
            selection = options.frames.resolve(bag, marks)
            result.frame_set = selection.describe
            tree, static_msgs = read_static_transforms(reader)
            ground_truth = GroundTruth(topics.gt_kind, tree, options.extrinsic,
                                       lidar_projection(options.pixel_convention, marks))
            result.ground_truth = f"{topics.describe_gt()}; {ground_truth.describe()}"
            expected = selection.expected(reader.counts.get(topics.image, 0))
            evaluator = Evaluator(options, expected, result.crop)
            if record:
                recorder = Recorder(record, topics, static_msgs, marks)
            frames = tqdm(_selected(iter_frames(reader, topics, options.max_dt), selection), total=expected,
                          unit="frame", desc=f"eval-bag {mode} {Path(bag).name}")
            handle_frames(frames, ground_truth, evaluator, recorder, result)
    except (BagError, StopEvaluation) as exc:
        result.error = str(exc)
    finally:
        if recorder is not None:
            recorder.close()
    evaluator = evaluator or Evaluator(options, 0)  # the bag could not even be opened: an empty summary
    evaluator.rows.sort(key=lambda r: r["frame"])    # batched frames finish after unbatched ones
    finish(result, evaluator)
    if result.error is None and not result.summary.get("evaluated"):
        result.error = _nothing_evaluated(result)
    return result


def finish(result: EvalResult, evaluator: Evaluator) -> None:
    """Fill the result from its evaluator: rows, samples, summary and the scale check."""
    result.evaluator = evaluator
    result.rows, result.samples, result.summary = evaluator.rows, evaluator.samples, evaluator.summary()
    check = scale_check(result.options.scale, result.checkpoint, result.summary["scaling"])
    result.summary["scale_check"] = check
    if check.get("warning"):
        result.warnings.append(check["warning"])


def scale_check(mode: str, checkpoint: CheckpointScale | None, scaling: dict[str, Any]) -> dict[str, Any]:
    """The scale used and its source beside the factor the ground truth asks for (median over frames of
    median(gt) / median(network depth)), with a warning past SCALE_TOLERANCE.

    Compared: the ground-plane factors actually applied (--scale ground_plane), else the checkpoint's
    stored factor, which is what the node applies by default.
    """
    measured = scaling.get("gt_ratio_median", float("nan"))
    check: dict[str, Any] = {"mode": mode, "gt_ratio_median": measured,
                             "checkpoint": dataclasses.asdict(checkpoint) if checkpoint else None}
    if mode == "ground_plane":
        factor, what = scaling.get("ratio_median", float("nan")), "the ground-plane metric scale (median over frames)"
    elif checkpoint is not None:
        factor, what = checkpoint.factor, f"the checkpoint's metric scale ({checkpoint.source}; measured on " \
                                          f"{checkpoint.domain})"
    else:
        return check
    check.update(compared=factor, difference=relative_difference(factor, measured) if measured else float("nan"),
                 warning=scale_warning(factor, what, measured))
    return check


def pool(results: Sequence[EvalResult]) -> EvalResult:
    """One result over the frames of all ``results``: metrics as if the bags were one (per-frame
    averages over every frame of every bag, pixels pooled per range), rows tagged with their bag."""
    first = results[0]
    evaluator = Evaluator(first.options, 0, first.crop)
    pooled = EvalResult(f"{len(results)} bags", first.mode, first.options, first.checkpoint)
    for result in results:
        if result.evaluator is None:
            continue
        for row in result.evaluator.rows:
            row.setdefault("bag", Path(result.bag).name)
        evaluator.merge(result.evaluator)
    crops = {r.crop for r in results if r.evaluator is not None and r.evaluator.protocol.images}
    if len(crops) > 1:
        pooled.notes.append(f"the bags were evaluated with different crops ({', '.join(map(str, crops))}): the "
                            "pooled numbers mix protocols")
    pooled.crop = first.crop
    pooled.ground_truth = "per bag (see the table)"
    pooled.frame_set = "per bag (see the table)"
    finish(pooled, evaluator)
    count = min(first.options.samples, len(evaluator.samples))
    pooled.samples = [evaluator.samples[int(i)] for i in np.linspace(0, len(evaluator.samples) - 1, count).round()] \
        if count else []
    failed = [f"{Path(r.bag).name}: {r.error}" for r in results if r.error]
    pooled.error = "; ".join(failed) or None
    return pooled


def _nothing_evaluated(result: EvalResult) -> str:
    counts = result.summary.get("status_counts", {})
    detail = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no frames"
    return (f"no frame of {result.bag} could be evaluated ({detail}); check the topics, --max-dt "
            "(image/ground-truth stamp gap) and the transform between camera and LiDAR")


def decode(frame: BagFrame, ground_truth: GroundTruth, evaluator: Evaluator, result: EvalResult
           ) -> tuple[np.ndarray, Camera, np.ndarray | None] | None:
    """(rgb, camera, gt depth or None) of a frame; an undecodable frame is counted and noted once per reason."""
    try:
        rgb = frame.rgb()
        camera = frame.camera(rgb.shape[1], rgb.shape[0])
        gt = None if frame.gt is None else ground_truth.depth(frame, camera.K, rgb.shape[0], rgb.shape[1])
    except InputError as exc:
        reason = f"frame {frame.index}: {exc}"
        if not any(note.endswith(str(exc)) for note in result.notes):
            result.notes.append(reason)
        evaluator.add(frame, "bad_input")
        return None
    return rgb, camera, gt


def evaluate_offline(bag: str | Path, predictor: DepthPredictor, options: EvalOptions,
                     record: str | Path | None = None, scale: ScalePolicy | None = None,
                     checkpoint: CheckpointScale | None = None) -> EvalResult:
    """Run ``predictor`` on the bag's frames, ``options.batch_size`` at a time, and evaluate them.

    ``scale`` is the node's metric scaling (e.g. ground_plane); None keeps the checkpoint's factor.
    Frames of one batch share a camera (same image size and intrinsics); a change starts a new batch.
    """
    def handle(frames: Iterable[BagFrame], ground_truth: GroundTruth, evaluator: Evaluator,
               recorder: Recorder | None, result: EvalResult) -> None:
        batch: list[tuple[BagFrame, np.ndarray, Camera, np.ndarray | None]] = []

        def flush() -> None:
            if not batch:
                return
            preds = predictor.predict_batch([rgb for _, rgb, _, _ in batch], intrinsics=batch[0][2].K,
                                            output="network", scale=scale, with_points=recorder is not None)
            shared = sum(preds[0].timings.get(k, 0.0) for k in ("preprocess", "network")) / len(batch)
            for (frame, rgb, camera, gt), pred in zip(batch, preds):
                infer_ms = round(shared + sum(v for k, v in pred.timings.items() if k not in ("preprocess", "network")), 3)
                if recorder is not None:
                    recorder.inputs(frame)
                    recorder.prediction(frame, rgb, pred, camera)
                if gt is None:
                    evaluator.add(frame, "no_gt", infer_ms=infer_ms)
                else:
                    evaluator.add(frame, "ok", gt, pred.depth, rgb, scale=pred.scale, infer_ms=infer_ms)
            batch.clear()

        try:
            for frame in frames:
                decoded = decode(frame, ground_truth, evaluator, result)
                if decoded is None:
                    continue
                rgb, camera, gt = decoded
                if recorder is None and gt is None:
                    evaluator.add(frame, "no_gt")
                    continue
                if batch and (rgb.shape != batch[0][1].shape or not np.array_equal(camera.K, batch[0][2].K)):
                    flush()
                batch.append((frame, rgb, camera, gt))
                if len(batch) >= max(1, options.batch_size):
                    flush()
        finally:  # frames decoded before a damaged part of the bag are still evaluated
            flush()

    return run_on_bag(bag, "offline", options, handle, record, checkpoint)
