"""Randomised streets (``realism="fast"`` / ``"full"``): city blocks, residential streets with front
gardens, open country roads and industrial estates, straight or curved, with intersections, zebra
crossings, parked and moving traffic and people.

Domain randomisation for transfer: a network that saw one street type learns its layout instead of
geometry. Real drives mix canyon streets (buildings at 5 m), gardens and hedges (houses 10-20 m
back), open fields with the road visible to 100 m, and things close to the camera: parked cars 1.5-3 m
to the side, a van or truck 3-10 m ahead, people on the kerb. Every side of every block draws its own
type, so one sequence passes several.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from semdepth_synth.motion import Drive, LanePath
from semdepth_synth.objects import (CAR_COLOURS, CLOTH_COLOURS, FACADE_COLOURS, boundary, boundary_style,
                                    bush, cyclist, house, leafy_tree, person, pick, pole, street_lamp,
                                    traffic_light, vehicle, vehicle_length)
from semdepth_synth.street import Street
from semdepth_synth.world import STATIC, Actor, Builder, Material, RoadStyle, Shape, World

LOOK_AHEAD = 160.0  # metres of street beyond the last camera position
BEHIND = 30.0  # and behind the first
CHORD = 6.0  # longest straight piece of a curved strip (sagitta < 4 cm at 120 m radius)
KINDS = ("city", "residential", "rural", "industrial")
HOUSE_COLOURS = np.array([(0.92, 0.88, 0.78), (0.85, 0.80, 0.70), (0.80, 0.82, 0.80), (0.90, 0.80, 0.60),
                          (0.75, 0.60, 0.50), (0.95, 0.95, 0.92), (0.70, 0.72, 0.75)])
ROOF_COLOURS = np.array([(0.45, 0.18, 0.12), (0.30, 0.30, 0.32), (0.20, 0.20, 0.22), (0.55, 0.28, 0.15)])


@dataclass(frozen=True)
class Palette:
    """Colours of one world: the base palettes, tinted and (de)saturated together."""

    facade: np.ndarray
    house: np.ndarray
    roof: np.ndarray
    car: np.ndarray
    cloth: np.ndarray


def random_palette(rng: np.random.Generator) -> Palette:
    tint = rng.uniform(0.95, 1.05, 3)
    saturation = rng.uniform(0.6, 1.2)

    def grade(colours: np.ndarray) -> np.ndarray:
        mean = colours.mean(axis=1, keepdims=True)
        return np.clip((mean + (colours - mean) * saturation) * tint, 0.02, 1.0)

    return Palette(facade=grade(FACADE_COLOURS), house=grade(HOUSE_COLOURS), roof=grade(ROOF_COLOURS),
                   car=grade(CAR_COLOURS), cloth=grade(CLOTH_COLOURS))


@dataclass
class _Context:
    """What the side builders share while one world is built."""

    b: Builder
    rng: np.random.Generator
    street: Street
    road: RoadStyle
    palette: Palette
    lateral_limit: float  # how far from the centreline ground is built (inner side of tight bends)
    actors: list[Actor] = field(default_factory=list)

    def at(self, s: float, l: float) -> tuple[float, float]:
        x, z = self.street.to_world(s, l)
        return float(x), float(z)

    def yaw(self, s: float) -> float:
        return float(self.street.heading(s))

    def strip(self, s0: float, s1: float, l0: float, l1: float, top: float, material: Material,
              class_name: str, colour, variant: int = 0) -> None:
        """Ground-standing slab from l0 to l1 (signed, any order) over [s0, s1], ``top`` metres high;
        split into chords on a curve, each long enough to close the gap at its outer edge."""
        lo, hi = sorted((l0, l1))
        lo, hi = max(lo, -self.lateral_limit), min(hi, self.lateral_limit)
        if hi <= lo or s1 <= s0:
            return
        pieces = 1 if self.street.curvature == 0 else int(np.ceil((s1 - s0) / CHORD))
        step = (s1 - s0) / pieces
        stretch = 1 + abs(self.street.curvature) * max(abs(lo), abs(hi))
        for k in range(pieces):
            s = s0 + (k + 0.5) * step
            x, z = self.at(s, (lo + hi) / 2)
            half = ((hi - lo) / 2, top / 2, step / 2 * stretch + 0.02)
            self.b.add(Shape.BOX, material, class_name, (x, -top / 2, z), half, colour, self.yaw(s),
                       variant=variant)

    def actor(self, actor: Actor) -> None:
        """Start tagging primitives as ``actor`` (until :meth:`static`)."""
        self.actors.append(actor)
        self.b.actor = len(self.actors) - 1

    def static(self) -> None:
        self.b.actor = STATIC


def _vary(rng: np.random.Generator, base: tuple[float, float, float], brightness: float = 0.15,
          hue: float = 0.03) -> np.ndarray:
    """A colour near ``base``: brighter or darker, and a little warmer or cooler."""
    return np.multiply(base, rng.uniform(1 - brightness, 1 + brightness) * rng.uniform(1 - hue, 1 + hue, 3))


def _road_style(rng: np.random.Generator) -> RoadStyle:
    lane = rng.uniform(2.9, 3.6)
    median = rng.uniform(1.5, 6.0) if rng.random() < 0.3 else 0.0
    lanes = 2 if median and rng.random() < 0.7 else 1
    parking = rng.uniform(2.0, 2.4) if rng.random() < (0.3 if median else 0.65) else 0.0
    centre = rng.choice(["dashed", "solid", "none"], p=[0.5, 0.2, 0.3])
    yellow = rng.random() < 0.1
    white = tuple(np.full(3, rng.uniform(0.75, 0.92)))
    return RoadStyle(half_width=median / 2 + lanes * lane + parking, lane_width=lane, lanes=lanes,
                     median=median, centre_line=str(centre), edge_lines=bool(rng.random() < 0.5),
                     parking_width=parking, parking_lines=bool(parking > 0 and rng.random() < 0.4),
                     wear=float(rng.uniform(0.0, 1.0)), marking_colour=(0.9, 0.75, 0.2) if yellow else white)


def _lane_centre(road: RoadStyle, k: int) -> float:
    """Metres right of the centreline of lane k (0 = next to the centre or median) of our direction."""
    return road.median / 2 + (k + 0.5) * road.lane_width


def _lane(rng: np.random.Generator, road: RoadStyle) -> LanePath:
    """Right-hand traffic in one of our lanes; near the middle of a narrow street without markings."""
    narrow = road.centre_line == "none" and road.lane_width < 3.3 and road.lanes == 1 and not road.median
    if narrow:
        lane = rng.uniform(0.3, 1.0)
    else:
        lane = _lane_centre(road, int(rng.integers(road.lanes))) + rng.normal(0.0, 0.15)
    return LanePath(lane=float(lane), sway=float(rng.uniform(0.0, 0.3)),
                    wavelength=float(rng.uniform(40.0, 120.0)), phase=float(rng.uniform(0, 2 * np.pi)),
                    bump=float(rng.uniform(0.001, 0.006)))


def _median(ctx: _Context, s0: float, s1: float) -> None:
    """The grass strip between the directions, with kerbs and sometimes a row of trees."""
    rng, inner = ctx.rng, ctx.road.median / 2
    if not inner:
        return
    ctx.strip(s0, s1, -inner, inner, 0.12, Material.GRASS, "terrain",
              _vary(rng, (0.25, 0.36, 0.13), 0.2, 0.08), int(rng.choice([0, 3])))
    for side in (-1, 1):
        ctx.strip(s0, s1, side * inner, side * (inner - 0.15), 0.13, Material.PAVING, "sidewalk",
                  (0.6, 0.6, 0.58), 3)
    if inner > 1.0 and rng.random() < 0.5:
        s = s0 + rng.uniform(3.0, 10.0)
        while s < s1 - 3.0:
            x, z = ctx.at(s, rng.uniform(-0.3, 0.3) * inner)
            leafy_tree(ctx.b, rng, x, z, size=rng.uniform(0.9, 1.4))
            s += rng.uniform(8.0, 18.0)


def _people(ctx: _Context, side: int, s0: float, s1: float, l0: float, l1: float, density: float) -> None:
    """People standing or walking along a pavement between |l| = l0 and l1."""
    rng = ctx.rng
    s = s0 + rng.exponential(1 / density)
    while s < s1:
        l = side * rng.uniform(l0, l1)
        x, z = ctx.at(s, l)
        if rng.random() < 0.5:
            direction = rng.choice([0.0, np.pi])
            ctx.actor(Actor("mover", s, l, yaw=float(direction), speed=float(rng.uniform(0.9, 1.7))))
            person(ctx.b, rng, x, z, ctx.palette.cloth, yaw=ctx.yaw(s) + direction)
            ctx.static()
        else:
            person(ctx.b, rng, x, z, ctx.palette.cloth)
        s += rng.exponential(1 / density) + 1.0


def _kerb_furniture(ctx: _Context, side: int, s0: float, s1: float, trees: bool) -> None:
    rng, kerb = ctx.rng, ctx.road.half_width
    s = s0 + rng.uniform(1.0, 6.0)
    while s < s1 - 1.0:
        roll = rng.random()
        if roll < 0.25:
            x, z = ctx.at(s, side * (kerb + 0.35))
            pole(ctx.b, rng, x, z, facing=ctx.yaw(s))
        elif roll < 0.4:
            x, z = ctx.at(s, side * (kerb + 0.4))
            street_lamp(ctx.b, rng, x, z, ctx.yaw(s), towards_road=-side)
        elif roll < 0.8 and trees:
            x, z = ctx.at(s, side * (kerb + 1.2))
            leafy_tree(ctx.b, rng, x, z, size=rng.uniform(0.8, 1.3))
        s += rng.uniform(4.0, 14.0)


def _parked(ctx: _Context, side: int, s0: float, s1: float, kinds: tuple[str, ...],
            p: tuple[float, ...]) -> None:
    """Vehicles along the kerb in the parking strip, facing the traffic of their side."""
    rng, road = ctx.rng, ctx.road
    if road.parking_width <= 0:
        return
    occupancy = rng.uniform(0.3, 0.95)
    l = side * (road.half_width - road.parking_width / 2 - 0.05)
    s = s0 + rng.uniform(0.0, 4.0)
    while True:
        kind = str(rng.choice(kinds, p=p))
        length = vehicle_length(rng, kind)
        if s + length > s1:
            break
        if rng.random() < occupancy:
            centre = s + length / 2
            x, z = ctx.at(centre, l + rng.normal(0.0, 0.08))
            yaw = ctx.yaw(centre) + (np.pi if side < 0 else 0.0) + rng.normal(0.0, 0.03)
            vehicle(ctx.b, rng, kind, x, z, yaw, length, ctx.palette.car)
            s += length + rng.uniform(0.6, 4.0)
        else:
            s += rng.uniform(3.0, 7.0)


def _city(ctx: _Context, side: int, s0: float, s1: float, park_end: float) -> None:
    rng, kerb = ctx.rng, ctx.road.half_width
    walk = rng.uniform(2.0, 4.5)
    ctx.strip(s0, s1, side * kerb, side * (kerb + walk + 45.0), 0.14, Material.PAVING, "sidewalk",
              _vary(rng, (0.6, 0.58, 0.55)), int(rng.integers(4)))
    s = s0
    while s < s1 - 4.0:
        width = min(rng.uniform(8.0, 24.0), s1 - s)
        setback = rng.uniform(0.5, 3.0) if rng.random() < 0.4 else 0.0
        height, depth = rng.uniform(6.0, 25.0), rng.uniform(10.0, 18.0)
        x, z = ctx.at(s + width / 2, side * (kerb + walk + setback + depth / 2))
        ctx.b.add(Shape.BOX, Material.BUILDING, "building", (x, -height / 2, z),
                  (depth / 2, height / 2, width / 2), pick(rng, ctx.palette.facade, 0.12),
                  ctx.yaw(s + width / 2), variant=int(rng.integers(3)))
        s += width
        if rng.random() < 0.25:  # a gap; a building further back closes the view
            gap = rng.uniform(3.0, 8.0)
            x, z = ctx.at(s + gap / 2, side * (kerb + walk + 25.0))
            h = rng.uniform(8.0, 25.0)
            ctx.b.add(Shape.BOX, Material.BUILDING, "building", (x, -h / 2, z), (8.0, h / 2, gap / 2 + 3.0),
                      pick(rng, ctx.palette.facade, 0.12), ctx.yaw(s + gap / 2), variant=int(rng.integers(3)))
            s += gap
    _kerb_furniture(ctx, side, s0, s1, trees=rng.random() < 0.75)
    _people(ctx, side, s0, s1, kerb + 0.8, kerb + walk - 0.4, density=rng.uniform(0.02, 0.15))
    _parked(ctx, side, s0 + 2.0, park_end, ("car", "suv", "van", "truck"), (0.72, 0.13, 0.12, 0.03))


def _boundary(ctx: _Context, side: int, s0: float, s1: float, l: float, kind: str | None = None) -> None:
    """A hedge, fence or wall (or none) along |l| = l over [s0, s1], in chords on a curve."""
    rng = ctx.rng
    kind = kind or str(rng.choice(["hedge", "fence", "wall", "none"], p=[0.35, 0.3, 0.2, 0.15]))
    if kind == "none" or s1 <= s0:
        return
    style = boundary_style(rng, kind)
    pieces = 1 if ctx.street.curvature == 0 else int(np.ceil((s1 - s0) / CHORD))
    step = (s1 - s0) / pieces
    for k in range(pieces):
        s = s0 + (k + 0.5) * step
        x, z = ctx.at(s, side * l)
        boundary(ctx.b, style, x, z, ctx.yaw(s), step + 0.02)


def _residential(ctx: _Context, side: int, s0: float, s1: float, park_end: float) -> None:
    rng, kerb = ctx.rng, ctx.road.half_width
    verge = rng.uniform(1.0, 3.0) if rng.random() < 0.6 else 0.0
    walk = rng.uniform(1.5, 2.5)
    paving = _vary(rng, (0.6, 0.58, 0.55))
    lawn = _vary(rng, (0.22, 0.36, 0.12), 0.2, 0.08)
    ctx.strip(s0, s1, side * kerb, side * (kerb + 0.2), 0.13, Material.PAVING, "sidewalk", paving, 0)
    if verge:
        ctx.strip(s0, s1, side * (kerb + 0.2), side * (kerb + verge), 0.1, Material.GRASS, "terrain", lawn, 3)
    line = kerb + max(verge, 0.2) + walk
    ctx.strip(s0, s1, side * (kerb + max(verge, 0.2)), side * line, 0.13, Material.PAVING, "sidewalk", paving,
              int(rng.integers(4)))
    ctx.strip(s0, s1, side * line, side * (line + 90.0), 0.06, Material.GRASS, "terrain", lawn,
              int(rng.integers(2)))
    s = s0
    while s < s1 - 8.0:
        plot = min(rng.uniform(12.0, 24.0), s1 - s)
        _boundary(ctx, side, s, s + plot - rng.uniform(0.0, 3.0), line + 0.4)
        width, depth = rng.uniform(7.0, max(7.5, plot - 3.0)), rng.uniform(8.0, 12.0)
        setback = rng.uniform(3.0, 14.0)
        x, z = ctx.at(s + plot / 2, side * (line + setback + depth / 2))
        house(ctx.b, rng, x, z, ctx.yaw(s + plot / 2), width, depth, ctx.palette.house, ctx.palette.roof)
        for _ in range(int(rng.integers(0, 3))):  # garden trees and bushes
            s_t, l_t = s + rng.uniform(0.5, plot - 0.5), line + rng.uniform(1.0, setback)
            x, z = ctx.at(s_t, side * l_t)
            (leafy_tree if rng.random() < 0.5 else bush)(ctx.b, rng, x, z)
        if rng.random() < 0.5:  # the next row of houses behind
            x, z = ctx.at(s + plot / 2, side * (line + setback + depth + rng.uniform(10.0, 25.0)))
            house(ctx.b, rng, x, z, ctx.yaw(s + plot / 2), width, depth, ctx.palette.house, ctx.palette.roof)
        s += plot
    if verge:
        s = s0 + rng.uniform(2.0, 8.0)
        while s < s1 - 2.0:
            x, z = ctx.at(s, side * (kerb + verge / 2 + 0.1))
            leafy_tree(ctx.b, rng, x, z, size=rng.uniform(0.8, 1.4))
            s += rng.uniform(7.0, 16.0)
    _people(ctx, side, s0, s1, kerb + max(verge, 0.2) + 0.4, line - 0.4, density=rng.uniform(0.01, 0.08))
    _parked(ctx, side, s0 + 2.0, park_end, ("car", "suv", "van"), (0.78, 0.14, 0.08))


def _rural(ctx: _Context, side: int, s0: float, s1: float, park_end: float) -> None:
    rng, kerb = ctx.rng, ctx.road.half_width
    verge = rng.uniform(1.0, 3.5)
    ctx.strip(s0, s1, side * kerb, side * (kerb + verge), 0.04, Material.GRASS, "terrain",
              _vary(rng, (0.3, 0.36, 0.16), 0.2, 0.08), 3)
    field_colour = _vary(rng, (0.25, 0.38, 0.12), 0.25, 0.1)
    ctx.strip(s0, s1, side * (kerb + verge), side * (kerb + 120.0), 0.02, Material.GRASS, "terrain",
              field_colour, int(rng.choice([0, 1, 2], p=[0.3, 0.4, 0.3])))
    if rng.random() < 0.3:
        _boundary(ctx, side, s0, s1, kerb + verge + 0.3)
    row = rng.random() < 0.5
    s = s0 + rng.uniform(0.0, 10.0)
    while s < s1:
        if row:
            x, z = ctx.at(s, side * (kerb + verge * rng.uniform(0.4, 0.8)))
            leafy_tree(ctx.b, rng, x, z, size=rng.uniform(1.0, 1.6))
            s += rng.uniform(7.0, 18.0)
        else:
            x, z = ctx.at(s, side * (kerb + rng.uniform(verge, 40.0)))
            if rng.random() < 0.6:
                leafy_tree(ctx.b, rng, x, z, size=rng.uniform(0.8, 1.8))
            else:
                bush(ctx.b, rng, x, z)
            s += rng.uniform(5.0, 30.0)
    s = s0 + rng.uniform(0.0, 30.0)
    while s < s1:  # telegraph poles
        x, z = ctx.at(s, side * (kerb + verge * 0.7))
        pole(ctx.b, rng, x, z, facing=ctx.yaw(s))
        s += rng.uniform(30.0, 60.0)
    if rng.random() < 0.4:  # a farm house in the distance
        s = rng.uniform(s0, s1)
        x, z = ctx.at(s, side * (kerb + rng.uniform(25.0, 80.0)))
        house(ctx.b, rng, x, z, ctx.yaw(s) + rng.normal(0.0, 0.3), rng.uniform(10.0, 20.0),
              rng.uniform(8.0, 14.0), ctx.palette.house, ctx.palette.roof)


def _industrial(ctx: _Context, side: int, s0: float, s1: float, park_end: float) -> None:
    rng, kerb = ctx.rng, ctx.road.half_width
    walk = rng.uniform(1.5, 3.0)
    ctx.strip(s0, s1, side * kerb, side * (kerb + walk), 0.14, Material.PAVING, "sidewalk",
              _vary(rng, (0.58, 0.57, 0.55)), int(rng.integers(4)))
    yard = kerb + walk
    ctx.strip(s0, s1, side * yard, side * (yard + 80.0), 0.05, Material.PAVING, "sidewalk",
              _vary(rng, (0.4, 0.4, 0.41), 0.2), 3)
    if rng.random() < 0.7:
        _boundary(ctx, side, s0, s1, yard + 0.5, "fence")
    s = s0 + rng.uniform(0.0, 5.0)
    while s < s1 - 10.0:
        width = min(rng.uniform(20.0, 55.0), s1 - s)
        depth, height = rng.uniform(15.0, 30.0), rng.uniform(5.0, 12.0)
        setback = rng.uniform(6.0, 20.0)
        x, z = ctx.at(s + width / 2, side * (yard + setback + depth / 2))
        ctx.b.add(Shape.BOX, Material.BUILDING, "building", (x, -height / 2, z),
                  (depth / 2, height / 2, width / 2), pick(rng, ctx.palette.facade, 0.1) * 0.9 + 0.1,
                  ctx.yaw(s + width / 2), variant=2)
        if rng.random() < 0.6:  # a truck or van in the yard
            kind = "truck" if rng.random() < 0.5 else "van"
            length = vehicle_length(rng, kind)
            x, z = ctx.at(s + width / 2, side * (yard + setback / 2 + 1.0))
            vehicle(ctx.b, rng, kind, x, z, ctx.yaw(s) + rng.choice([0.0, np.pi / 2, np.pi]), length)
        s += width + rng.uniform(5.0, 15.0)
    _people(ctx, side, s0, s1, kerb + 0.5, yard - 0.3, density=0.01)
    _parked(ctx, side, s0 + 2.0, park_end, ("car", "van", "truck"), (0.6, 0.25, 0.15))


_SIDES = {"city": _city, "residential": _residential, "rural": _rural, "industrial": _industrial}


def _traffic(ctx: _Context, drive: Drive, lane: LanePath) -> None:
    """Moving vehicles and people: a lead vehicle, oncoming traffic, a cyclist, people crossing ahead."""
    rng, road = ctx.rng, ctx.road
    s_first, s_last = float(drive.s[0]), float(drive.s[-1])
    duration = float(drive.times[-1])
    lead = rng.random() < 0.6
    if lead:  # mostly close: following traffic is where a driver needs near depth most
        kind = str(rng.choice(["car", "suv", "van", "truck", "bus"], p=[0.45, 0.12, 0.18, 0.15, 0.1]))
        length = vehicle_length(rng, kind)
        gap, phase = float(min(1.0 + rng.exponential(6.0), 30.0)), float(rng.uniform(0, 2 * np.pi))
        # Its rear is the camera car's bonnet (1.7 m) plus the gap ahead of the camera.
        s0 = s_first + 1.7 + gap * (1 + 0.3 * np.sin(phase)) + length / 2
        l0 = lane.lane
        ctx.actor(Actor("lead", s0, l0, gap=gap, phase=phase))
        x, z = ctx.at(s0, l0)
        vehicle(ctx.b, rng, kind, x, z, ctx.yaw(s0), length, ctx.palette.car)
        ctx.static()
    narrow = road.centre_line == "none" and road.lanes == 1 and not road.median and road.lane_width < 3.3
    if rng.random() < 0.6 and not narrow:
        speed = float(rng.uniform(4.0, 14.0))
        s = s_first + rng.uniform(5.0, 30.0)
        end = s_last + 80.0 + speed * duration
        while s < end:
            kind = str(rng.choice(["car", "suv", "van", "truck", "bus"], p=[0.6, 0.15, 0.12, 0.08, 0.05]))
            length = vehicle_length(rng, kind)
            l0 = -_lane_centre(road, int(rng.integers(road.lanes))) + rng.normal(0.0, 0.1)
            ctx.actor(Actor("mover", s + length / 2, l0, yaw=np.pi, speed=speed))
            x, z = ctx.at(s + length / 2, l0)
            vehicle(ctx.b, rng, kind, x, z, ctx.yaw(s + length / 2) + np.pi, length, ctx.palette.car)
            ctx.static()
            s += length + rng.uniform(8.0, 60.0)
    bike_l = road.half_width - road.parking_width - 0.6
    if rng.random() < 0.3 and bike_l - (lane.lane + lane.sway + 0.9) > 0.9:
        s0 = s_first + rng.uniform(4.0, 40.0)
        ctx.actor(Actor("mover", s0, bike_l, speed=float(rng.uniform(3.0, 6.5))))
        x, z = ctx.at(s0, bike_l)
        cyclist(ctx.b, rng, x, z, ctx.yaw(s0), ctx.palette.cloth)
        ctx.static()
    if not lead and rng.random() < 0.25:  # people crossing ahead of where the drive ends, at a zebra if any
        zebras = [c + 2.0 for c in road.crossings if s_last + 6.0 < c < s_last + 40.0]
        s_cross = zebras[0] if zebras else s_last + rng.uniform(6.0, 25.0)
        for _ in range(int(rng.integers(1, 4))):
            side = rng.choice([-1.0, 1.0])
            l0 = side * rng.uniform(road.half_width - 1.0, road.half_width + 1.0)
            s0 = s_cross + rng.uniform(-1.5, 1.5)
            ctx.actor(Actor("mover", s0, l0, yaw=float(-side * np.pi / 2), speed=float(rng.uniform(0.9, 1.6)),
                            l_limit=road.half_width + 1.0))
            x, z = ctx.at(s0, l0)
            person(ctx.b, rng, x, z, ctx.palette.cloth, yaw=ctx.yaw(s0) - side * np.pi / 2)
            ctx.static()


def build_random_world(seed: int, rng: np.random.Generator, drive: Drive) -> tuple[World, LanePath]:
    """A randomised street around ``drive`` (its arc lengths), and the lane the camera keeps."""
    curvature = 0.0 if rng.random() < 0.5 else float(rng.choice([-1.0, 1.0]) / rng.uniform(120.0, 600.0))
    street = Street(curvature)
    palette = random_palette(rng)
    style = _road_style(rng)
    lane = _lane(rng, style)
    main = str(rng.choice(KINDS, p=[0.3, 0.35, 0.2, 0.15]))
    limit = 130.0 if curvature == 0 else min(130.0, 0.6 / abs(curvature))
    s_start, s_end = float(drive.s[0]) - BEHIND, float(drive.s[-1]) + LOOK_AHEAD
    b = Builder()
    asphalt = _vary(rng, (0.23, 0.23, 0.235), 0.35, 0.02)
    b.add(Shape.PLANE, Material.ASPHALT, "road", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), asphalt)
    ctx = _Context(b=b, rng=rng, street=street, road=style, palette=palette, lateral_limit=limit)
    crossings: list[float] = []
    s = s_start
    while s < s_end:
        block = rng.uniform(35.0, 120.0)
        cross_street = rng.random() < 0.6
        zebra = cross_street and rng.random() < 0.4
        if zebra:
            crossings.append(s + block - 5.0)
        park_end = s + block - (9.0 if zebra else 2.0)
        _median(ctx, s, s + block)
        for side in (-1, 1):
            kind = main if rng.random() < 0.75 else str(rng.choice(KINDS))
            _SIDES[kind](ctx, side, s, s + block, park_end)
        if cross_street and rng.random() < 0.3:
            for side in (-1, 1):
                x, z = ctx.at(s + block - 0.5, side * (style.half_width + 0.6))
                traffic_light(b, rng, x, z, ctx.yaw(s + block) + (0.0 if side > 0 else np.pi))
        s += block + (rng.uniform(9.0, 16.0) if cross_street else 0.0)
    ctx.road = style = dataclasses.replace(style, crossings=tuple(crossings))
    _traffic(ctx, drive, lane)
    world = World(seed=seed, primitives=b.build(), road_half_width=style.half_width,
                  sidewalk_width=0.0, length=s_end, street=street, road=style, actors=tuple(ctx.actors))
    return world, lane
