"""Textures of the randomised world's materials: worn asphalt with markings, paving and kerbs, grass and
fields, hedges, fences, garden walls, roof tiles, trucks, vans and buses, houses, leaves, signals.

Each has structure from metres (patches, tracks, window bays) down to centimetres (aggregate, blades,
mortar), so near surfaces keep fine detail for the photometric loss while far ones fade to their mean
(see :mod:`semdepth_synth.patterns`). Glossy parts (glass, paint) set ``Surface.gloss``; the renderer
adds the reflection of the sky.
"""
from __future__ import annotations

import numpy as np

from semdepth_synth.patterns import (Surface, around, band, detail, facade_coords, fbm, hash01, lines, mix,
                                     value_noise)
from semdepth_synth.world import RoadStyle

GLASS = np.array((0.06, 0.07, 0.08))


def _cell(x: np.ndarray) -> np.ndarray:
    return np.floor(x).astype(np.int64)


def face_uv(s: Surface) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal, vertical) metres on a box face in the box's frame (vertical = local y, down)."""
    q = s.q
    u = np.select([s.axis == 0, s.axis == 1], [q[:, 2], q[:, 0]], q[:, 0])
    v = np.where(s.axis == 1, q[:, 2], q[:, 1])
    return u, v


def _markings(along: np.ndarray, lat: np.ndarray, road: RoadStyle, fp: np.ndarray) -> np.ndarray:
    """Paint coverage in [0, 1]: centre and edge lines, parking lines, zebra crossings, stop lines."""
    half, inner = road.half_width, road.median / 2
    centre = np.zeros_like(along)
    if road.median > 0:  # solid lines along both sides of the median
        centre = band(np.abs(lat), inner + 0.2, inner + 0.32, fp)
    elif road.centre_line != "none":
        centre = band(lat, -0.06, 0.06, fp)
        if road.centre_line == "dashed":
            centre = centre * band(along % 9.0, 0.0, 3.0, fp)
    for k in range(1, road.lanes):  # dashed lane dividers
        divider = inner + k * road.lane_width
        dashes = band(np.abs(lat), divider - 0.06, divider + 0.06, fp) * band(along % 12.0, 0.0, 6.0, fp)
        centre = np.maximum(centre, dashes)
    paint = np.zeros_like(along)
    if road.edge_lines:
        paint = np.maximum(paint, band(np.abs(lat), half - 0.4, half - 0.28, fp))
    if road.parking_width > 0 and road.parking_lines:
        edge = half - road.parking_width
        paint = np.maximum(paint, band(np.abs(lat), edge - 0.06, edge + 0.06, fp))
    for c in road.crossings:
        centre = centre * (1 - band(along, c - 2.0, c + 6.0, fp))
        zone = band(along, c, c + 4.0, fp) * band(np.abs(lat), -1.0, half - 0.5, fp)
        stop = (band(along, c - 2.0, c - 1.6, fp) * band(lat, 0.1, half - 0.5, fp)
                + band(along, c + 5.6, c + 6.0, fp) * band(lat, -(half - 0.5), -0.1, fp))
        paint = np.maximum(paint, np.maximum(zone * lines(lat, 1.0, 0.5, fp), stop))
    return np.maximum(paint, centre)


def asphalt(s: Surface) -> np.ndarray:
    x, z, fp, road = s.p[:, 0], s.p[:, 2], s.footprint, s.road
    along, lat = s.street.to_street(x, z)
    wear = road.wear
    # Blotches of metres, then grain from 30 cm down to the pixel (octaves under two pixels fade out).
    tone = 1.0 + 0.35 * (fbm(x, z, 9.0, 3, fp, 101) - 0.5)
    tone += 0.75 * (fbm(x, z, 0.3, 6, fp, 102, gain=0.7) - 0.5)
    # Darker wheel tracks 0.8 m either side of each lane's centre.
    lane = np.clip(np.floor((np.abs(lat) - road.median / 2) / road.lane_width), 0, road.lanes - 1)
    lane_centre = road.median / 2 + road.lane_width * (lane + 0.5)
    track = np.abs(np.abs(np.abs(lat) - lane_centre) - 0.8)
    tone *= 1 - 0.18 * (0.3 + wear) * np.exp(-(track / 0.35) ** 2)
    # Repair patches: one rectangle in some 6 x 2.5 m cells.
    cu, cv = along / 6.0, lat / 2.5
    i, j = _cell(cu), _cell(cv)
    patch = (hash01(i, j) < 0.4 * wear) * band(cu - i, 0.1, 0.2 + 0.7 * hash01(i + 7, j), fp / 6.0)
    patch = patch * band(cv - j, 0.1, 0.9, fp / 2.5)
    tone *= 1 + patch * (hash01(i, j + 3) - 0.5) * 0.7
    # Cracks: thin iso-lines of a noise field, only where a coarser field allows.
    field = fbm(x, z, 1.6, 3, fp, 104)
    crack = np.clip(1 - np.abs(field - 0.5) / 0.012, 0.0, 1.0) * detail(0.04, fp)
    crack *= value_noise(x / 7.0, z / 7.0, 105) < 0.8 * wear
    tone *= 1 - 0.6 * crack
    paint = _markings(along, lat, road, fp)
    paint *= np.clip(1 - 1.3 * wear * (fbm(x, z, 0.4, 3, fp, 106) - 0.2), 0.0, 1.0)
    base = s.color * tone[:, None]
    return mix(base, np.asarray(road.marking_colour) * (0.9 + 0.2 * tone[:, None]), paint)


def paving(s: Surface) -> np.ndarray:
    """Pavement (square tiles, brick pavers, big slabs or asphalt by variant) and kerb stones."""
    x, y, z, fp = s.p[:, 0], s.p[:, 1], s.p[:, 2], s.footprint
    along, lat = s.street.to_street(x, z)
    var = s.variant
    size_a = np.select([var == 0, var == 1, var == 2], [0.3, 0.2, 0.6], 0.5)
    size_l = np.select([var == 0, var == 1, var == 2], [0.3, 0.1, 0.6], 0.5)
    row = _cell(lat / size_l)
    stagger = 0.5 * (row % 2) * (var == 1)
    col = _cell(along / size_a + stagger)
    tiled = var < 3
    tile = 0.88 + 0.3 * detail(size_l, fp) * (hash01(row, col) - 0.5) * tiled
    joints = tiled * np.maximum(lines(lat, size_l, 0.012, fp),
                                lines(along + stagger * size_a, size_a, 0.012, fp))
    dirt = fbm(x, z, 2.5, 3, fp, 110)
    grain = fbm(x, z, 0.08, 3, fp, 111)
    stains = np.clip((fbm(x, z, 0.7, 3, fp, 112) - 0.62) * 4, 0.0, 1.0)
    top = tile * (1 - 0.45 * joints) * (0.78 + 0.44 * dirt) * (0.85 + 0.3 * grain) * (1 - 0.25 * stains)
    # The kerb stone: 15 cm of lighter concrete along the road edge, and its vertical face.
    kerb_top = band(np.abs(lat) - s.road.half_width, -0.1, 0.15, fp) if s.road is not None else 0.0
    top = top * (1 + 0.2 * kerb_top)
    face = 1.1 * (0.85 + 0.3 * fbm(along, y, 0.15, 3, fp, 113)) * (1 - 0.5 * lines(along, 1.0, 0.01, fp))
    return s.color * np.where(s.axis == 1, top, face)[:, None]


def grass(s: Surface) -> np.ndarray:
    """Lawn (0), meadow (1), ploughed field (2) or dry verge (3)."""
    x, z, fp, var = s.p[:, 0], s.p[:, 2], s.footprint, s.variant
    clumps = fbm(x, z, 1.2, 3, fp, 120)
    blades = fbm(x, z, 0.05, 3, fp, 121, gain=0.7)
    tone = 0.5 + 0.7 * clumps + 0.8 * (blades - 0.5)
    dryness = np.select([var == 1, var == 3], [0.6, 0.9], 0.25)
    dry = np.clip((fbm(x, z, 7.0, 2, fp, 122) - 0.45) * 3, 0.0, 1.0) * dryness
    green = mix(s.color * tone[:, None], np.array((0.42, 0.38, 0.24)) * tone[:, None], dry)
    _, lat = s.street.to_street(x, z)
    furrows = 1 - 0.45 * lines(lat, 0.75, 0.3, fp)
    soil = np.array((0.36, 0.28, 0.2)) * ((0.7 + 0.6 * fbm(x, z, 0.4, 4, fp, 123)) * furrows)[:, None]
    return np.where((var == 2)[:, None], soil, green)


def leaves(s: Surface) -> np.ndarray:
    """Tree crowns: clumps of leaves with dark gaps, lighter and yellower where they face the sky."""
    u, v = around(s)
    fp, seed = s.footprint, 150
    clumps = fbm(u, v, 0.5, 6, fp, seed, gain=0.72)
    gaps = np.clip((fbm(u, v, 0.14, 2, fp, seed + 1) - 0.3) * 4, 0.0, 1.0)
    tone = (0.25 + 1.5 * np.clip(clumps - 0.2, 0.0, 1.0)) * (0.35 + 0.65 * gaps)
    up = np.clip(-s.q[:, 1] / s.half[:, 1], 0.0, 1.0)
    colour = mix(s.color, s.color * (1.5, 1.45, 0.8), 0.5 * up * clumps)
    return colour * tone[:, None]


def hedge(s: Surface) -> np.ndarray:
    u, v = face_uv(s)
    fp = s.footprint
    clumps = fbm(u, v, 0.3, 5, fp, 130, gain=0.75)
    gaps = np.clip((fbm(u, v, 0.08, 2, fp, 131) - 0.3) * 3, 0.0, 1.0)
    return s.color * ((0.3 + 1.4 * np.clip(clumps - 0.15, 0.0, 1.0)) * (0.45 + 0.55 * gaps))[:, None]


def fence(s: Surface) -> np.ndarray:
    """Wooden slats (0), metal bars (1) or chain link (2) over the darker garden behind."""
    u, fp, var = face_uv(s)[0], s.footprint, s.variant
    h = -s.p[:, 1]
    behind = np.array((0.12, 0.16, 0.1)) * (0.7 + 0.6 * fbm(u, h, 0.5, 3, fp, 140))[:, None]
    slats = 1 - lines(u, 0.14, 0.025, fp)
    rails = np.maximum(band(h, 0.25, 0.35, fp), band(h, 2 * s.half[:, 1] - 0.3, 2 * s.half[:, 1] - 0.2, fp))
    grain = 0.8 + 0.4 * fbm(u * 6.0, h * 0.4, 0.3, 3, fp, 141)
    bars = np.maximum(lines(u, 0.12, 0.03, fp), rails)
    chain = np.maximum(lines(u + h, 0.07, 0.008, fp), lines(u - h, 0.07, 0.008, fp))
    cover = np.select([var == 0, var == 1], [np.maximum(slats, rails), bars], np.maximum(chain * 0.8, rails))
    material = s.color * np.where(var == 0, grain, 1.0)[:, None]
    out = mix(behind, material, cover)
    return np.where((s.axis == 0)[:, None], out, material)


def wall(s: Surface) -> np.ndarray:
    """Garden wall: irregular stones (0) or rendered concrete with stains (1), lighter cap stones."""
    u, fp, var = face_uv(s)[0], s.footprint, s.variant
    h = -s.p[:, 1]
    row = _cell(h / 0.22)
    shift = hash01(row, row + 11)
    col = _cell(u / 0.45 + shift)
    stone = 0.8 + 0.4 * detail(0.22, fp) * (hash01(row, col) - 0.5)
    mortar = np.maximum(lines(h, 0.22, 0.02, fp), lines(u + 0.45 * shift, 0.45, 0.02, fp))
    stones = stone * (1 - 0.35 * mortar) * (0.85 + 0.3 * fbm(u, h, 0.1, 3, fp, 145))
    damp = np.clip((fbm(u, h, 0.6, 3, fp, 147) - 0.6) * 3, 0, 1) * np.clip(1.2 - h, 0, 1)  # near the ground
    render = (0.9 + 0.3 * (fbm(u, h, 1.5, 5, fp, 146) - 0.5)) * (1 - 0.3 * damp)
    face = np.where(var == 0, stones, render)
    return s.color * np.where(s.axis == 1, 1.2 * (0.9 + 0.2 * fbm(u, h, 0.3, 3, fp, 148)), face)[:, None]


def roof(s: Surface) -> np.ndarray:
    """Rows of tiles down the slope, moss and soot; the slab's edges are dark."""
    fp = s.footprint
    slope, ridge = s.q[:, 0], s.q[:, 2]
    row = _cell(slope / 0.32)
    col = _cell(ridge / 0.25 + 0.5 * (row % 2))
    tile = 0.85 + 0.3 * detail(0.25, fp) * (hash01(row, col) - 0.5)
    edge = lines(slope, 0.32, 0.05, fp)
    moss = np.clip((fbm(slope, ridge, 1.5, 4, fp, 160) - 0.55) * 2.5, 0.0, 1.0)
    top = mix(s.color * (tile * (1 - 0.5 * edge))[:, None], np.array((0.25, 0.28, 0.15)), 0.5 * moss)
    return np.where((s.axis == 1)[:, None], top, 0.3 * s.color)


def _glass(s: Surface, coverage: np.ndarray, base: np.ndarray) -> np.ndarray:
    s.gloss = np.maximum(s.gloss if s.gloss is not None else 0.0, 0.55 * coverage)
    pane = GLASS * (0.8 + 0.4 * fbm(s.q[:, 0], s.q[:, 1], 0.7, 3, s.footprint, 170))[:, None]
    return mix(base, pane, coverage)


def cargo(s: Surface) -> np.ndarray:
    """Truck boxes (variant 0), vans (1) and truck cabs (2): ribs, logos, doors, windscreens, dirt."""
    q, fp, half, var = s.q, s.footprint, s.half, s.variant
    h = -s.p[:, 1]
    side, front, back = s.axis == 0, (s.axis == 2) & (s.sign > 0), (s.axis == 2) & (s.sign < 0)
    u = np.where(side, q[:, 2], q[:, 0])
    top_h = -(s.p[:, 1] - (q[:, 1] - half[:, 1]))  # height of the box's top at this point's column
    dirt = (1 - 0.35 * np.clip((1.6 - h) / 1.2, 0.0, 1.0) * fbm(u, h, 0.3, 3, fp, 171)) * (
        0.93 + 0.14 * fbm(u * 0.3, h, 0.4, 5, fp, 172))  # streaks running down
    dirt *= 1 - 0.12 * np.clip((fbm(u, h, 0.25, 4, fp, 173) - 0.6) * 3, 0.0, 1.0)  # scuffs
    ribs = 1 - 0.15 * lines(u, 0.6, 0.05, fp) * (var == 0) * side
    logo_colour = np.array([(0.8, 0.1, 0.1), (0.1, 0.2, 0.6), (0.1, 0.1, 0.1), (0.9, 0.6, 0.0)])[
        _cell(half[:, 2] * 37.0) % 4]
    logo = (var == 0) * side * band(u, -0.6 * half[:, 2], 0.2 * half[:, 2], fp)
    logo = logo * band(h, top_h - 1.8, top_h - 0.8, fp)
    out = mix(s.color * (dirt * ribs)[:, None], logo_colour, 0.9 * logo)
    doors = back * np.maximum(lines(u, 2 * half[:, 0], 0.02, fp),
                              band(np.abs(u), 0.28, 0.32, fp) * (var == 0))
    lamps = back * band(np.abs(u), half[:, 0] - 0.35, half[:, 0] - 0.1, fp) * band(h, 0.9, 1.1, fp)
    out = mix(mix(out, np.full_like(out, 0.1), doors), np.array((0.8, 0.08, 0.05)), lamps)
    s.gloss = np.full(len(h), 0.08)
    van = var == 1
    screen = front * (var > 0) * band(np.abs(u), -1.0, half[:, 0] - 0.12, fp)
    screen = screen * band(h, np.where(van, 1.15, 1.55), top_h - 0.15, fp)
    side_win = side * (var > 0) * band(q[:, 2], half[:, 2] - np.where(van, 1.3, 1.9), half[:, 2] - 0.25, fp)
    side_win = side_win * band(h, np.where(van, 1.2, 1.6), top_h - 0.3, fp)
    rear_win = back * van * band(np.abs(u), 0.06, half[:, 0] - 0.15, fp) * band(h, 1.3, top_h - 0.25, fp)
    grille = front * (var == 2) * band(np.abs(u), -1.0, half[:, 0] - 0.3, fp) * band(h, 0.7, 1.35, fp)
    out = mix(out, np.full_like(out, 0.08) * (1 - 0.5 * lines(h, 0.08, 0.03, fp))[:, None], grille)
    return _glass(s, np.maximum(np.maximum(screen, side_win), rear_win), out)


def bus_body(s: Surface) -> np.ndarray:
    q, fp, half = s.q, s.footprint, s.half
    h = -s.p[:, 1]
    side, front, back = s.axis == 0, (s.axis == 2) & (s.sign > 0), (s.axis == 2) & (s.sign < 0)
    u = np.where(side, q[:, 2], q[:, 0])
    top_h = -(s.p[:, 1] - (q[:, 1] - half[:, 1]))
    skirt = band(h, 0.0, 0.7, fp)
    out = s.color * (1 - 0.4 * skirt * side)[:, None] * (0.95 + 0.1 * fbm(u, h, 0.8, 3, fp, 175))[:, None]
    band_win = side * band(h, 1.15, top_h - 0.35, fp) * band(np.abs(u), -1.0, half[:, 2] - 0.35, fp)
    band_win = band_win * (1 - lines(u, 1.3, 0.14, fp))
    door = side * np.maximum(band(u, half[:, 2] - 1.9, half[:, 2] - 0.7, fp), band(u, -0.6, 0.6, fp))
    door = door * band(h, 0.35, top_h - 0.35, fp) * (s.sign > 0)  # doors on the kerb side
    screen = front * band(np.abs(u), -1.0, half[:, 0] - 0.1, fp) * band(h, 0.9, top_h - 0.45, fp)
    display = front * band(np.abs(u), -1.0, half[:, 0] - 0.25, fp) * band(h, top_h - 0.4, top_h - 0.12, fp)
    out = mix(out, np.array((0.95, 0.55, 0.05)) * (0.3 + 0.7 * lines(u, 0.12, 0.06, fp))[:, None], display)
    rear = back * band(np.abs(u), -1.0, half[:, 0] - 0.2, fp) * band(h, 1.8, top_h - 0.3, fp)
    lamps = back * band(np.abs(u), half[:, 0] - 0.4, half[:, 0] - 0.1, fp) * band(h, 0.6, 1.0, fp)
    out = mix(out, np.array((0.8, 0.08, 0.05)), lamps)
    s.gloss = np.full(len(h), 0.1)
    return _glass(s, np.maximum.reduce([band_win, door, screen, rear]), out)


def house(s: Surface) -> np.ndarray:
    """Plastered house walls with a stone base, framed windows with crossbars, a door, and shutters
    (variants 2 and 3)."""
    u, v, length = facade_coords(s)
    fp, var = s.footprint, s.variant
    plaster = 0.85 + 0.35 * (fbm(u, v, 3.0, 5, fp, 180) - 0.5) + 0.12 * (fbm(u, v, 0.05, 2, fp, 181) - 0.5)
    base = band(v, -1.0, 0.45, fp)
    wall = s.color * (plaster * (1 - 0.35 * base))[:, None]
    bay = 2.6 + 0.3 * (var % 2)
    ub, vf = u % bay, v % 2.9
    bay_id = _cell(u / bay)
    inner = (u > 0.5) & (u < length - 0.5) & (v < 2 * s.half[:, 1] - 0.4) & (s.axis != 1)
    inner &= var < 4  # variant 4: the gable, no windows
    door = (bay_id == _cell(length / bay / 2)) & (v < 2.9) & (s.axis == 0)
    win = inner * np.where(door, band(ub, 0.75, 1.85, fp) * band(v, 0.0, 2.15, fp),
                           band(ub, 0.75, 1.85, fp) * band(vf, 0.9, 2.3, fp))
    pane = inner * np.where(door, 0.0, band(ub, 0.82, 1.78, fp) * band(vf, 0.97, 2.23, fp))
    pane = pane * (1 - np.maximum(lines(ub - 1.3, 10.0, 0.05, fp), lines(vf - 1.85, 10.0, 0.05, fp)))
    frame = np.full_like(wall, 0.85)
    door_colour = np.array((0.35, 0.22, 0.12)) * (0.8 + 0.4 * fbm(u, v, 0.2, 2, fp, 182))[:, None]
    out = mix(wall, np.where(door[:, None], door_colour, frame), win)
    shutters = inner * (var >= 2) * (~door) * band(vf, 0.9, 2.3, fp) * np.maximum(
        band(ub, 0.35, 0.72, fp), band(ub, 1.88, 2.25, fp))
    out = mix(out, np.array((0.2, 0.35, 0.25)) * (1 - 0.3 * lines(vf, 0.1, 0.02, fp))[:, None], shutters)
    return _glass(s, pane, out)


def signal(s: Surface) -> np.ndarray:
    """A traffic light head: three lamps on the face towards the traffic, one of them lit."""
    q, fp = s.q, s.footprint
    face = (s.axis == 2) & (s.sign < 0)
    out = np.full((len(q), 3), 0.07)
    for k, colour in enumerate([(1.0, 0.12, 0.05), (1.0, 0.7, 0.05), (0.1, 1.0, 0.4)]):
        disc = face * band(np.hypot(q[:, 0], q[:, 1] - (k - 1) * 0.28), -1.0, 0.1, fp)
        lit = np.where((s.variant == k)[:, None], colour, np.asarray(colour) * 0.15)
        out = mix(out, lit, disc)
    return out

