"""Binary PLY writer for coloured, labelled point clouds (opens in MeshLab, CloudCompare, Open3D)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

_PLY_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                       ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("label", "u1")])


def write_ply(path: str | Path, points: np.ndarray, colours: np.ndarray,
              labels: np.ndarray | None = None) -> int:
    """Write finite points [...,3] with RGB [...,3] uint8 (and labels); returns the point count."""
    pts = points.reshape(-1, 3)
    keep = np.isfinite(pts).all(axis=1)
    records = np.zeros(int(keep.sum()), dtype=_PLY_DTYPE)
    for i, axis in enumerate("xyz"):
        records[axis] = pts[keep, i]
    rgb = colours.reshape(-1, 3)[keep]
    records["red"], records["green"], records["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    if labels is not None:
        records["label"] = labels.reshape(-1)[keep]
    header = ("ply\nformat binary_little_endian 1.0\n"
              f"element vertex {len(records)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\n"
              "property uchar label\nend_header\n")
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(records.tobytes())
    return len(records)


def read_ply(path: str | Path) -> np.ndarray:
    """Read a PLY written by :func:`write_ply` back into a structured array."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    return np.frombuffer(data[end:], dtype=_PLY_DTYPE)
