"""What a street world is made of: analytic primitives, their materials and classes, moving actors.

World frame: x to the right of the street's start, y down (gravity), z forward; the road is the plane
y = 0. Every object is an analytic primitive (plane, oriented box, cylinder, sphere) so the renderer
can ray cast it exactly and depth is known to float precision. Static primitives never move; each
actor (a driving car, a walking person) moves rigidly along the street, and its pose per frame is part
of the sequence, so every label stays exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from semdepth_ros.classes import TRAIN_ID
from semdepth_synth.street import Street

SIDEWALK_HEIGHT = 0.15
STATIC = -1  # actor index of primitives that never move


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
    # The randomised world's materials (realism "fast" / "full").
    ASPHALT = 12  # road in street coordinates: markings, crossings, cracks, patches
    GRASS = 13
    HEDGE = 14  # leaves on box faces
    FENCE = 15
    WALL = 16  # garden walls: stone or brick, no windows
    ROOF = 17  # tiles on pitched roofs
    CARGO = 18  # truck and van boxes
    BUS_BODY = 19
    HOUSE = 20  # plastered house facades: windows, door, shutters
    PAVING = 21  # pavement and kerbs of the randomised world
    LEAVES = 22  # tree crowns of the randomised world
    SIGNAL = 23  # traffic light heads


@dataclass(frozen=True)
class Primitives:
    """Struct of arrays (N primitives) so the renderer gathers per-pixel attributes in one index."""

    shape: np.ndarray  # [N] int
    center: np.ndarray  # [N,3] world (actors: at their reference placement)
    rotation: np.ndarray  # [N,3,3] world-from-local
    half: np.ndarray  # [N,3] local half extents (see Shape)
    material: np.ndarray  # [N] int
    class_id: np.ndarray  # [N] uint8 Cityscapes train id
    color: np.ndarray  # [N,3] base albedo in [0, 1]
    variant: np.ndarray  # [N] int texture style
    actor: np.ndarray  # [N] int, index into World.actors or STATIC

    def __len__(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class RoadStyle:
    """How the road surface looks, in street coordinates (s along, l to the right)."""

    half_width: float  # kerb to centreline: median / 2 + lanes * lane_width + parking_width
    lane_width: float = 3.25
    lanes: int = 1  # per direction
    median: float = 0.0  # width of a grass strip between the directions (0: none)
    centre_line: str = "dashed"  # "dashed", "solid" or "none"
    edge_lines: bool = True
    parking_width: float = 0.0  # strip for parked cars along each kerb (0: none)
    parking_lines: bool = False  # a solid line between the lane and the parking strip
    crossings: tuple[float, ...] = ()  # s of zebra crossings (each 4 m long, stop line before it)
    wear: float = 0.5  # 0 new asphalt .. 1 worn, patched and cracked
    marking_colour: tuple[float, float, float] = (0.85, 0.85, 0.82)


@dataclass(frozen=True)
class Actor:
    """A rigid group of primitives built at street position (s0, l0), facing ``yaw`` relative to the
    street's tangent (0 along the street, pi against it, +-pi/2 across); see motion.actor_positions."""

    kind: str  # "lead" (keeps a gap ahead of the camera) or "mover" (constant velocity)
    s0: float
    l0: float
    yaw: float = 0.0
    speed: float = 0.0  # m/s along the facing direction (movers)
    gap: float = 0.0  # lead: mean extra distance ahead, varying +-30 % with the camera's travel
    phase: float = 0.0  # lead: phase of that variation
    l_limit: float = np.inf  # movers stop at |l| = l_limit (people crossing stop at the far kerb)


@dataclass(frozen=True)
class World:
    seed: int
    primitives: Primitives
    road_half_width: float
    sidewalk_width: float
    length: float
    path: object | None = None  # the basic street's camera path (semdepth_synth.basic.CameraPath)
    street: Street = field(default_factory=Street)
    road: RoadStyle | None = None  # the randomised world's road surface
    actors: tuple[Actor, ...] = ()


def rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# Local y (the cylinder axis) onto world x (wheels) or world z (disc signs facing the road).
AXIS = {"y": np.eye(3), "x": np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]]), "z": rot_x(np.pi / 2)}


class Builder:
    """Collects primitives row by row, then packs them into :class:`Primitives`.

    ``actor`` tags the primitives added while it is set (see :meth:`add`), so an object function
    builds a moving car exactly as a parked one.
    """

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.actor = STATIC

    def add(self, shape: Shape, material: Material, class_name: str, center, half, color,
            yaw: float = 0.0, axis: str = "y", variant: int = 0, tilt: np.ndarray | None = None) -> None:
        """``tilt``: an extra local rotation between the yaw and the axis (pitched roofs, ramps)."""
        rotation = rot_y(yaw) @ (tilt if tilt is not None else np.eye(3)) @ AXIS[axis]
        self.rows.append((shape, np.asarray(center, float), rotation, np.asarray(half, float),
                          material, TRAIN_ID[class_name], np.asarray(color, float), variant, self.actor))

    def build(self) -> Primitives:
        cols = list(zip(*self.rows))
        return Primitives(
            shape=np.array(cols[0], dtype=np.int64), center=np.stack(cols[1]), rotation=np.stack(cols[2]),
            half=np.stack(cols[3]), material=np.array(cols[4], dtype=np.int64),
            class_id=np.array(cols[5], dtype=np.uint8), color=np.clip(np.stack(cols[6]), 0.0, 1.0),
            variant=np.array(cols[7], dtype=np.int64), actor=np.array(cols[8], dtype=np.int64))
