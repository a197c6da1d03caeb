"""The street's own coordinates: arc length ``s`` along the centreline and signed offset ``l`` to its right.

A street is a circular arc of constant curvature (zero: the straight street along world z). Things are
placed in (s, l) and mapped to the world, and the road texture maps world points back, so markings,
kerbs and parked cars follow a bend exactly. World frame as in :mod:`semdepth_synth.world`: x right,
y down, z forward; the centreline starts at the origin heading +z.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Street:
    curvature: float = 0.0  # 1/m; positive bends to the right (+x)

    def heading(self, s: np.ndarray | float) -> np.ndarray | float:
        """Yaw (rotation about world y) of the tangent at ``s``; yaw 0 is +z."""
        return self.curvature * np.asarray(s, dtype=np.float64) if self.curvature else 0.0 * np.asarray(s)

    def to_world(self, s: np.ndarray | float, l: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(x, z) of the point ``l`` metres right of the centreline at arc length ``s``."""
        s, l = np.asarray(s, dtype=np.float64), np.asarray(l, dtype=np.float64)
        k = self.curvature
        if k == 0.0:
            return l + 0.0 * s, s + 0.0 * l
        theta = k * s
        # Centre point (1 - cos, sin) / k plus l times the right normal (cos, -sin).
        return (1.0 - np.cos(theta)) / k + l * np.cos(theta), np.sin(theta) / k - l * np.sin(theta)

    def to_street(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`to_world`: (s, l) of world points (x, z)."""
        k = self.curvature
        if k == 0.0:
            return z, x
        dx, dz = x - 1.0 / k, z  # from the centre of the circle
        sign = np.sign(k)
        theta = np.arctan2(sign * dz, -sign * dx)
        return theta / k, 1.0 / k - sign * np.hypot(dx, dz)
