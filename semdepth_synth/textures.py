"""Textures of the basic world's materials (and the parts the randomised world shares), the sky of
the basic world, and the registry that maps every material to its texture."""
from __future__ import annotations

from typing import Callable

import numpy as np

from semdepth_synth import rich_textures
from semdepth_synth.patterns import (Surface, around, band, detail, facade_coords, fbm, grey, hash01, lines,
                                     mix)
from semdepth_synth.world import Material


def road(s: Surface) -> np.ndarray:
    x, z, fp = s.p[:, 0], s.p[:, 2], s.footprint
    tone = 0.26 + 0.10 * (fbm(x, z, 8.0, 3, fp, 1) - 0.5) + 0.22 * (fbm(x, z, 0.4, 5, fp, 2) - 0.5)
    edge = s.road_half_width - 0.3
    dashes = band((z % 9.0), 0.0, 3.5, fp)
    paint = np.maximum(band(x, -0.06, 0.06, fp) * dashes, band(np.abs(x), edge - 0.06, edge + 0.06, fp))
    paint *= 0.75 + 0.25 * fbm(x, z, 0.5, 2, fp, 3)
    return grey(tone + (0.82 - tone) * paint) * (1.0, 1.0, 1.04)


def sidewalk(s: Surface) -> np.ndarray:
    x, y, z, fp = s.p[:, 0], s.p[:, 1], s.p[:, 2], s.footprint
    top = s.axis == 1
    u = np.where(top, x, np.where(s.axis == 0, z, x))
    v = np.where(top, z, y)
    tile = 0.5
    shade = 0.85 + 0.3 * detail(tile, fp) * (hash01(np.floor(u / tile).astype(np.int64),
                                                      np.floor(v / tile).astype(np.int64)) - 0.5)
    joints = np.where(top, np.maximum(lines(u, tile, 0.02, fp), lines(v, tile, 0.02, fp)), 0.0)
    grain = fbm(u, v, 0.3, 4, fp, 4)
    kerb = np.where(top, 1.0, 1.15)  # kerb stones are lighter than the paving
    tone = shade * kerb * (0.8 + 0.4 * grain) * (1 - 0.45 * joints)
    return s.color * tone[:, None]


def building(s: Surface) -> np.ndarray:
    u, v, length = facade_coords(s)
    fp, var = s.footprint, s.variant
    # Walls: bricks (0), plaster (1) or concrete panels (2).
    row = np.floor(v / 0.08)
    col = np.floor(u / 0.25 + 0.5 * (row % 2))
    brick = 0.82 + 0.35 * detail(0.08, fp) * (hash01(row.astype(np.int64), col.astype(np.int64)) - 0.5)
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
    pane = hash01(np.floor(u / bay).astype(np.int64), np.floor(v / floor_h).astype(np.int64))
    reflection = fbm(u, v, 2.0, 3, fp, 13)
    glass = (0.08 + 0.22 * pane + 0.25 * (reflection - 0.5))[:, None] * (0.85, 0.95, 1.1)
    frame = np.full_like(albedo, 0.8)
    window = mix(frame, glass, glass_in)
    roof = grey(0.35 + 0.2 * fbm(u, s.q[:, 2], 0.5, 4, fp, 14))
    albedo = np.where((s.axis == 1)[:, None], roof, mix(albedo, window, win))
    s.gloss = 0.35 * win * glass_in * (s.axis != 1)
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
    out = mix(paint, np.full_like(paint, 0.1), np.maximum(trim, seams * 0.8))
    out = mix(out, np.full_like(out, 0.92), plate)
    s.gloss = 0.15 * (1 - trim) + 0.3 * lamp  # clear coat; lamps are glass
    return mix(out, lamp_colour, lamp)


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
    s.gloss = 0.15 + 0.45 * glass
    return mix(paint, pane, glass)


def wheel(s: Surface) -> np.ndarray:
    q, fp = s.q, s.footprint
    radius = np.hypot(q[:, 0], q[:, 2])
    cap = s.axis == 1
    angle = np.arctan2(q[:, 2], q[:, 0])
    hub = cap * band(radius, -1.0, 0.2, fp)
    rim = 0.55 + 0.15 * detail(0.05, fp) * np.cos(5 * angle)  # five spokes
    tyre = 0.05 + 0.08 * fbm(angle * s.half[:, 0], q[:, 1], 0.05, 3, fp, 23)
    return grey(tyre + (rim - tyre) * hub)


def pole(s: Surface) -> np.ndarray:
    u, v = around(s)
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
    face = mix(ring_colour, face_colour, band(np.hypot(x, up), -1.0, 0.78, fr))
    bar = band(x, -0.55, 0.55, fr) * band(up, -0.15, 0.15, fr)  # no entry
    digits = band(np.abs(x), 0.12, 0.3, fr) * band(up, -0.35, 0.35, fr)  # a speed limit, or an arrow
    glyph = np.where(s.variant == 2, bar, digits)
    glyph_colour = np.where((s.variant == 0)[:, None], (0.05, 0.05, 0.05), (0.95, 0.95, 0.95))
    face = mix(face, glyph_colour, glyph)
    back = grey(0.45 + 0.1 * fbm(q[:, 0], q[:, 2], 0.2, 3, fp, 31))
    return np.where(front[:, None], face, back)


def cloth(s: Surface) -> np.ndarray:
    u, v = around(s)
    weave = 0.8 + 0.4 * fbm(u, v, 0.25, 4, s.footprint, 40)
    return s.color * weave[:, None]


def head(s: Surface) -> np.ndarray:
    hair = band(-s.q[:, 1] / s.half[:, 1], -0.1, 2.0, s.footprint / s.half[:, 1])  # the upper half
    hair_colour = np.array([(0.1, 0.07, 0.05), (0.35, 0.22, 0.1), (0.6, 0.5, 0.3)])[s.variant]
    return mix(s.color, hair_colour, hair)


def bark(s: Surface) -> np.ndarray:
    u, v = around(s)
    return s.color * (0.6 + 0.8 * fbm(u, v, 0.08, 4, s.footprint, 50))[:, None]


def foliage(s: Surface) -> np.ndarray:
    u, v = around(s)
    leaves = fbm(u, v, 0.6, 6, s.footprint, 60, gain=0.7)
    return s.color * (0.45 + 1.1 * leaves)[:, None]


TEXTURES: dict[Material, Callable[[Surface], np.ndarray]] = {
    Material.ROAD: road, Material.SIDEWALK: sidewalk, Material.BUILDING: building,
    Material.CAR_BODY: car_body, Material.CAR_CABIN: car_cabin, Material.WHEEL: wheel, Material.POLE: pole,
    Material.SIGN: sign, Material.CLOTH: cloth, Material.HEAD: head, Material.BARK: bark,
    Material.FOLIAGE: foliage,
    Material.ASPHALT: rich_textures.asphalt, Material.GRASS: rich_textures.grass,
    Material.HEDGE: rich_textures.hedge, Material.FENCE: rich_textures.fence,
    Material.WALL: rich_textures.wall, Material.ROOF: rich_textures.roof, Material.CARGO: rich_textures.cargo,
    Material.BUS_BODY: rich_textures.bus_body, Material.HOUSE: rich_textures.house,
    Material.PAVING: rich_textures.paving, Material.LEAVES: rich_textures.leaves,
    Material.SIGNAL: rich_textures.signal,
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
    return mix(colour, np.full_like(colour, 0.95), 0.8 * cover)
