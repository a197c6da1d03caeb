"""KITTI raw calibration text files (``key: numbers``), needed by kitti2bag and the training loaders."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def read_calib_file(path: str | Path) -> dict[str, np.ndarray]:
    """KITTI ``key: numbers`` calibration text -> arrays; non-numeric values (calib_time) are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"KITTI calibration file missing: {path}")
    calib = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        try:
            calib[key.strip()] = np.array([float(v) for v in value.split()])
        except ValueError:
            continue
    return calib
