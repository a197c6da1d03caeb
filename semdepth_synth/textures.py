"""Procedural surface textures fixed to the world: asphalt, paving, bricks, windows, paint, foliage.

Why this much detail: self-supervised depth learns by matching pixels between frames, so every
surface needs texture at several scales, and it must be a function of the surface point (not of the
pixel) so it moves exactly with the geometry. Patterns finer than about two pixels are faded to their
mean (a cheap mip-map) so distant surfaces do not alias into noise that changes from frame to frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from semdepth_synth.world import Material

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


def _hash01(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """A random value in [0, 1) per integer cell (a brick, a tile, a window pane)."""
    return _lattice(i, j, 7)


def _grey(value: np.ndarray) -> np.ndarray:
    return np.repeat(value[:, None], 3, axis=1)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[:, None]


def road(s: Surface) -> np.ndarray:
    x, z, fp = s.p[:, 0], s.p[:, 2], s.footprint
    tone = 0.26 + 0.10 * (fbm(x, z, 8.0, 3, fp, 1) - 0.5) + 0.22 * (fbm(x, z, 0.4, 5, fp, 2) - 0.5)
    edge = s.road_half_width - 0.3
    dashes = band((z % 9.0), 0.0, 3.5, fp)
    paint = np.maximum(band(x, -0.06, 0.06, fp) * dashes, band(np.abs(x), edge - 0.06, edge + 0.06, fp))
    paint *= 0.75 + 0.25 * fbm(x, z, 0.5, 2, fp, 3)
    return _grey(tone + (0.82 - tone) * paint) * (1.0, 1.0, 1.04)


def sidewalk(s: Surface) -> np.ndarray:
    x, y, z, fp = s.p[:, 0], s.p[:, 1], s.p[:, 2], s.footprint
    top = s.axis == 1
    u = np.where(top, x, np.where(s.axis == 0, z, x))
    v = np.where(top, z, y)
    tile = 0.5
    shade = 0.85 + 0.3 * detail(tile, fp) * (_hash01(np.floor(u / tile).astype(np.int64),
                                                      np.floor(v / tile).astype(np.int64)) - 0.5)
    joints = np.where(top, np.maximum(lines(u, tile, 0.02, fp), lines(v, tile, 0.02, fp)), 0.0)
    grain = fbm(u, v, 0.3, 4, fp, 4)
    kerb = np.where(top, 1.0, 1.15)  # kerb stones are lighter than the paving
    tone = shade * kerb * (0.8 + 0.4 * grain) * (1 - 0.45 * joints)
    return s.color * tone[:, None]


def _facade_coords(s: Surface) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u along the face from its corner, v height above ground, face length) for wall faces."""
    along_z = s.axis == 0
    u = np.where(along_z, s.q[:, 2] + s.half[:, 2], s.q[:, 0] + s.half[:, 0])
    length = 2 * np.where(along_z, s.half[:, 2], s.half[:, 0])
    return u, -s.p[:, 1], length


def building(s: Surface) -> np.ndarray:
    u, v, length = _facade_coords(s)
    fp, var = s.footprint, s.variant
    # Walls: bricks (0), plaster (1) or concrete panels (2).
    row = np.floor(v / 0.08)
    col = np.floor(u / 0.25 + 0.5 * (row % 2))
    brick = 0.82 + 0.35 * detail(0.08, fp) * (_hash01(row.astype(np.int64), col.astype(np.int64)) - 0.5)
    mortar = np.maximum(lines(v, 0.08, 0.012, fp), lines(u + 0.125 * (row % 2), 0.25, 0.012, fp))
    bricks = brick * (1 - mortar) + 1.25 * mortar
    plaster = 0.8 + 0.45 * (fbm(u, v, 4.0, 6, fp, 10) - 0.5) * 2
    panels = (0.9 + 0.3 * (fbm(u, v, 1.0, 5, fp, 11) - 0.5)) * (1 - 0.5 * np.maximum(
        lines(u, 1.6, 0.03, fp), lines(v, 1.2, 0.03, fp)))
    wall = np.select([var == 0, var == 1], [bricks, plaster], panels)
    wall = wall * (0.92 + 0.16 * fbm(u, v, 0.3, 3, fp, 12))
    albedo = s.color * wall[:, None]

    # Windows on a grid of bays and floors; shop windows on the ground floor.
    bay, floor_h = 2.2 + 0.4 * var, 3.1 + 0.2 * var
    ub, vf = u % bay, v % floor_h
    ground = v < floor_h
    upper = (~ground) & (v < 2 * s.half[:, 1] - 1.2)
    lo_u, hi_u = np.where(ground, 0.1, 0.3) * bay, np.where(ground, 0.9, 0.7) * bay
    lo_v, hi_v = np.where(ground, 0.5, 0.3 * floor_h), np.where(ground, 2.6, 0.8 * floor_h)
    inner = (u > 0.6) & (u < length - 0.6) & (ground | upper) & (s.axis != 1)
    win = band(ub, lo_u, hi_u, fp) * band(vf, lo_v, hi_v, fp) * inner
    glass_in = band(ub, lo_u + 0.07, hi_u - 0.07, fp) * band(vf, lo_v + 0.07, hi_v - 0.07, fp)
    pane = _hash01(np.floor(u / bay).astype(np.int64), np.floor(v / floor_h).astype(np.int64))
    reflection = fbm(u, v, 2.0, 3, fp, 13)
    glass = (0.08 + 0.22 * pane + 0.25 * (reflection - 0.5))[:, None] * (0.85, 0.95, 1.1)
    frame = np.full_like(albedo, 0.8)
    window = _mix(frame, glass, glass_in)
    roof = _grey(0.35 + 0.2 * fbm(u, s.q[:, 2], 0.5, 4, fp, 14))
    albedo = np.where((s.axis == 1)[:, None], roof, _mix(albedo, window, win))
    return albedo


def car_body(s: Surface) -> np.ndarray:
    q, fp, half = s.q, s.footprint, s.half
    height = -s.p[:, 1]
    side = s.axis == 0
    u = np.where(side, q[:, 2], q[:, 0])
    paint = s.color * (0.9 + 0.2 * fbm(u, height, 0.8, 4, fp, 20))[:, None]
    trim = band(height, 0.3, 0.45, fp)  # bumper / sill
    seams = side * np.maximum(lines(q[:, 2] + 0.05 * half[:, 2], 2 * half[:, 2], 0.015, fp),
                              band(height, 0.74, 0.76, fp))
    ends = s.axis == 2
    plate = ends * band(q[:, 0], -0.26, 0.26, fp) * band(height, 0.45, 0.57, fp)
    lamp = ends * band(np.abs(q[:, 0]), half[:, 0] - 0.35, half[:, 0] - 0.08, fp)
    lamp *= band(height, 0.75, 0.9, fp)
    lamp_colour = np.where((s.sign > 0)[:, None], (0.95, 0.92, 0.8), (0.8, 0.08, 0.05))
    out = _mix(paint, np.full_like(paint, 0.1), np.maximum(trim, seams * 0.8))
    out = _mix(out, np.full_like(out, 0.92), plate)
    return _mix(out, lamp_colour, lamp)


def car_cabin(s: Surface) -> np.ndarray:
    q, fp, half = s.q, s.footprint, s.half
    roof = s.axis == 1
    u = np.where(s.axis == 0, q[:, 2], q[:, 0])
    u_half = np.where(s.axis == 0, half[:, 2], half[:, 0])
    glass = band(u, -u_half + 0.1, u_half - 0.1, fp) * band(q[:, 1], -half[:, 1] + 0.05, half[:, 1], fp)
    glass *= ~roof
    reflection = 0.1 + 0.3 * fbm(u, q[:, 1], 0.6, 4, fp, 21)
    pane = reflection[:, None] * (0.8, 0.9, 1.0)
    paint = s.color * (0.9 + 0.2 * fbm(q[:, 0], q[:, 2], 0.8, 3, fp, 22))[:, None]
    return _mix(paint, pane, glass)


def wheel(s: Surface) -> np.ndarray:
    q, fp = s.q, s.footprint
    radius = np.hypot(q[:, 0], q[:, 2])
    cap = s.axis == 1
    angle = np.arctan2(q[:, 2], q[:, 0])
    hub = cap * band(radius, -1.0, 0.2, fp)
    rim = 0.55 + 0.15 * detail(0.05, fp) * np.cos(5 * angle)  # five spokes
    tyre = 0.05 + 0.08 * fbm(angle * s.half[:, 0], q[:, 1], 0.05, 3, fp, 23)
    return _grey(tyre + (rim - tyre) * hub)


def _around(s: Surface) -> tuple[np.ndarray, np.ndarray]:
    """(arc length around the local y axis, position along it) for cylinders and spheres."""
    return np.arctan2(s.q[:, 2], s.q[:, 0]) * s.half[:, 0], s.q[:, 1]


def pole(s: Surface) -> np.ndarray:
    u, v = _around(s)
    metal = 0.85 + 0.3 * (fbm(u, v, 0.1, 4, s.footprint, 30) - 0.5)
    bands = 1 - 0.4 * lines(v, 1.0, 0.05, s.footprint)
    return s.color * (metal * bands)[:, None]


SIGN_FACES = np.array([[(0.8, 0.05, 0.05), (0.95, 0.95, 0.95)],   # red ring, white face (speed limit)
                       [(0.95, 0.95, 0.95), (0.1, 0.25, 0.7)],    # blue disc, white rim (mandatory)
                       [(0.95, 0.95, 0.95), (0.8, 0.05, 0.05)]])  # red disc, white bar (no entry)


def sign(s: Surface) -> np.ndarray:
    q, fp, r = s.q, s.footprint, s.half[:, 0]
    front = (s.axis == 1) & (s.sign < 0)  # the cap facing -z, towards the oncoming camera
    x, up, fr = q[:, 0] / r, q[:, 2] / r, fp / r  # face coordinates in radii
    ring_colour, face_colour = SIGN_FACES[s.variant, 0], SIGN_FACES[s.variant, 1]
    face = _mix(ring_colour, face_colour, band(np.hypot(x, up), -1.0, 0.78, fr))
    bar = band(x, -0.55, 0.55, fr) * band(up, -0.15, 0.15, fr)  # no entry
    digits = band(np.abs(x), 0.12, 0.3, fr) * band(up, -0.35, 0.35, fr)  # a speed limit, or an arrow
    glyph = np.where(s.variant == 2, bar, digits)
    glyph_colour = np.where((s.variant == 0)[:, None], (0.05, 0.05, 0.05), (0.95, 0.95, 0.95))
    face = _mix(face, glyph_colour, glyph)
    back = _grey(0.45 + 0.1 * fbm(q[:, 0], q[:, 2], 0.2, 3, fp, 31))
    return np.where(front[:, None], face, back)


def cloth(s: Surface) -> np.ndarray:
    u, v = _around(s)
    weave = 0.8 + 0.4 * fbm(u, v, 0.25, 4, s.footprint, 40)
    return s.color * weave[:, None]


def head(s: Surface) -> np.ndarray:
    hair = band(-s.q[:, 1] / s.half[:, 1], -0.1, 2.0, s.footprint / s.half[:, 1])  # the upper half
    hair_colour = np.array([(0.1, 0.07, 0.05), (0.35, 0.22, 0.1), (0.6, 0.5, 0.3)])[s.variant]
    return _mix(s.color, hair_colour, hair)


def bark(s: Surface) -> np.ndarray:
    u, v = _around(s)
    return s.color * (0.6 + 0.8 * fbm(u, v, 0.08, 4, s.footprint, 50))[:, None]


def foliage(s: Surface) -> np.ndarray:
    u, v = _around(s)
    leaves = fbm(u, v, 0.6, 6, s.footprint, 60, gain=0.7)
    return s.color * (0.45 + 1.1 * leaves)[:, None]


TEXTURES: dict[Material, Callable[[Surface], np.ndarray]] = {
    Material.ROAD: road, Material.SIDEWALK: sidewalk, Material.BUILDING: building,
    Material.CAR_BODY: car_body, Material.CAR_CABIN: car_cabin, Material.WHEEL: wheel, Material.POLE: pole,
    Material.SIGN: sign, Material.CLOTH: cloth, Material.HEAD: head, Material.BARK: bark,
    Material.FOLIAGE: foliage,
}


def sky(directions: np.ndarray, pixel_angle: float) -> np.ndarray:
    """Sky colour for unit world directions [n,3]: a gradient and clouds, both at infinity."""
    up = np.clip(-directions[:, 1], 1e-3, 1.0)
    gradient = np.clip(up * 2.5, 0.0, 1.0)[:, None] ** 0.8
    colour = (0.80, 0.85, 0.90) + gradient * ((0.35, 0.55, 0.85) - np.array((0.80, 0.85, 0.90)))
    # Clouds painted on a plane high above; its footprint grows towards the horizon.
    u, v = directions[:, 0] / up, directions[:, 2] / up
    cloud = fbm(u, v, 1.5, 5, pixel_angle / up ** 2, 70)
    cover = np.clip((cloud - 0.45) * 3.0, 0.0, 1.0) * np.clip(up * 8.0, 0.0, 1.0)
    return _mix(colour, np.full_like(colour, 0.95), 0.8 * cover)
