"""Depth accuracy on a rosbag against its LiDAR or depth-camera ground truth (offline mode).

The offline mode runs the predictor on every frame as fast as it can; `live.py` sends the same frames
through the ROS node instead. Both feed an `Evaluator`, which applies the metrics module's protocol
(valid range, optional crop, scaling) per frame and pools pixels per depth range, so their numbers are
comparable with `semdepth evaluate`. Whatever happens, the caller gets an `EvalResult` holding every
frame evaluated so far and the error that stopped the run, if any.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.bag.frames import BagFrame, BagTopics, GroundTruth, iter_frames, read_static_transforms, \
    resolve_topics
from semdepth_ros.bag.io import BagError, BagMessage, BagReader, BagWriter, to_message
from semdepth_ros.codec import InputError
from semdepth_ros.intrinsics import Camera
from semdepth_ros.metrics import DEPTH_RANGES, MAX_DEPTH, METRIC_NAMES, MIN_DEPTH, DepthErrorAccumulator, \
    compute_depth_errors, depth_range_masks, prepare_eval_pixels
from semdepth_ros.outputs import OUTPUTS, build_outputs, enabled
from semdepth_ros.predictor import Prediction
from semdepth_ros.scale import ScalePolicy

SCALE_MODES = ("median", "checkpoint", "ground_plane")
OUTPUT_NAMESPACE = "/semdepth"  # where --record puts the network outputs
SAMPLE_WIDTH = 480              # qualitative samples are kept downsized


class StopEvaluation(RuntimeError):
    """A frame handler cannot go on (e.g. the node died); like a BagError, partial results are kept."""


class DepthPredictor(Protocol):
    """What the evaluation needs from a model: `semdepth_ros.predictor.Predictor` or a test stand-in."""

    def predict(self, image: np.ndarray, intrinsics: np.ndarray | None = None, output: str = "network",
                scale: ScalePolicy | float | None = None, with_points: bool = True) -> Prediction: ...


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
    crop: str | None = None               # "garg" / "eigen" for KITTI-style evaluation
    samples: int = 4                      # frames in the qualitative strip
    frames: tuple[int, int | None] = (0, None)  # images [start, stop) in bag order (e.g. a held-back part)


@dataclasses.dataclass
class Sample:
    index: int
    rgb: np.ndarray
    gt: np.ndarray
    pred: np.ndarray       # scaled as evaluated


@dataclasses.dataclass
class EvalResult:
    bag: str
    mode: str                              # "offline" or "live"
    options: EvalOptions
    topics: BagTopics | None = None
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    samples: list[Sample] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    live: dict[str, Any] | None = None
    error: str | None = None


class Evaluator:
    """Per-frame metrics (averaged over frames, the Eigen convention) and per-range pooled pixels."""

    def __init__(self, options: EvalOptions, expected_frames: int) -> None:
        self.options = options
        self.rows: list[dict[str, Any]] = []
        self.samples: list[Sample] = []
        self._ranges = {name: DepthErrorAccumulator() for name, _, _ in DEPTH_RANGES}
        first, stop = options.frames
        last = expected_frames if stop is None else min(stop, expected_frames)
        count = max(0, min(options.samples, last - first))
        self._sample_at = {int(i) for i in np.linspace(first, last - 1, count).round()} if count else set()

    def add(self, frame: BagFrame, status: str, gt: np.ndarray | None = None, pred: np.ndarray | None = None,
            rgb: np.ndarray | None = None, **extra: float) -> None:
        """Record one frame; ``status`` 'ok' with gt and pred evaluates it, anything else counts it."""
        row: dict[str, Any] = {"frame": frame.index, "stamp": f"{frame.stamp_ns / 1e9:.6f}",
                               "gt_dt_ms": None if frame.gt_dt is None else round(frame.gt_dt * 1e3, 3),
                               "status": status, "valid_px": 0, "scale": None,
                               **{m: None for m in METRIC_NAMES}, **extra}
        if status == "ok":
            if pred.shape != gt.shape:  # the standard protocol: upsample the prediction to the GT
                pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
            opts = self.options
            pixels = prepare_eval_pixels(gt, pred, crop=opts.crop, scale=None if opts.scale == "median" else 1.0,
                                         min_depth=opts.min_depth, max_depth=opts.max_depth)
            if pixels.gt.size == 0:
                row["status"] = "no_valid_gt"
            else:
                row.update(compute_depth_errors(pixels.gt, pixels.pred), valid_px=int(pixels.gt.size),
                           scale=pixels.ratio)
                for name, mask in depth_range_masks(pixels.gt):
                    self._ranges[name].update(pixels.gt[mask], pixels.pred[mask])
                if frame.index in self._sample_at and rgb is not None:
                    self.samples.append(_sample(frame.index, rgb, gt, pred * pixels.ratio))
        self.rows.append(row)

    def summary(self) -> dict[str, Any]:
        ok = [r for r in self.rows if r["status"] == "ok"]
        statuses: dict[str, int] = {}
        for r in self.rows:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        ratios = np.array([r["scale"] for r in ok], dtype=np.float64)
        return {
            "frames": len(self.rows), "evaluated": len(ok), "status_counts": statuses,
            "metrics": {m: float(np.mean([r[m] for r in ok])) if ok else float("nan") for m in METRIC_NAMES},
            "by_range": {name: {**acc.compute(), "count": acc.count}
                         for name, acc in self._ranges.items() if acc.count},
            "scaling": {"mode": self.options.scale, "crop": self.options.crop,
                        "min_depth": self.options.min_depth, "max_depth": self.options.max_depth,
                        "ratio_median": float(np.median(ratios)) if ok else float("nan"),
                        "ratio_std": float(np.std(ratios)) if ok else float("nan")},
        }


def _sample(index: int, rgb: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> Sample:
    """Downsized copies for the report (GT with nearest neighbour so sparse points survive)."""
    h, w = gt.shape
    size = (SAMPLE_WIDTH, max(1, round(h * SAMPLE_WIDTH / w))) if w > SAMPLE_WIDTH else (w, h)
    return Sample(index, cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
                  cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST),
                  cv2.resize(pred.astype(np.float32), size, interpolation=cv2.INTER_LINEAR))


class Recorder:
    """--record: the input topics and the network outputs in one mcap bag, for rviz or Foxglove.

    Outputs go under OUTPUT_NAMESPACE with the node's topic names and the input image's header, as
    `ros2 bag record` of a node with default parameters would store them (`semdepth_ros.outputs`).
    """

    def __init__(self, path: str | Path, topics: BagTopics, static_tf: list[BagMessage]) -> None:
        self.topics = topics
        self.writer = BagWriter(path, "mcap").open()
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


def run_on_bag(bag: str | Path, mode: str, options: EvalOptions, handle_frames: FrameHandler,
               record: str | Path | None = None) -> EvalResult:
    """Open the bag, pick topics, then let ``handle_frames`` consume the frames.

    A BagError or StopEvaluation ends the run into ``result.error`` with the frames done so far kept,
    so a bag that is cut or corrupt midway still gives numbers (and a valid recorded bag).
    """
    result = EvalResult(str(bag), mode, options)
    evaluator: Evaluator | None = None
    recorder: Recorder | None = None
    try:
        with BagReader(bag) as reader:
            result.notes += reader.notes
            topics = resolve_topics(reader, options.image_topic, options.info_topic, options.lidar_topic,
                                    options.depth_topic)
            result.topics = topics
            tree, static_msgs = read_static_transforms(reader)
            ground_truth = GroundTruth(topics.gt_kind, tree, options.extrinsic)
            expected = reader.counts.get(topics.image, 0)
            evaluator = Evaluator(options, expected)
            if record:
                recorder = Recorder(record, topics, static_msgs)
            first, stop = options.frames
            in_range = itertools.takewhile(lambda f: stop is None or f.index < stop,
                                           iter_frames(reader, topics, options.max_dt))
            selected = (f for f in in_range if f.index >= first)
            total = max(0, (expected if stop is None else min(stop, expected)) - first)
            frames = tqdm(selected, total=total, unit="frame", desc=f"eval-bag {mode}")
            handle_frames(frames, ground_truth, evaluator, recorder, result)
    except (BagError, StopEvaluation) as exc:
        result.error = str(exc)
    finally:
        if recorder is not None:
            recorder.close()
    evaluator = evaluator or Evaluator(options, 0)  # the bag could not even be opened: an empty summary
    result.rows, result.samples, result.summary = evaluator.rows, evaluator.samples, evaluator.summary()
    if result.error is None and not result.summary.get("evaluated"):
        result.error = _nothing_evaluated(result)
    return result


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
                     record: str | Path | None = None, scale: ScalePolicy | None = None) -> EvalResult:
    """Run ``predictor`` on every frame of the bag as fast as possible and evaluate it.

    ``scale`` is the node's metric scaling (e.g. ground_plane); None keeps the checkpoint's factor.
    """
    def handle(frames: Iterable[BagFrame], ground_truth: GroundTruth, evaluator: Evaluator,
               recorder: Recorder | None, result: EvalResult) -> None:
        for frame in frames:
            decoded = decode(frame, ground_truth, evaluator, result)
            if decoded is None:
                continue
            rgb, camera, gt = decoded
            if recorder is None and gt is None:
                evaluator.add(frame, "no_gt")
                continue
            pred = predictor.predict(rgb, intrinsics=camera.K, output="network", scale=scale,
                                     with_points=recorder is not None)
            infer_ms = round(sum(pred.timings.values()), 3)
            if recorder is not None:
                recorder.inputs(frame)
                recorder.prediction(frame, rgb, pred, camera)
            if gt is None:
                evaluator.add(frame, "no_gt", infer_ms=infer_ms)
            else:
                evaluator.add(frame, "ok", gt, pred.depth, rgb, infer_ms=infer_ms)

    return run_on_bag(bag, "offline", options, handle, record)
