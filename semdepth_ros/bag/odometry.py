"""The camera's trajectory in a recording: from robot odometry or the /tf tree, at the image stamps.

Both sources become time-stamped edges of one transform tree: a nav_msgs/Odometry message is the edge
header.frame_id -> child_frame_id (the pose of the robot in its odometry frame), a /tf message is the
edge it names. /tf_static supplies the fixed edges (e.g. base_link -> camera_optical_frame). The pose
of the camera in the fixed frame at an image stamp is the chain of edges between them, each dynamic
edge interpolated at that stamp (linear in translation, spherical in rotation); a stamp outside an
edge's recorded span, or between two samples too far apart, has no pose rather than an extrapolated
one. Poses are T_fixed_camera (camera optical frame -> fixed frame), the convention of the training
datasets' camera-to-world poses.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import numpy as np

from semdepth_ros.bag.io import ODOMETRY, TF_MESSAGE, TF_STATIC, BagCorruptError, BagError, BagReader, stamp_to_ns
from semdepth_ros.bag.transforms import invert, make_transform, matrix_to_quaternion, quaternion_to_matrix

TF = "/tf"
ODOMETRY_SOURCES = ("auto", "odometry", "tf", "none")
FIXED_FRAME_GUESSES = ("odom", "map", "world")
MAX_SAMPLE_GAP_S = 0.5   # two odometry samples further apart than this do not bracket an image
END_TOLERANCE_S = 0.025  # a stamp this close before the first (after the last) sample takes that sample
# REP 103: a body frame has x forward, y left, z up; an optical frame x right, y down, z forward.
BODY_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0],
                              [0.0, 0.0, 0.0, 1.0]])


def interpolate_pose(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """The pose ``weight`` of the way from ``a`` to ``b`` (0 = a): lerp of translation, slerp of rotation."""
    qa, qb = matrix_to_quaternion(a[:3, :3]), matrix_to_quaternion(b[:3, :3])
    dot = float(qa @ qb)
    if dot < 0:  # the shorter way round
        qb, dot = -qb, -dot
    if dot > 0.9995:  # nearly equal: lerp is exact enough and avoids dividing by sin(0)
        q = qa + weight * (qb - qa)
    else:
        theta = np.arccos(dot)
        q = (np.sin((1 - weight) * theta) * qa + np.sin(weight * theta) * qb) / np.sin(theta)
    pose = np.eye(4)
    pose[:3, :3] = quaternion_to_matrix(q)
    pose[:3, 3] = (1 - weight) * a[:3, 3] + weight * b[:3, 3]
    return pose


@dataclasses.dataclass
class TimedTransform:
    """Samples of one moving tf edge, T_parent_child at increasing stamps (ns)."""

    stamps: np.ndarray
    poses: np.ndarray

    def at(self, stamp_ns: int, max_gap_s: float = MAX_SAMPLE_GAP_S) -> np.ndarray | None:
        """The interpolated transform at ``stamp_ns``; None outside the samples (beyond a small
        tolerance, where the end sample is held) or across a gap."""
        stamps = self.stamps
        tolerance = END_TOLERANCE_S * 1e9
        if len(stamps) == 0 or stamp_ns < stamps[0] - tolerance or stamp_ns > stamps[-1] + tolerance:
            return None
        i = int(np.searchsorted(stamps, stamp_ns, side="right"))
        if i == 0 or i == len(stamps):  # at or just beyond an end
            return self.poses[0 if i == 0 else -1].copy()
        lo, hi = stamps[i - 1], stamps[i]
        if stamp_ns == lo:
            return self.poses[i - 1].copy()
        if hi - lo > max_gap_s * 1e9:
            return None
        return interpolate_pose(self.poses[i - 1], self.poses[i], (stamp_ns - lo) / (hi - lo) if hi > lo else 0.0)


class TransformHistory:
    """Moving edges (from /tf or odometry) and fixed ones (/tf_static), with lookups at a stamp."""

    def __init__(self) -> None:
        self._samples: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {}
        self._timed: dict[tuple[str, str], TimedTransform] = {}
        self._static: dict[tuple[str, str], np.ndarray] = {}

    def add(self, parent: str, child: str, stamp_ns: int, t_parent_child: np.ndarray) -> None:
        """One sample of a moving edge."""
        self._samples.setdefault((_strip(parent), _strip(child)), []).append((stamp_ns, t_parent_child))
        self._timed.clear()

    def add_static(self, parent: str, child: str, t_parent_child: np.ndarray) -> None:
        self._static[(_strip(parent), _strip(child))] = t_parent_child

    def add_message(self, tf_message: Any, static: bool, exclude: tuple[str, str] | None = None) -> None:
        """Every TransformStamped of a tf2_msgs/TFMessage except the edge ``exclude`` (parent, child)."""
        for ts in tf_message.transforms:
            if (_strip(ts.header.frame_id), _strip(ts.child_frame_id)) == exclude:
                continue
            tr, rot = ts.transform.translation, ts.transform.rotation
            t = make_transform((tr.x, tr.y, tr.z), (rot.x, rot.y, rot.z, rot.w))
            if static:
                self.add_static(ts.header.frame_id, ts.child_frame_id, t)
            else:
                self.add(ts.header.frame_id, ts.child_frame_id, stamp_to_ns(ts.header.stamp), t)

    def _edge(self, key: tuple[str, str]) -> TimedTransform:
        if key not in self._timed:
            samples = sorted(self._samples[key], key=lambda item: item[0])
            unique = {stamp: pose for stamp, pose in samples}  # a repeated stamp keeps the last value
            self._timed[key] = TimedTransform(np.array(list(unique), dtype=np.int64), np.array(list(unique.values())))
        return self._timed[key]

    def frames(self) -> set[str]:
        return {frame for edge in (*self._samples, *self._static) for frame in edge}

    def chain(self, target: str, source: str) -> list[tuple[str, str, bool]] | None:
        """Edges (parent, child, moving) leading from ``target`` to ``source`` (breadth-first), or None
        when nothing joins them."""
        target, source = _strip(target), _strip(source)
        neighbours: dict[str, list[tuple[str, tuple[str, str, bool]]]] = {}
        for edges, moving in ((self._samples, True), (self._static, False)):
            for parent, child in edges:
                neighbours.setdefault(parent, []).append((child, (parent, child, moving)))
                neighbours.setdefault(child, []).append((parent, (parent, child, moving)))
        previous: dict[str, tuple[str, tuple[str, str, bool]] | None] = {target: None}
        queue = deque([target])
        while queue and source not in previous:
            frame = queue.popleft()
            for other, edge in neighbours.get(frame, []):
                if other not in previous:
                    previous[other] = (frame, edge)
                    queue.append(other)
        if source not in previous:
            return None
        edges, frame = [], source
        while (step := previous[frame]) is not None:
            frame, edge = step
            edges.append(edge)
        return edges[::-1]

    def lookup(self, target: str, source: str, stamp_ns: int,
               chain: list[tuple[str, str, bool]] | None = None) -> np.ndarray | None:
        """T_target_source at ``stamp_ns``: None when the frames are not joined or a moving edge has
        no samples around the stamp."""
        chain = self.chain(target, source) if chain is None else chain
        if chain is None:
            return None
        frame, result = _strip(target), np.eye(4)
        for parent, child, moving in chain:
            t_parent_child = self._edge((parent, child)).at(stamp_ns) if moving else self._static[(parent, child)]
            if t_parent_child is None:
                return None
            forward = frame == parent
            result = result @ (t_parent_child if forward else invert(t_parent_child))
            frame = child if forward else parent
        return result


def _strip(frame: str) -> str:
    """tf2 frame ids never start with '/'; ROS 1 era bags sometimes have one."""
    return frame.lstrip("/")


@dataclasses.dataclass
class CameraTrajectory:
    """Where the camera poses of a bag come from, and how to get one at an image stamp."""

    history: TransformHistory
    fixed_frame: str
    camera_frame: str
    source: str                        # "odometry <topic>" or "tf"
    chain: list[tuple[str, str, bool]]
    notes: list[str]

    def pose_at(self, stamp_ns: int) -> np.ndarray | None:
        """T_fixed_camera at the stamp, or None where the trajectory does not cover it."""
        return self.history.lookup(self.fixed_frame, self.camera_frame, stamp_ns, self.chain)


def _pose_of(pose: Any) -> np.ndarray:
    p, q = pose.position, pose.orientation
    return make_transform((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))


def read_camera_trajectory(reader: BagReader, camera_frame: str, source: str = "auto",
                           odometry_topic: str | None = None, fixed_frame: str | None = None,
                           camera_in_body: np.ndarray | None = None) -> CameraTrajectory | None:
    """The camera trajectory of a bag, or None when the bag has no usable odometry (``source`` "none",
    or "auto" without an odometry topic or a /tf chain to the camera).

    ``source``: "odometry" (a nav_msgs/Odometry topic: ``odometry_topic`` or the bag's only one), "tf"
    (/tf from ``fixed_frame``), "auto" (odometry if the bag has it, else /tf). ``camera_in_body`` is
    T_child_camera for an odometry whose child frame /tf_static does not join to the camera; without it
    a forward-looking camera at the child frame's origin is assumed and said in ``notes``. A bag that
    breaks off while reading keeps the samples before the damage (noted). Raises BagError for a source
    that was asked for by name and is unusable.
    """
    if source not in ODOMETRY_SOURCES:
        raise ValueError(f"odometry source must be one of {', '.join(ODOMETRY_SOURCES)}, not {source!r}")
    if source == "none":
        return None
    odometry_topics = reader.topics_of_type(ODOMETRY)
    if odometry_topic:
        reader.require(odometry_topic, (ODOMETRY,), "odometry topic")
    use_odometry = source == "odometry" or (source == "auto" and bool(odometry_topic or odometry_topics))
    if use_odometry and not odometry_topic:
        if len(odometry_topics) != 1:
            found = ", ".join(odometry_topics) or "none"
            raise BagError(f"cannot tell the odometry topic in {reader.path} (nav_msgs/Odometry topics: {found}); "
                           "pass --odom-topic")
        odometry_topic = odometry_topics[0]
    if not use_odometry and reader.topics.get(TF) != TF_MESSAGE:
        if source == "tf":
            raise BagError(f"bag {reader.path} has no /tf topic (topics: {reader.describe_topics()})")
        return None
    notes: list[str] = []
    history, odom_edge = _read_history(reader, odometry_topic if use_odometry else None, notes)
    camera_frame = _strip(camera_frame)
    if use_odometry:
        if odom_edge is None:
            raise BagError(f"odometry topic {odometry_topic} in {reader.path} has no messages")
        fixed = odom_edge[0]
        if history.chain(fixed, camera_frame) is None:
            body = odom_edge[1]
            extrinsic = camera_in_body if camera_in_body is not None else BODY_FROM_OPTICAL
            history.add_static(body, camera_frame, extrinsic)
            if camera_in_body is None:
                notes.append(f"no transform joins odometry frame '{body}' and camera frame '{camera_frame}' in "
                             f"/tf or /tf_static: assuming a forward-looking camera at the origin of '{body}' "
                             "(REP 103 axes); pass --camera-extrinsic for the real mounting")
        described = f"odometry {odometry_topic} ({fixed} -> {odom_edge[1]})"
    else:
        fixed = fixed_frame or _guess_fixed_frame(history, camera_frame)
        if fixed is None:
            if source == "tf":
                raise BagError(f"no /tf chain reaches camera frame '{camera_frame}' from {', '.join(FIXED_FRAME_GUESSES)}"
                               f" (frames: {', '.join(sorted(history.frames()))}); pass --fixed-frame")
            return None
        described = "tf"
    chain = history.chain(fixed, camera_frame)
    if chain is None:
        raise BagError(f"no transform chain from '{fixed}' to camera frame '{camera_frame}' in {reader.path} "
                       f"(frames: {', '.join(sorted(history.frames()))})")
    if not any(moving for _, _, moving in chain):
        if source == "auto":
            return None
        raise BagError(f"the chain from '{fixed}' to '{camera_frame}' holds no moving transform: no ego-motion")
    return CameraTrajectory(history, fixed, camera_frame, described, chain, notes)


def _guess_fixed_frame(history: TransformHistory, camera_frame: str) -> str | None:
    """The first usual fixed frame (odom, map, world) joined to the camera through a moving edge."""
    for frame in FIXED_FRAME_GUESSES:
        chain = history.chain(frame, camera_frame)
        if chain is not None and any(moving for _, _, moving in chain):
            return frame
    return None


def _read_history(reader: BagReader, odometry_topic: str | None,
                  notes: list[str]) -> tuple[TransformHistory, tuple[str, str] | None]:
    """/tf_static, /tf and the odometry topic as one TransformHistory; a /tf edge that repeats the
    odometry's edge is left out (robots often publish both)."""
    history, moving_tf = TransformHistory(), []
    topics = [t for t in (TF_STATIC, TF, odometry_topic) if t and reader.topics.get(t) in (TF_MESSAGE, ODOMETRY)]
    odom_edge: tuple[str, str] | None = None
    try:
        for item in reader.messages(topics):
            if item.topic == TF_STATIC:
                history.add_message(item.msg, static=True)
            elif item.topic == TF:
                moving_tf.append(item.msg)
            else:
                msg = item.msg
                odom_edge = odom_edge or (_strip(msg.header.frame_id), _strip(msg.child_frame_id))
                history.add(msg.header.frame_id, msg.child_frame_id, stamp_to_ns(msg.header.stamp),
                            _pose_of(msg.pose.pose))
    except BagCorruptError as exc:
        notes.append(f"odometry read up to the damage only: {exc}")
    for msg in moving_tf:
        history.add_message(msg, static=False, exclude=odom_edge)
    return history, odom_edge
