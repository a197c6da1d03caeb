"""Noise and anti-aliased patterns that textures are made of, and the :class:`Surface` they shade.

Why this much care: self-supervised depth learns by matching pixels between frames, so every
surface needs texture at several scales, and it must be a function of the surface point (not of the
pixel) so it moves exactly with the geometry. Patterns finer than about two pixels are faded to their
mean (a cheap mip-map) so distant surfaces do not alias into noise that changes from frame to frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semdepth_synth.street import Street
from semdepth_synth.world import RoadStyle

_TABLE_BITS = 9
_TABLE = np.random.default_rng(12345).random(1 << (2 * _TABLE_BITS))  # lattice values of the value noise
_MASK = (1 << _TABLE_BITS) - 1


@dataclass
class Surface:
    """What a texture needs at each of n hit points."""

    p: np.ndarray  # [n,3] world point
    q: np.ndarray  # [n,3] point in the primitive's local frame
    axis: np.ndarray  # [n] local axis of the face normal (0, 1, 2)
    sign: np.ndarray  # [n] side of that axis (+-1)
    half: np.ndarray  # [n,3] primitive half extents
    color: np.ndarray  # [n,3] primitive base albedo
    variant: np.ndarray  # [n] texture style
    footprint: np.ndarray  # [n] metres covered by one pixel on the surface
    road_half_width: float
    street: Street = Street()
    road: RoadStyle | None = None
    gloss: np.ndarray | None = None  # set by glossy textures: reflectance at grazing view, [n] in [0, 1]


def _lattice(iu: np.ndarray, iv: np.ndarray, seed: int) -> np.ndarray:
    # A shifted window of one random table per seed: cheap, and repeats only every 512 cells.
    return _TABLE[(((iu + seed * 97) & _MASK) << _TABLE_BITS) | ((iv + seed * 61) & _MASK)]


def value_noise(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    """Smooth noise in [0, 1] with one random value per integer lattice point."""
    fu, fv = np.floor(u), np.floor(v)
    iu, iv = fu.astype(np.int64), fv.astype(np.int64)
    su, sv = u - fu, v - fv
    su, sv = su * su * (3 - 2 * su), sv * sv * (3 - 2 * sv)
    a, b = _lattice(iu, iv, seed), _lattice(iu + 1, iv, seed)
    c, d = _lattice(iu, iv + 1, seed), _lattice(iu + 1, iv + 1, seed)
    return a + (b - a) * su + (c - a + (a - b - c + d) * su) * sv


def detail(size: float | np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Weight in [0, 1] of a pattern of the given feature size: 0 once it is under ~2 pixels."""
    return np.clip(size / footprint - 1.0, 0.0, 1.0)


def fbm(u: np.ndarray, v: np.ndarray, cell: float, octaves: int, footprint: np.ndarray, seed: int,
        gain: float = 0.55) -> np.ndarray:
    """Multi-octave value noise in about [0, 1] (mean 0.5), octaves faded out by footprint."""
    total = np.full(u.shape, 0.5)
    for k in range(octaves):
        size = cell / 2 ** k
        weight = detail(size, footprint)
        if not weight.any():
            break
        total += gain ** k * weight * (value_noise(u / size, v / size, seed + k) - 0.5)
    return total


def band(x: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Anti-aliased indicator of lo <= x <= hi."""
    return np.clip(np.minimum(x - lo, hi - x) / footprint + 0.5, 0.0, 1.0)


def lines(x: np.ndarray, period: float, width: float, footprint: np.ndarray) -> np.ndarray:
    """Coverage of periodic lines (joints, mortar), turning into their mean coverage far away."""
    dist = np.abs((x / period + 0.5) % 1.0 - 0.5) * period
    sharp = np.clip((width / 2 - dist) / footprint + 0.5, 0.0, 1.0)
    far = np.clip(footprint / period, 0.0, 1.0)
    return (1 - far) * sharp + far * (width / period)


def hash01(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """A random value in [0, 1) per integer cell (a brick, a tile, a window pane)."""
    return _lattice(i, j, 7)


def grey(value: np.ndarray) -> np.ndarray:
    return np.repeat(value[:, None], 3, axis=1)


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[:, None]


def facade_coords(s: Surface) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u along the face from its corner, v height above ground, face length) for wall faces."""
    along_z = s.axis == 0
    u = np.where(along_z, s.q[:, 2] + s.half[:, 2], s.q[:, 0] + s.half[:, 0])
    length = 2 * np.where(along_z, s.half[:, 2], s.half[:, 0])
    return u, -s.p[:, 1], length


def around(s: Surface) -> tuple[np.ndarray, np.ndarray]:
    """(arc length around the local y axis, position along it) for cylinders and spheres."""
    return np.arctan2(s.q[:, 2], s.q[:, 0]) * s.half[:, 0], s.q[:, 1]
