"""eval-bag --live: replay a bag's camera through the running ROS node over DDS and measure it.

The bag's own image and camera_info messages are published unchanged (raw CDR, original stamps) at the
recorded rate, or as fast as the node answers (`rate=None`). The node copies each input header onto its
outputs, so an answer is matched to its frame by stamp. Latency is the wall time from publishing a frame
to receiving its depth (the bag's stamps are historical, so the header stamp itself cannot be used);
a frame without depth after `timeout` seconds is dropped, as the node drops stale frames by design.

The DDS transport is `semdepth_ros.ros.replay_link` (rclpy); this module is imported only when --live
or the demo asks for it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from semdepth_ros.bag.eval_bag import CheckpointScale, EvalOptions, EvalResult, Evaluator, Recorder, \
    StopEvaluation, decode, run_on_bag
from semdepth_ros.bag.frames import BagFrame, GroundTruth
from semdepth_ros.bag.io import header, stamp_to_ns, typestore
from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.codec import COMPRESSED_IMAGE, IMAGE, image_fields, image_fields_to_depth
from semdepth_ros.outputs import OUTPUTS, depth_for_evaluation, enabled
from semdepth_ros.ros.node_process import NodeProcess
from semdepth_ros.ros.replay_link import ReplayLink
from semdepth_ros.scale import Scale

# Node outputs worth recording: those a node with default parameters publishes (topic -> type name).
RECORDED = {OUTPUTS[name].topic: OUTPUTS[name].msgtype for name in enabled()}
WARMUP_STAMP_NS = 1  # a stamp no recording has: the warm-up frame's answer is recognised and discarded


@dataclasses.dataclass
class LiveOptions:
    spawn: bool = True                     # start the node as a child process (else use a running one)
    namespace: str = "/semdepth_eval"      # where the node's relative topics live
    checkpoint: str | None = None
    device: str = "auto"
    node_params: dict[str, str] = dataclasses.field(default_factory=dict)  # extra -p name:=value
    rate: float | None = 1.0               # x recorded rate; None = as fast as the node answers
    timeout: float = 2.0                   # s without depth before a frame counts as dropped
    startup_timeout: float = 120.0         # s for the node to load its model and answer a first frame
    log_path: Path = Path("semdepth_node.log")  # the spawned node's output
    checkpoint_meta: CheckpointMeta | None = None  # the node's checkpoint, when known: its stored scale

    @property
    def published_scale(self) -> Scale | None:
        """The metric scale in the node's depth when it is the checkpoint's (scale_mode checkpoint)."""
        if self.checkpoint_meta is None or self.node_params.get("scale_mode", "checkpoint") != "checkpoint":
            return None
        return Scale(self.checkpoint_meta.scale_factor, "checkpoint")


def node_ros_args(options: LiveOptions, compressed: bool) -> list[str]:
    """The spawned node's --ros-args: its own namespace, so it cannot hear the user's camera."""
    params = {"device": options.device, "use_compressed": str(compressed).lower(), **options.node_params}
    if options.checkpoint:
        params["checkpoint"] = options.checkpoint
    args = ["-r", f"__ns:={options.namespace}"]
    for name, value in params.items():
        args += ["-p", f"{name}:={value}"]
    return args


class Answers:
    """The node's outputs as they arrive (from the DDS thread), keyed by header stamp then topic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: dict[int, dict[str, tuple[float, bytes]]] = {}

    def add(self, topic: str, raw: bytes, arrival: float) -> None:
        stamp = stamp_to_ns(typestore().deserialize_cdr(raw, RECORDED[topic]).header.stamp)
        with self._lock:
            self._arrivals.setdefault(stamp, {})[topic] = (arrival, raw)

    def take(self, stamp: int) -> dict[str, tuple[float, bytes]]:
        """What has arrived for ``stamp`` so far (removed from the store)."""
        with self._lock:
            return self._arrivals.pop(stamp, {})

    def peek(self, stamp: int) -> set[str]:
        with self._lock:
            return set(self._arrivals.get(stamp, {}))

    def discard_except(self, stamps: set[int]) -> int:
        """Forget answers to frames no longer waited for; returns how many were late real frames."""
        with self._lock:
            late = [s for s in self._arrivals if s not in stamps]
            for s in late:
                del self._arrivals[s]
        return sum(s != WARMUP_STAMP_NS for s in late)


def _restamped(frame: BagFrame, stamp_ns: int) -> tuple[bytes, bytes]:
    """The frame's info and image serialised again with another header stamp (for the warm-up)."""
    out = []
    for msg in (frame.info, frame.image):
        copy = dataclasses.replace(msg, header=header(stamp_ns, msg.header.frame_id))
        out.append(bytes(typestore().serialize_cdr(copy, msg.__msgtype__)))
    return out[0], out[1]


@dataclasses.dataclass
class _Pending:
    frame: BagFrame
    sent: float


class LiveSession:
    """Sends frames on schedule, matches answers by stamp, evaluates and records them."""

    def __init__(self, link: ReplayLink, answers: Answers, outputs: set[str], options: LiveOptions,
                 evaluator: Evaluator, ground_truth: GroundTruth, recorder: Recorder | None, result: EvalResult,
                 node: NodeProcess | None) -> None:
        self.link, self.answers, self.outputs, self.options = link, answers, outputs, options
        self.evaluator, self.ground_truth, self.recorder, self.result = evaluator, ground_truth, recorder, result
        self.node = node
        self.pending: dict[int, _Pending] = {}
        self.latencies: list[float] = []
        self.sent_times: list[float] = []
        self.arrival_times: list[float] = []
        self.dropped = 0
        self.late = 0

    def warm_up(self, frame: BagFrame) -> None:
        """Publish a re-stamped first frame until the node answers: discovery done, model loaded, and
        the outputs it publishes known."""
        info_raw, image_raw = _restamped(frame, WARMUP_STAMP_NS)
        deadline = time.monotonic() + self.options.startup_timeout
        while "depth" not in self.answers.peek(WARMUP_STAMP_NS):
            if self.node is not None and not self.node.alive():
                tail = " | ".join(self.node.log_text().strip().splitlines()[-5:])
                raise StopEvaluation(f"the depth node exited with code {self.node.process.returncode} "
                                     f"(log {self.node.log_path}): {tail}")
            if time.monotonic() > deadline:
                where = f"; see {self.node.log_path}" if self.node else " (is it running in that namespace?)"
                raise StopEvaluation(f"no depth on {self.link.depth_topic} within {self.options.startup_timeout:.0f} s "
                                   f"of sending a frame{where}")
            self.link.publish(info_raw, image_raw)
            self._sleep_until(time.monotonic() + 0.5, collect=False)
        time.sleep(0.2)  # let the warm-up frame's other outputs arrive too
        # A frame is complete once every output the node publishes has arrived (it may have some off).
        self.outputs = self.outputs & set(self.answers.take(WARMUP_STAMP_NS))

    def run(self, frames: Iterable[BagFrame]) -> None:
        start_wall: float | None = None
        start_bag = 0
        for frame in frames:
            if start_wall is None:
                start_wall, start_bag = time.monotonic(), frame.time_ns
            if self.options.rate is None:
                while self.pending:
                    self._sleep_until(time.monotonic() + 0.002)
            else:
                due = start_wall + (frame.time_ns - start_bag) / 1e9 / self.options.rate
                self._sleep_until(due)
            self._send(frame)
        while self.pending:
            self._sleep_until(time.monotonic() + 0.005)

    def _send(self, frame: BagFrame) -> None:
        if self.recorder is not None:
            self.recorder.inputs(frame)
        sent = self.link.publish(frame.info_raw, frame.image_raw)
        self.pending[frame.stamp_ns] = _Pending(frame, sent)
        self.sent_times.append(sent)

    def _sleep_until(self, when: float, collect: bool = True) -> None:
        while True:
            if collect:
                self._collect()
            left = when - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.002))

    def _collect(self) -> None:
        now = time.monotonic()
        for stamp, item in list(self.pending.items()):
            arrived = self.answers.peek(stamp)
            if arrived >= self.outputs or now - item.sent > self.options.timeout:
                del self.pending[stamp]
                self._finish(item, self.answers.take(stamp))
        self.late += self.answers.discard_except(set(self.pending))

    def _finish(self, item: _Pending, answers: dict[str, tuple[float, bytes]]) -> None:
        frame = item.frame
        if "depth" not in answers:
            self.dropped += 1
            self.evaluator.add(frame, "dropped")
            return
        arrival, depth_raw = answers["depth"]
        latency = arrival - item.sent
        self.latencies.append(latency)
        self.arrival_times.append(arrival)
        if self.recorder is not None:
            for topic, (when, raw) in answers.items():
                self.recorder.output_raw(topic, RECORDED[topic], raw, frame.time_ns + int((when - item.sent) * 1e9))
        decoded = decode(frame, self.ground_truth, self.evaluator, self.result)
        if decoded is None:
            return
        rgb, _, gt = decoded
        latency_ms = round(latency * 1e3, 3)
        if gt is None:
            self.evaluator.add(frame, "no_gt", latency_ms=latency_ms)
            return
        depth = image_fields_to_depth(**image_fields(typestore().deserialize_cdr(depth_raw, IMAGE)))
        self.evaluator.add(frame, "ok", gt, depth_for_evaluation(depth), rgb, scale=self.options.published_scale,
                           latency_ms=latency_ms)

    def stats(self) -> dict[str, Any]:
        lat = np.array(self.latencies) * 1e3
        sent, answered = len(self.sent_times), len(self.latencies)
        figures = {"mean": np.mean, "p50": np.median, "p90": lambda a: np.percentile(a, 90),
                   "p99": lambda a: np.percentile(a, 99), "max": np.max}
        return {
            "frames_sent": sent, "answered": answered, "dropped": self.dropped, "late_answers": self.late,
            "drop_rate": self.dropped / sent if sent else float("nan"),
            "input_rate_hz": _rate(self.sent_times), "output_rate_hz": _rate(self.arrival_times),
            **{f"latency_{k}_ms": float(f(lat)) if answered else float("nan") for k, f in figures.items()},
            "timeout_s": self.options.timeout,
            "rate": "max" if self.options.rate is None else f"{self.options.rate:g}x recorded",
        }


def _rate(times: list[float]) -> float:
    """Events per second between the first and the last event."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")


@contextlib.contextmanager
def _starting_node(bar: Iterable[BagFrame]) -> Iterator[None]:
    """While the node starts (model load, DDS discovery: seconds to minutes), the frames' progress bar
    (when they come with one) says so, and its clock restarts afterwards so the start-up does not
    inflate the rate and ETA."""
    if not isinstance(bar, tqdm):
        yield
        return
    description = bar.desc
    bar.set_description_str(f"{description}: starting the depth node (loading the model)")
    try:
        yield
    finally:
        bar.set_description_str(description)
        bar.unpause()


def evaluate_live(bag: str | Path, options: EvalOptions, live: LiveOptions,
                  record: str | Path | None = None) -> EvalResult:
    """Replay the bag through the node (spawned or already running) and evaluate what it answers."""
    outputs = set(RECORDED) if record else {"depth"}

    def handle(frames: Iterable[BagFrame], ground_truth: GroundTruth, evaluator: Evaluator,
               recorder: Recorder | None, result: EvalResult) -> None:
        bar, frames = frames, iter(frames)
        first = next(frames, None)
        if first is None:
            return
        compressed = first.image.__msgtype__ == COMPRESSED_IMAGE
        with contextlib.ExitStack() as stack:
            node = None
            if live.spawn:
                live.log_path.parent.mkdir(parents=True, exist_ok=True)
                node = NodeProcess(node_ros_args(live, compressed), live.log_path)
                stack.callback(node.stop)
                result.notes.append(f"node log: {node.log_path}")
            answers = Answers()
            link = ReplayLink(live.namespace, compressed, {topic: RECORDED[topic] for topic in outputs}, answers.add)
            stack.callback(link.close)
            session = LiveSession(link, answers, outputs, live, evaluator, ground_truth, recorder, result, node)
            try:
                with _starting_node(bar):
                    session.warm_up(first)
                session.run(itertools.chain([first], frames))
            finally:
                result.live = session.stats()

    return run_on_bag(bag, "live", options, handle, record, CheckpointScale.of(live.checkpoint_meta))
