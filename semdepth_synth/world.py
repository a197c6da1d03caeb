"""Layout of the synthetic street: road, sidewalks, buildings, parked cars, poles, signs, trees,
pedestrians, and the camera's path through them, all drawn from one seed.

World frame: x to the right of the street, y down (gravity), z along the street; the road is the
plane y = 0. Every object is an analytic primitive (plane, oriented box, cylinder, sphere) so the
renderer can ray cast it exactly and depth is known to float precision. The world is static, so
photometric consistency between frames holds exactly, as self-supervised training assumes.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from semdepth_ros.classes import TRAIN_ID

SIDEWALK_HEIGHT = 0.15
LOOK_AHEAD = 300.0  # metres of street built beyond the last camera position
_START = -40.0  # street begins behind the first camera so the side view is filled


class Shape(IntEnum):
    PLANE = 0  # local y = 0, infinite
    BOX = 1  # |local| <= half
    CYLINDER = 2  # axis = local y; half = (radius, half length, radius)
    SPHERE = 3  # half = (radius, radius, radius)


class Material(IntEnum):
    ROAD = 0
    SIDEWALK = 1
    BUILDING = 2
    CAR_BODY = 3
    CAR_CABIN = 4
    WHEEL = 5
    POLE = 6
    SIGN = 7
    CLOTH = 8
    HEAD = 9
    BARK = 10
    FOLIAGE = 11


@dataclass(frozen=True)
class Primitives:
    """Struct of arrays (N primitives) so the renderer gathers per-pixel attributes in one index."""

    shape: np.ndarray  # [N] int
    center: np.ndarray  # [N,3] world
    rotation: np.ndarray  # [N,3,3] world-from-local
    half: np.ndarray  # [N,3] local half extents (see Shape)
    material: np.ndarray  # [N] int
    class_id: np.ndarray  # [N] uint8 Cityscapes train id
    color: np.ndarray  # [N,3] base albedo in [0, 1]
    variant: np.ndarray  # [N] int texture style

    def __len__(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class CameraPath:
    """A lane-following drive with gentle S-curves, speed changes and suspension pitch."""

    lane_x: float
    sway: float  # lateral amplitude (m)
    wavelength: float  # of the S-curves (m)
    phase: float
    pitch: float  # amplitude (rad)
    speed_phase: float


@dataclass(frozen=True)
class World:
    seed: int
    primitives: Primitives
    road_half_width: float
    sidewalk_width: float
    length: float
    path: CameraPath


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


# Local y (the cylinder axis) onto world x (wheels) or world z (disc signs facing the road).
_AXIS = {"y": np.eye(3), "x": np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]]), "z": _rot_x(np.pi / 2)}


class _Builder:
    """Collects primitives row by row, then packs them into :class:`Primitives`."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def add(self, shape: Shape, material: Material, class_name: str, center, half, color,
            yaw: float = 0.0, axis: str = "y", variant: int = 0) -> None:
        rotation = _rot_y(yaw) @ _AXIS[axis]
        self.rows.append((shape, np.asarray(center, float), rotation, np.asarray(half, float),
                          material, TRAIN_ID[class_name], np.asarray(color, float), variant))

    def build(self) -> Primitives:
        cols = list(zip(*self.rows))
        return Primitives(
            shape=np.array(cols[0], dtype=np.int64), center=np.stack(cols[1]), rotation=np.stack(cols[2]),
            half=np.stack(cols[3]), material=np.array(cols[4], dtype=np.int64),
            class_id=np.array(cols[5], dtype=np.uint8), color=np.clip(np.stack(cols[6]), 0.0, 1.0),
            variant=np.array(cols[7], dtype=np.int64))


FACADE_COLOURS = np.array([(0.62, 0.36, 0.27), (0.75, 0.68, 0.55), (0.55, 0.55, 0.58), (0.82, 0.78, 0.70),
                           (0.50, 0.30, 0.25), (0.70, 0.60, 0.45), (0.45, 0.50, 0.55)])
CAR_COLOURS = np.array([(0.75, 0.75, 0.78), (0.12, 0.12, 0.14), (0.55, 0.05, 0.05), (0.10, 0.20, 0.45),
                        (0.85, 0.85, 0.85), (0.35, 0.37, 0.40), (0.15, 0.35, 0.20), (0.80, 0.60, 0.15)])
CLOTH_COLOURS = np.array([(0.15, 0.15, 0.20), (0.60, 0.10, 0.10), (0.20, 0.30, 0.60), (0.80, 0.80, 0.75),
                          (0.30, 0.45, 0.25), (0.45, 0.35, 0.25), (0.70, 0.55, 0.20)])
SKIN_COLOURS = np.array([(0.90, 0.72, 0.60), (0.70, 0.50, 0.38), (0.45, 0.30, 0.22)])


def _pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 0.05) -> np.ndarray:
    return palette[rng.integers(len(palette))] * rng.uniform(1 - jitter, 1 + jitter, 3)


def _car(b: _Builder, rng: np.random.Generator, x: float, z: float, yaw: float) -> None:
    """Body, cabin and four wheels; the wheels stand 1 cm proud so they show on the side."""
    length, width = rng.uniform(3.8, 4.8), rng.uniform(1.7, 1.9)
    colour, rot = _pick(rng, CAR_COLOURS), _rot_y(yaw)
    origin = np.array([x, 0.0, z])
    b.add(Shape.BOX, Material.CAR_BODY, "car", origin + rot @ (0, -0.65, 0), (width / 2, 0.35, length / 2),
          colour, yaw)
    b.add(Shape.BOX, Material.CAR_CABIN, "car", origin + rot @ (0, -1.21, -0.05 * length),
          (width / 2 - 0.08, 0.21, 0.26 * length), colour, yaw)
    for sx in (-1, 1):
        for sz in (-1, 1):
            centre = origin + rot @ (sx * (width / 2 - 0.12), -0.32, sz * (length / 2 - 0.8))
            b.add(Shape.CYLINDER, Material.WHEEL, "car", centre, (0.32, 0.13, 0.32), (0.06, 0.06, 0.06),
                  yaw, axis="x")


def _person(b: _Builder, rng: np.random.Generator, x: float, z: float) -> None:
    """Legs, arms, torso (cylinders) and a head (sphere), standing still facing a random way."""
    s, yaw = rng.uniform(0.88, 1.1), rng.uniform(0, 2 * np.pi)
    rot, origin = _rot_y(yaw), np.array([x, 0.0, z])
    trousers, shirt = _pick(rng, CLOTH_COLOURS), _pick(rng, CLOTH_COLOURS)
    for side in (-1, 1):
        b.add(Shape.CYLINDER, Material.CLOTH, "person", origin + rot @ (side * 0.1 * s, -0.43 * s, 0),
              (0.075 * s, 0.43 * s, 0.075 * s), trousers)
        b.add(Shape.CYLINDER, Material.CLOTH, "person", origin + rot @ (side * 0.25 * s, -1.13 * s, 0),
              (0.05 * s, 0.29 * s, 0.05 * s), shirt)
    b.add(Shape.CYLINDER, Material.CLOTH, "person", origin + (0, -1.15 * s, 0), (0.18 * s, 0.3 * s, 0.18 * s),
          shirt)
    b.add(Shape.SPHERE, Material.HEAD, "person", origin + (0, -1.58 * s, 0), (0.11 * s,) * 3,
          _pick(rng, SKIN_COLOURS), variant=int(rng.integers(3)))


def _pole(b: _Builder, rng: np.random.Generator, x: float, z: float) -> None:
    """A post, half of them carrying a traffic sign facing the oncoming camera."""
    height = rng.uniform(3.0, 6.5)
    b.add(Shape.CYLINDER, Material.POLE, "pole", (x, -height / 2, z), (0.07, height / 2, 0.07),
          np.multiply((0.5, 0.5, 0.52), rng.uniform(0.8, 1.2)))
    if rng.random() < 0.6:
        r = rng.uniform(0.3, 0.4)
        centre = (x, -min(height - r, rng.uniform(2.2, 2.8)), z - 0.1)
        b.add(Shape.CYLINDER, Material.SIGN, "traffic sign", centre, (r, 0.02, r), (0.5, 0.5, 0.5),
              axis="z", variant=int(rng.integers(3)))


def _tree(b: _Builder, rng: np.random.Generator, x: float, z: float) -> None:
    trunk, r = rng.uniform(2.2, 3.0), rng.uniform(1.3, 2.1)
    b.add(Shape.CYLINDER, Material.BARK, "vegetation", (x, -trunk / 2, z), (0.14, trunk / 2, 0.14),
          (0.32, 0.24, 0.17))
    b.add(Shape.SPHERE, Material.FOLIAGE, "vegetation", (x, -(trunk + 0.6 * r), z), (r,) * 3,
          np.multiply((0.25, 0.42, 0.15), rng.uniform(0.8, 1.2, 3)))


def _block_side(b: _Builder, rng: np.random.Generator, side: int, z0: float, z1: float,
                road: float, walk: float) -> None:
    """One side of one block: sidewalk slab, a row of buildings, street furniture and parked cars."""
    # The slab reaches far past the building line, so gaps between buildings show pavement.
    centre = (side * (road + 30.0), -SIDEWALK_HEIGHT / 2, (z0 + z1) / 2)
    b.add(Shape.BOX, Material.SIDEWALK, "sidewalk", centre, (30.0, SIDEWALK_HEIGHT / 2, (z1 - z0) / 2),
          np.multiply((0.62, 0.60, 0.57), rng.uniform(0.85, 1.1)))
    z = z0
    while z < z1 - 4.0:
        width = min(rng.uniform(8.0, 22.0), z1 - z)
        setback = rng.uniform(0.0, 2.5) if rng.random() < 0.4 else 0.0
        height, depth = rng.uniform(7.0, 22.0), rng.uniform(10.0, 16.0)
        x = road + walk + setback + depth / 2
        b.add(Shape.BOX, Material.BUILDING, "building", (side * x, -height / 2, z + width / 2),
              (depth / 2, height / 2, width / 2), _pick(rng, FACADE_COLOURS, 0.1),
              variant=int(rng.integers(3)))
        z += width + (rng.uniform(1.5, 5.0) if rng.random() < 0.25 else 0.0)

    # Furniture along the kerb, spaced so that nothing overlaps.
    z = z0 + rng.uniform(1.0, 6.0)
    trees = rng.random() < 0.5
    while z < z1 - 1.0:
        roll = rng.random()
        if roll < 0.3:
            _pole(b, rng, side * (road + 0.35), z)
        elif roll < 0.6 and trees:
            _tree(b, rng, side * (road + 1.1), z)
        elif roll < 0.85:
            _person(b, rng, side * (road + rng.uniform(0.9, walk - 0.4)), z)
        z += rng.uniform(3.0, 12.0)

    z = z0 + rng.uniform(0.0, 6.0)
    while z < z1 - 5.0:
        if rng.random() < 0.7:  # a 5 m slot per car, facing the traffic of its side
            _car(b, rng, side * (road - 1.1), z + 2.5, rng.normal(0.0, 0.03) + (np.pi if side < 0 else 0.0))
        z += 5.0 + rng.uniform(0.5, 6.0)


def build_world(seed: int, travel: float) -> World:
    """The street for a drive of ``travel`` metres (plus look-ahead), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    road, walk = rng.uniform(4.5, 6.0), rng.uniform(2.5, 4.0)
    # Drawn before the blocks, so a longer drive only appends street and keeps the same path.
    # Lateral range 0.65-1.85 m keeps >= 0.6 m from cars parked at the kerb (road >= 4.5 m).
    path = CameraPath(lane_x=rng.uniform(0.8, 1.4), sway=rng.uniform(0.15, 0.45),
                      wavelength=rng.uniform(50.0, 120.0), phase=rng.uniform(0, 2 * np.pi),
                      pitch=rng.uniform(0.002, 0.008), speed_phase=rng.uniform(0, 2 * np.pi))
    b = _Builder()
    b.add(Shape.PLANE, Material.ROAD, "road", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.3, 0.3, 0.31))
    length = travel + LOOK_AHEAD
    z = _START
    while z < length:
        block = rng.uniform(50.0, 130.0)
        for side in (-1, 1):
            _block_side(b, rng, side, z, z + block, road, walk)
        z += block + (rng.uniform(10.0, 16.0) if rng.random() < 0.6 else 0.0)  # a cross street
    return World(seed=seed, primitives=b.build(), road_half_width=road, sidewalk_width=walk, length=length,
                 path=path)


def camera_poses(world: World, num_frames: int, speed: float, camera_height: float) -> np.ndarray:
    """Camera-to-world 4x4 poses [N,4,4] (optical frame: x right, y down, z forward).

    Speed varies by +-15 % around ``speed`` m/frame; heading follows the tangent of the S-curve.
    """
    p = world.path
    i = np.arange(num_frames, dtype=np.float64)
    period = 40.0  # frames per speed cycle
    s = speed * (i + 0.15 * period / (2 * np.pi) * np.sin(2 * np.pi * i / period + p.speed_phase))
    k = 2 * np.pi / p.wavelength
    x = p.lane_x + p.sway * np.sin(k * s + p.phase)
    yaw = np.arctan(p.sway * k * np.cos(k * s + p.phase))
    pitch = p.pitch * np.sin(2 * np.pi * s / 17.0 + p.phase)
    poses = np.tile(np.eye(4), (num_frames, 1, 1))
    for n in range(num_frames):
        poses[n, :3, :3] = _rot_y(yaw[n]) @ _rot_x(pitch[n])
        poses[n, :3, 3] = (x[n], -camera_height, s[n])
    return poses
