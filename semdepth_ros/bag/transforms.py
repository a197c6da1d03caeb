"""Rigid transforms as tf2 stores them: quaternions in geometry_msgs order and a static-tf lookup.

geometry_msgs/Quaternion is (x, y, z, w); transforms3d and Eigen's coefficient constructor use
(w, x, y, z) and scipy uses (x, y, z, w): every quaternion in this package is (x, y, z, w).
A transform T_parent_child maps child-frame coordinates into the parent frame (tf2's convention).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np


def quaternion_to_matrix(q: Sequence[float]) -> np.ndarray:
    """Unit quaternion (x, y, z, w) -> 3x3 rotation (normalised first: bag values are rounded)."""
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quaternion(rot: np.ndarray) -> np.ndarray:
    """3x3 rotation -> unit quaternion (x, y, z, w) with w >= 0 (Shepperd's stable branch choice)."""
    m = np.asarray(rot, dtype=np.float64)
    trace = np.trace(m)
    diag = np.diag(m)
    i = int(np.argmax(diag))
    if trace >= diag[i]:
        w = np.sqrt(1.0 + trace) / 2
        q = np.array([(m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w),
                      (m[1, 0] - m[0, 1]) / (4 * w), w])
    else:
        j, k = (i + 1) % 3, (i + 2) % 3
        s = np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k]) * 2
        q = np.empty(4)
        q[i] = s / 4
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
        q[3] = (m[k, j] - m[j, k]) / s
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def make_transform(translation: Sequence[float], quaternion: Sequence[float]) -> np.ndarray:
    """4x4 homogeneous transform from a translation and an (x, y, z, w) quaternion."""
    t = np.eye(4)
    t[:3, :3] = quaternion_to_matrix(quaternion)
    t[:3, 3] = translation
    return t


def split_transform(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4x4 transform -> (translation xyz, quaternion xyzw)."""
    return np.asarray(t[:3, 3], dtype=np.float64), matrix_to_quaternion(t[:3, :3])


def invert(t: np.ndarray) -> np.ndarray:
    inv = np.eye(4)
    inv[:3, :3] = t[:3, :3].T
    inv[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return inv


def parse_extrinsic(text: str) -> np.ndarray:
    """'x y z qx qy qz qw' (metres, quaternion) -> 4x4, as `static_transform_publisher` takes it."""
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != 7 or np.linalg.norm(values[3:]) < 1e-9:
        raise ValueError(f"extrinsic must be 7 numbers 'x y z qx qy qz qw' with a non-zero quaternion, "
                         f"got {text!r}")
    return make_transform(values[:3], values[3:])


class StaticTransforms:
    """The static tf tree of a bag (from /tf_static), answering lookups along any chain of edges."""

    def __init__(self) -> None:
        self._edges: dict[str, dict[str, np.ndarray]] = {}

    def add(self, parent: str, child: str, t_parent_child: np.ndarray) -> None:
        self._edges.setdefault(parent, {})[child] = t_parent_child
        self._edges.setdefault(child, {})[parent] = invert(t_parent_child)

    def add_message(self, tf_message: Any) -> None:
        """Add every TransformStamped of a tf2_msgs/TFMessage (rosbags or rclpy object)."""
        for ts in tf_message.transforms:
            tr, rot = ts.transform.translation, ts.transform.rotation
            self.add(_strip(ts.header.frame_id), _strip(ts.child_frame_id),
                     make_transform((tr.x, tr.y, tr.z), (rot.x, rot.y, rot.z, rot.w)))

    @property
    def frames(self) -> list[str]:
        return sorted(self._edges)

    def lookup(self, target: str, source: str) -> np.ndarray:
        """T_target_source: maps points in ``source`` into ``target`` (breadth-first over the tree)."""
        target, source = _strip(target), _strip(source)
        if target == source:
            return np.eye(4)
        chains: dict[str, np.ndarray] = {target: np.eye(4)}
        queue = deque([target])
        while queue:
            frame = queue.popleft()
            for neighbour, t_frame_neighbour in self._edges.get(frame, {}).items():
                if neighbour not in chains:
                    chains[neighbour] = chains[frame] @ t_frame_neighbour
                    if neighbour == source:
                        return chains[neighbour]
                    queue.append(neighbour)
        known = ", ".join(self.frames) or "none"
        raise LookupError(f"no static transform connects '{target}' and '{source}' (frames in /tf_static: "
                          f"{known})")


def _strip(frame: str) -> str:
    """tf2 frame ids never start with '/'; ROS 1 era bags sometimes have one."""
    return frame.lstrip("/")


def transform_points(t: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points [N, 3]."""
    return points @ t[:3, :3].T + t[:3, 3]

