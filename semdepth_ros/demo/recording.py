"""Read back the bag recorded during the live run: accuracy both ways, montage rows and one cloud.

Everything comes from the recording, not from in-memory copies, so the numbers and pictures describe
exactly what the node published over DDS (and what `ros2 bag play` will show).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from semdepth_ros.bag.eval_bag import OUTPUT_NAMESPACE, EvalOptions, Evaluator
from semdepth_ros.bag.frames import BagTopics, iter_frames
from semdepth_ros.bag.ground_truth import depth_image_gt
from semdepth_ros.bag.io import BagReader, stamp_to_ns
from semdepth_ros.codec import cloud_fields, cloud_fields_to_arrays, image_fields, image_fields_to_depth, \
    message_to_rgb, unpack_rgb
from semdepth_ros.demo.drive import GT_TOPIC, IMAGE_TOPIC, INFO_TOPIC
from semdepth_ros.outputs import OUTPUTS, depth_for_evaluation

DEPTH_TOPIC, OVERLAY_TOPIC, POINTS_TOPIC = (f"{OUTPUT_NAMESPACE}/{OUTPUTS[name].topic}"
                                            for name in ("depth", "overlay", "points"))
# metrics.json key -> eval-bag scale mode: scale-free (the monocular protocol) and as the node publishes it.
SCALINGS = {"median_scaled": "median", "checkpoint_scale": "checkpoint"}


@dataclasses.dataclass
class MontageRow:
    stamp_ns: int
    rgb: np.ndarray
    depth: np.ndarray
    overlay: np.ndarray | None


@dataclasses.dataclass
class Cloud:
    points: np.ndarray    # [H, W, 3] float32, NaN where invalid
    colours: np.ndarray   # [H, W, 3] uint8
    labels: np.ndarray    # [H, W] uint8


@dataclasses.dataclass
class Recording:
    accuracy: dict[str, dict[str, Any]]   # SCALINGS key -> Evaluator.summary()
    rows: list[MontageRow]
    cloud: Cloud | None


def _cloud(msg: Any) -> Cloud:
    arrays = cloud_fields_to_arrays(**cloud_fields(msg))
    points = np.stack([arrays[axis] for axis in "xyz"], axis=-1)
    return Cloud(points, unpack_rgb(arrays["rgb"]), arrays["label"])


def read_recording(path: Path, samples: int = 4) -> Recording:
    """Evaluate every answered frame and keep ``samples`` evenly spaced frames (the middle one's cloud)."""
    with BagReader(path) as reader:
        depths = {stamp_to_ns(item.msg.header.stamp): image_fields_to_depth(**image_fields(item.msg))
                  for item in reader.messages([DEPTH_TOPIC])}
        answered = sorted(depths)
        picks = sorted({answered[int(i)] for i in np.linspace(0, len(answered) - 1, min(samples, len(answered)))})
        cloud_stamp = picks[len(picks) // 2] if picks else None
        overlays: dict[int, np.ndarray] = {}
        cloud = None
        for item in reader.messages([OVERLAY_TOPIC, POINTS_TOPIC]):
            stamp = stamp_to_ns(item.msg.header.stamp)
            if item.topic == OVERLAY_TOPIC and stamp in picks:
                overlays[stamp] = message_to_rgb(item.msg)
            elif item.topic == POINTS_TOPIC and stamp == cloud_stamp:
                cloud = _cloud(item.msg)

        evaluators = {key: Evaluator(EvalOptions(scale=mode, samples=0), reader.counts.get(IMAGE_TOPIC, 0))
                      for key, mode in SCALINGS.items()}
        rows = []
        for frame in iter_frames(reader, BagTopics(IMAGE_TOPIC, INFO_TOPIC, GT_TOPIC, "depth"), max_dt=0.0):
            pred = depths.get(frame.stamp_ns)
            for evaluator in evaluators.values():
                if pred is None:
                    evaluator.add(frame, "dropped")
                elif frame.gt is None:
                    evaluator.add(frame, "no_gt")
                else:  # NaN = beyond range or at the network's cap: far, as eval-bag --live reads it
                    evaluator.add(frame, "ok", depth_image_gt(frame.gt), depth_for_evaluation(pred))
            if frame.stamp_ns in picks:
                rows.append(MontageRow(frame.stamp_ns, frame.rgb(), pred, overlays.get(frame.stamp_ns)))
    return Recording({key: ev.summary() for key, ev in evaluators.items()}, rows, cloud)
