"""Objects of the street, each built from a few primitives at a ground point (x, z) and a yaw.

Sizes are those of real ones (a car 3.8-4.9 m long, a truck's cargo box 3.2-3.8 m tall, a person
1.55-1.95 m), because absolute size is a depth cue a network can only learn from true sizes.
The first four functions are the basic street's and keep their random draws in order, so a basic
world stays the same for a seed.
"""
from __future__ import annotations

import numpy as np

from semdepth_synth.world import Builder, Material, Shape, rot_x, rot_y, rot_z

FACADE_COLOURS = np.array([(0.62, 0.36, 0.27), (0.75, 0.68, 0.55), (0.55, 0.55, 0.58), (0.82, 0.78, 0.70),
                           (0.50, 0.30, 0.25), (0.70, 0.60, 0.45), (0.45, 0.50, 0.55)])
CAR_COLOURS = np.array([(0.75, 0.75, 0.78), (0.12, 0.12, 0.14), (0.55, 0.05, 0.05), (0.10, 0.20, 0.45),
                        (0.85, 0.85, 0.85), (0.35, 0.37, 0.40), (0.15, 0.35, 0.20), (0.80, 0.60, 0.15)])
CLOTH_COLOURS = np.array([(0.15, 0.15, 0.20), (0.60, 0.10, 0.10), (0.20, 0.30, 0.60), (0.80, 0.80, 0.75),
                          (0.30, 0.45, 0.25), (0.45, 0.35, 0.25), (0.70, 0.55, 0.20)])
SKIN_COLOURS = np.array([(0.90, 0.72, 0.60), (0.70, 0.50, 0.38), (0.45, 0.30, 0.22)])
# Bright trucks and buses are rarer than grey cars, as on real roads.
FLEET_COLOURS = np.array([(0.92, 0.92, 0.90), (0.85, 0.15, 0.10), (0.95, 0.75, 0.10), (0.10, 0.30, 0.60),
                          (0.20, 0.45, 0.25), (0.55, 0.57, 0.60), (0.15, 0.15, 0.17)])


def pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 0.05) -> np.ndarray:
    return palette[rng.integers(len(palette))] * rng.uniform(1 - jitter, 1 + jitter, 3)


def _wheels(b: Builder, origin: np.ndarray, yaw: float, class_name: str, half_width: float,
            axles: tuple[float, ...], radius: float = 0.32, inset: float = 0.12) -> None:
    rot = rot_y(yaw)
    for sx in (-1, 1):
        for az in axles:
            centre = origin + rot @ (sx * (half_width - inset), -radius, az)
            b.add(Shape.CYLINDER, Material.WHEEL, class_name, centre, (radius, 0.13, radius),
                  (0.06, 0.06, 0.06), yaw, axis="x")


def car(b: Builder, rng: np.random.Generator, x: float, z: float, yaw: float,
        colours: np.ndarray = CAR_COLOURS) -> None:
    """Body, cabin and four wheels; the wheels stand 1 cm proud so they show on the side."""
    length, width = rng.uniform(3.8, 4.8), rng.uniform(1.7, 1.9)
    colour, rot = pick(rng, colours), rot_y(yaw)
    origin = np.array([x, 0.0, z])
    b.add(Shape.BOX, Material.CAR_BODY, "car", origin + rot @ (0, -0.65, 0), (width / 2, 0.35, length / 2),
          colour, yaw)
    b.add(Shape.BOX, Material.CAR_CABIN, "car", origin + rot @ (0, -1.21, -0.05 * length),
          (width / 2 - 0.08, 0.21, 0.26 * length), colour, yaw)
    _wheels(b, origin, yaw, "car", width / 2, (-(length / 2 - 0.8), length / 2 - 0.8))


def person(b: Builder, rng: np.random.Generator, x: float, z: float, cloth: np.ndarray = CLOTH_COLOURS,
           yaw: float | None = None) -> None:
    """Legs, arms, torso (cylinders) and a head (sphere); facing a random way unless ``yaw`` is given."""
    s, facing = rng.uniform(0.88, 1.1), rng.uniform(0, 2 * np.pi)
    rot, origin = rot_y(facing if yaw is None else yaw), np.array([x, 0.0, z])
    trousers, shirt = pick(rng, cloth), pick(rng, cloth)
    for side in (-1, 1):
        b.add(Shape.CYLINDER, Material.CLOTH, "person", origin + rot @ (side * 0.1 * s, -0.43 * s, 0),
              (0.075 * s, 0.43 * s, 0.075 * s), trousers)
        b.add(Shape.CYLINDER, Material.CLOTH, "person", origin + rot @ (side * 0.25 * s, -1.13 * s, 0),
              (0.05 * s, 0.29 * s, 0.05 * s), shirt)
    b.add(Shape.CYLINDER, Material.CLOTH, "person", origin + (0, -1.15 * s, 0), (0.18 * s, 0.3 * s, 0.18 * s),
          shirt)
    b.add(Shape.SPHERE, Material.HEAD, "person", origin + (0, -1.58 * s, 0), (0.11 * s,) * 3,
          pick(rng, SKIN_COLOURS), variant=int(rng.integers(3)))


def pole(b: Builder, rng: np.random.Generator, x: float, z: float, facing: float = 0.0) -> None:
    """A post, half of them carrying a traffic sign facing the oncoming camera (yaw ``facing``)."""
    height = rng.uniform(3.0, 6.5)
    b.add(Shape.CYLINDER, Material.POLE, "pole", (x, -height / 2, z), (0.07, height / 2, 0.07),
          np.multiply((0.5, 0.5, 0.52), rng.uniform(0.8, 1.2)))
    if rng.random() < 0.6:
        r = rng.uniform(0.3, 0.4)
        offset = rot_y(facing) @ (0.0, 0.0, -0.1)
        centre = (x + offset[0], -min(height - r, rng.uniform(2.2, 2.8)), z + offset[2])
        b.add(Shape.CYLINDER, Material.SIGN, "traffic sign", centre, (r, 0.02, r), (0.5, 0.5, 0.5),
              yaw=facing, axis="z", variant=int(rng.integers(3)))


def tree(b: Builder, rng: np.random.Generator, x: float, z: float) -> None:
    trunk, r = rng.uniform(2.2, 3.0), rng.uniform(1.3, 2.1)
    b.add(Shape.CYLINDER, Material.BARK, "vegetation", (x, -trunk / 2, z), (0.14, trunk / 2, 0.14),
          (0.32, 0.24, 0.17))
    b.add(Shape.SPHERE, Material.FOLIAGE, "vegetation", (x, -(trunk + 0.6 * r), z), (r,) * 3,
          np.multiply((0.25, 0.42, 0.15), rng.uniform(0.8, 1.2, 3)))


# ---- the randomised world's objects ----------------------------------------------------------------

VEHICLE_LENGTH = {"car": (3.7, 4.9), "suv": (4.3, 4.9), "van": (4.8, 5.9), "truck": (7.5, 10.0),
                  "bus": (10.5, 12.5)}


def vehicle_length(rng: np.random.Generator, kind: str) -> float:
    lo, hi = VEHICLE_LENGTH[kind]
    return float(rng.uniform(lo, hi))


def vehicle(b: Builder, rng: np.random.Generator, kind: str, x: float, z: float, yaw: float, length: float,
            colours: np.ndarray = CAR_COLOURS) -> None:
    """A car, SUV, van, truck or bus of the given length, centred on ground point (x, z), front along
    the yaw direction. Class ids follow Cityscapes (vans are cars)."""
    rot, origin = rot_y(yaw), np.array([x, 0.0, z])
    if kind in ("car", "suv"):
        width = rng.uniform(1.7, 1.9) if kind == "car" else rng.uniform(1.85, 2.0)
        sill, top = (0.3, 0.95) if kind == "car" else (0.42, 1.15)
        cabin_h = rng.uniform(0.4, 0.5) if kind == "car" else rng.uniform(0.5, 0.6)
        colour = pick(rng, colours)
        b.add(Shape.BOX, Material.CAR_BODY, "car", origin + rot @ (0, -(sill + top) / 2, 0),
              (width / 2, (top - sill) / 2, length / 2), colour, yaw)
        cabin_len = length * (rng.uniform(0.24, 0.3) if kind == "car" else rng.uniform(0.3, 0.36))
        shift = -length * (rng.uniform(0.02, 0.08) if kind == "car" else 0.12)  # towards the back
        b.add(Shape.BOX, Material.CAR_CABIN, "car", origin + rot @ (0, -(top + cabin_h / 2), shift),
              (width / 2 - 0.08, cabin_h / 2, cabin_len), colour, yaw)
        axle = length / 2 - rng.uniform(0.7, 0.9)
        _wheels(b, origin, yaw, "car", width / 2, (-axle, axle), radius=0.31 if kind == "car" else 0.36)
    elif kind == "van":
        width, height = rng.uniform(1.9, 2.05), rng.uniform(1.95, 2.6)
        colour = pick(rng, FLEET_COLOURS)
        nose = rng.uniform(0.8, 1.1)
        b.add(Shape.BOX, Material.CAR_BODY, "car", origin + rot @ (0, -0.7, length / 2 - nose / 2),
              (width / 2, 0.35, nose / 2), colour, yaw)
        b.add(Shape.BOX, Material.CARGO, "car", origin + rot @ (0, -(0.35 + height) / 2, -nose / 2),
              (width / 2, (height - 0.35) / 2, (length - nose) / 2), colour, yaw, variant=1)
        _wheels(b, origin, yaw, "car", width / 2, (-(length / 2 - 1.0), length / 2 - 1.3), radius=0.34)
    elif kind == "truck":
        width, box_h = 2.5, rng.uniform(3.2, 3.8)
        cab_len, gap = rng.uniform(1.9, 2.3), 0.3
        cab_colour, box_colour = pick(rng, FLEET_COLOURS), pick(rng, FLEET_COLOURS[:3], 0.03)
        front = length / 2
        b.add(Shape.BOX, Material.CARGO, "truck", origin + rot @ (0, -1.55, front - cab_len / 2),
              (width / 2 - 0.05, 1.1, cab_len / 2), cab_colour, yaw, variant=2)  # cab: windscreen in front
        box_len = length - cab_len - gap
        box_centre = origin + rot @ (0, -(1.0 + box_h) / 2, -front + box_len / 2)
        b.add(Shape.BOX, Material.CARGO, "truck", box_centre, (width / 2, (box_h - 1.0) / 2, box_len / 2),
              box_colour, yaw, variant=0)
        b.add(Shape.BOX, Material.WHEEL, "truck", origin + rot @ (0, -0.7, -front + box_len / 2),
              (width / 2 - 0.3, 0.2, box_len / 2 - 0.2), (0.08, 0.08, 0.08), yaw)  # chassis
        _wheels(b, origin, yaw, "truck", width / 2, (front - 1.3, -front + 1.6, -front + 2.9), radius=0.5,
                inset=0.2)
    elif kind == "bus":
        width, height = 2.55, rng.uniform(2.9, 3.2)
        b.add(Shape.BOX, Material.BUS_BODY, "bus", origin + rot @ (0, -(0.35 + height) / 2, 0),
              (width / 2, (height - 0.35) / 2, length / 2), pick(rng, FLEET_COLOURS[:5], 0.03), yaw)
        _wheels(b, origin, yaw, "bus", width / 2, (length / 2 - 2.6, -length / 2 + 3.2), radius=0.5,
                inset=0.2)
    else:
        raise ValueError(f"unknown vehicle kind {kind!r}")


def cyclist(b: Builder, rng: np.random.Generator, x: float, z: float, yaw: float,
            cloth: np.ndarray = CLOTH_COLOURS) -> None:
    """A bicycle (two thin wheels, frame bars) and its rider, heading along ``yaw``."""
    rot, origin = rot_y(yaw), np.array([x, 0.0, z])
    frame = pick(rng, CAR_COLOURS)
    for az in (-0.52, 0.52):
        b.add(Shape.CYLINDER, Material.WHEEL, "bicycle", origin + rot @ (0, -0.34, az), (0.34, 0.02, 0.34),
              (0.06, 0.06, 0.06), yaw, axis="x")
    b.add(Shape.BOX, Material.POLE, "bicycle", origin + rot @ (0, -0.62, 0.02), (0.025, 0.025, 0.42), frame,
          yaw, tilt=rot_x(0.35))
    b.add(Shape.BOX, Material.POLE, "bicycle", origin + rot @ (0, -0.62, -0.2), (0.025, 0.28, 0.025), frame,
          yaw, tilt=rot_x(-0.3))
    s = rng.uniform(0.9, 1.05)
    trousers, shirt = pick(rng, cloth), pick(rng, cloth)
    for side in (-1, 1):
        b.add(Shape.CYLINDER, Material.CLOTH, "rider", origin + rot @ (side * 0.12, -0.65, -0.12),
              (0.07 * s, 0.38 * s, 0.07 * s), trousers, yaw, tilt=rot_x(0.25))
    b.add(Shape.CYLINDER, Material.CLOTH, "rider", origin + rot @ (0, -1.25 * s, -0.08),
          (0.17 * s, 0.3 * s, 0.14 * s), shirt, yaw, tilt=rot_x(0.45))
    b.add(Shape.SPHERE, Material.HEAD, "rider", origin + rot @ (0, -1.62 * s, 0.08), (0.11 * s,) * 3,
          pick(rng, SKIN_COLOURS), variant=int(rng.integers(3)))


def leafy_tree(b: Builder, rng: np.random.Generator, x: float, z: float, size: float = 1.0) -> None:
    """A trunk and a crown of four to eight overlapping spheres of leaves (with gaps the sky shows
    through), so the outline is ragged, as real crowns are."""
    trunk, r = rng.uniform(2.2, 4.5) * size, rng.uniform(2.0, 3.8) * size
    radius = 0.08 + 0.1 * size * rng.uniform(0.8, 1.3)
    stem = (trunk + 0.5 * r) / 2  # half length: the trunk reaches into the crown
    b.add(Shape.CYLINDER, Material.BARK, "vegetation", (x, -stem, z), (radius, stem, radius),
          np.multiply((0.30, 0.25, 0.20), rng.uniform(0.6, 1.2)))
    green = np.array((0.15, 0.27, 0.08)) * rng.uniform(0.75, 1.25) * rng.uniform(0.85, 1.15, 3)
    for _ in range(int(rng.integers(7, 13))):
        rk = r * rng.uniform(0.3, 0.55)
        dx, dz = rng.normal(0.0, 0.55 * r, 2)
        dy = max(trunk + r * rng.uniform(0.2, 1.5), rk + max(0.8 * trunk, 3.0))  # crowns clear of traffic
        b.add(Shape.SPHERE, Material.LEAVES, "vegetation", (x + dx, -dy, z + dz), (rk,) * 3,
              green * rng.uniform(0.85, 1.15, 3), variant=int(rng.integers(4)))


def bush(b: Builder, rng: np.random.Generator, x: float, z: float) -> None:
    r = rng.uniform(0.5, 1.2)
    b.add(Shape.SPHERE, Material.LEAVES, "vegetation", (x, -0.4 * r, z), (r,) * 3,
          np.array((0.16, 0.27, 0.10)) * rng.uniform(0.7, 1.3, 3), variant=int(rng.integers(4)))


def street_lamp(b: Builder, rng: np.random.Generator, x: float, z: float, yaw: float,
                towards_road: float) -> None:
    """A tall post with an arm reaching over the road (``towards_road`` = +-1 along the local x of
    the street at yaw ``yaw``)."""
    height = rng.uniform(6.0, 9.0)
    grey = np.multiply((0.45, 0.46, 0.48), rng.uniform(0.8, 1.2))
    b.add(Shape.CYLINDER, Material.POLE, "pole", (x, -height / 2, z), (0.08, height / 2, 0.08), grey)
    arm = rng.uniform(1.0, 2.0)
    rot, base = rot_y(yaw), np.array([x, 0.0, z])
    b.add(Shape.BOX, Material.POLE, "pole", base + rot @ (towards_road * arm / 2, -height + 0.1, 0.0),
          (arm / 2, 0.05, 0.08), grey, yaw)
    b.add(Shape.BOX, Material.POLE, "pole", base + rot @ (towards_road * arm, -height + 0.05, 0.0),
          (0.3, 0.08, 0.15), (0.75, 0.75, 0.72), yaw)


def traffic_light(b: Builder, rng: np.random.Generator, x: float, z: float, facing: float) -> None:
    """Post and signal head facing yaw ``facing`` (the approaching traffic); one lamp lit."""
    b.add(Shape.CYLINDER, Material.POLE, "pole", (x, -1.6, z), (0.07, 1.6, 0.07), (0.35, 0.36, 0.38))
    b.add(Shape.BOX, Material.SIGNAL, "traffic light", (x, -3.6, z), (0.17, 0.45, 0.12), (0.1, 0.1, 0.1),
          facing, variant=int(rng.integers(3)))


def house(b: Builder, rng: np.random.Generator, x: float, z: float, yaw: float, width: float, depth: float,
          colours: np.ndarray, roof_colours: np.ndarray) -> None:
    """A plastered house with a pitched roof of two tiled slabs; ``width`` along the street."""
    storeys = int(rng.integers(1, 4))
    wall_h = 2.9 * storeys + rng.uniform(0.2, 0.6)
    b.add(Shape.BOX, Material.HOUSE, "building", (x, -wall_h / 2, z), (depth / 2, wall_h / 2, width / 2),
          pick(rng, colours, 0.08), yaw, variant=int(rng.integers(4)))
    pitch = rng.uniform(0.45, 0.75)
    run = depth / 2 + 0.4  # eaves overhang
    slab = run / np.cos(pitch)
    rise = run * np.tan(pitch)
    roof = pick(rng, roof_colours, 0.08)
    rot = rot_y(yaw)
    wall_colour = b.rows[-1][6]
    for k, fill in enumerate((0.8, 0.5, 0.2)):  # the gable: a stepped triangle under the roof
        step_h = rise / 3
        b.add(Shape.BOX, Material.HOUSE, "building", (x, -wall_h - (k + 0.5) * step_h, z),
              (fill * depth / 2, step_h / 2, width / 2 - 0.01), wall_colour, yaw, variant=4)
    for side in (-1, 1):
        centre = np.array([x, -wall_h, z]) + rot @ (side * run / 2, -rise / 2, 0.0)
        b.add(Shape.BOX, Material.ROOF, "building", centre, (slab / 2, 0.08, width / 2 + 0.3), roof, yaw,
              tilt=rot_z(side * pitch))


def boundary_style(rng: np.random.Generator, kind: str) -> dict:
    """Look of one garden boundary ("hedge", "fence" or "wall"), drawn once so all its pieces match."""
    if kind == "hedge":
        return {"material": Material.HEDGE, "class_name": "vegetation", "height": rng.uniform(0.8, 2.2),
                "thick": rng.uniform(0.6, 1.2), "variant": 0,
                "colour": np.array((0.15, 0.28, 0.09)) * rng.uniform(0.75, 1.25, 3)}
    if kind == "fence":
        style = int(rng.integers(3))  # wooden slats, metal bars, chain link
        colour = np.array([(0.45, 0.33, 0.22), (0.2, 0.22, 0.2), (0.55, 0.57, 0.55)][style])
        return {"material": Material.FENCE, "class_name": "fence", "height": rng.uniform(0.9, 1.8),
                "thick": 0.06, "colour": colour * rng.uniform(0.8, 1.2, 3), "variant": style}
    if kind == "wall":
        return {"material": Material.WALL, "class_name": "wall", "height": rng.uniform(0.5, 1.6),
                "thick": 0.24, "colour": np.array((0.55, 0.52, 0.48)) * rng.uniform(0.75, 1.25, 3),
                "variant": int(rng.integers(2))}
    raise ValueError(f"unknown boundary {kind!r}")


def boundary(b: Builder, style: dict, x: float, z: float, yaw: float, length: float) -> None:
    """One straight piece of a hedge, fence or wall of ``length`` metres along ``yaw``."""
    h = style["height"]
    b.add(Shape.BOX, style["material"], style["class_name"], (x, -h / 2, z),
          (style["thick"] / 2, h / 2, length / 2), style["colour"], yaw, variant=style["variant"])
