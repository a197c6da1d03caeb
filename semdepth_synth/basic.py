"""The basic street (``realism="basic"``): one straight city street seen from KITTI's camera.

Buildings line both sides, cars are parked at the kerbs, and the camera drives a gentle S-curve at a
fixed height; the world is static, so photometric consistency between frames holds exactly. Cheap to
render and unchanged for a seed, it serves the fast tests, the demo drive and the bundled model's
provenance; :mod:`semdepth_synth.layout` builds the randomised streets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semdepth_synth.objects import FACADE_COLOURS, car, person, pick, pole, tree
from semdepth_synth.world import SIDEWALK_HEIGHT, Builder, Material, Shape, World, rot_x, rot_y

LOOK_AHEAD = 300.0  # metres of street built beyond the last camera position
_START = -40.0  # street begins behind the first camera so the side view is filled


@dataclass(frozen=True)
class CameraPath:
    """A lane-following drive with gentle S-curves, speed changes and suspension pitch."""

    lane_x: float
    sway: float  # lateral amplitude (m)
    wavelength: float  # of the S-curves (m)
    phase: float
    pitch: float  # amplitude (rad)
    speed_phase: float


def _block_side(b: Builder, rng: np.random.Generator, side: int, z0: float, z1: float,
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
              (depth / 2, height / 2, width / 2), pick(rng, FACADE_COLOURS, 0.1),
              variant=int(rng.integers(3)))
        z += width + (rng.uniform(1.5, 5.0) if rng.random() < 0.25 else 0.0)

    # Furniture along the kerb, spaced so that nothing overlaps.
    z = z0 + rng.uniform(1.0, 6.0)
    trees = rng.random() < 0.5
    while z < z1 - 1.0:
        roll = rng.random()
        if roll < 0.3:
            pole(b, rng, side * (road + 0.35), z)
        elif roll < 0.6 and trees:
            tree(b, rng, side * (road + 1.1), z)
        elif roll < 0.85:
            person(b, rng, side * (road + rng.uniform(0.9, walk - 0.4)), z)
        z += rng.uniform(3.0, 12.0)

    z = z0 + rng.uniform(0.0, 6.0)
    while z < z1 - 5.0:
        if rng.random() < 0.7:  # a 5 m slot per car, facing the traffic of its side
            car(b, rng, side * (road - 1.1), z + 2.5, rng.normal(0.0, 0.03) + (np.pi if side < 0 else 0.0))
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
    b = Builder()
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
        poses[n, :3, :3] = rot_y(yaw[n]) @ rot_x(pitch[n])
        poses[n, :3, 3] = (x[n], -camera_height, s[n])
    return poses
