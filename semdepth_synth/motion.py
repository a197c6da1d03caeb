"""How the randomised world moves: the camera vehicle's drive, its camera poses, and the actors.

The vehicle's speed is piecewise linear in time between random knots (cruising, slowing, stopping,
pulling away, within 0 .. max_speed m/s and +-2.5 m/s^2), so its arc length is known in closed form
at every frame time and poses are exact for any frame rate. Pitch follows braking and road bumps,
roll the curve, as on a real car. Actors move at constant velocity along the street, except a lead
vehicle that keeps a varying gap ahead of the camera (and stops when it stops).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semdepth_synth.camera import CameraRig
from semdepth_synth.street import Street
from semdepth_synth.world import Actor, World, rot_x, rot_y, rot_z

MAX_ACCEL = 2.5  # m/s^2
LEAD_WAVELENGTH = 60.0  # metres of camera travel per cycle of the lead vehicle's gap


@dataclass(frozen=True)
class Drive:
    """The vehicle along the street, sampled at the frame times."""

    frame_rate: float  # Hz
    times: np.ndarray  # [T] seconds from the first frame
    s: np.ndarray  # [T] arc length of the camera along the street
    speed: np.ndarray  # [T] m/s
    accel: np.ndarray  # [T] m/s^2


@dataclass(frozen=True)
class LanePath:
    """Where in the lane the vehicle drives: a lateral offset that wanders slowly with s."""

    lane: float  # metres right of the centreline
    sway: float
    wavelength: float
    phase: float
    bump: float  # pitch amplitude of road bumps (rad)

    def offset(self, s: np.ndarray) -> np.ndarray:
        return self.lane + self.sway * np.sin(2 * np.pi * s / self.wavelength + self.phase)

    def slope(self, s: np.ndarray) -> np.ndarray:
        k = 2 * np.pi / self.wavelength
        return self.sway * k * np.cos(k * s + self.phase)


def speed_knots(rng: np.random.Generator, duration: float, max_speed: float) -> tuple[np.ndarray, np.ndarray]:
    """Knot times and speeds of a drive: a cruising level, variations, and stops held for a while.

    One sequence in ten is a parked car (speed 0 throughout) and one in ten creeps (< 3 m/s).
    """
    style = rng.random()
    if style < 0.1 or max_speed == 0.0:
        return np.array([0.0, duration + 1.0]), np.zeros(2)
    cruise = rng.uniform(0.5, 3.0) if style < 0.2 else rng.uniform(0.25, 1.0) * max_speed
    cruise = min(cruise, max_speed)
    times, speeds = [0.0], [float(rng.uniform(0.0, 1.0) * cruise) if rng.random() < 0.3 else cruise]
    while times[-1] < duration:
        dt = rng.uniform(1.0, 5.0)
        if rng.random() < 0.15:  # a stop, held 1-5 s
            target = 0.0
        else:
            target = float(np.clip(cruise * rng.uniform(0.6, 1.25), 0.0, max_speed))
        dv = np.clip(target - speeds[-1], -MAX_ACCEL * dt, MAX_ACCEL * dt)
        times.append(times[-1] + dt)
        speeds.append(speeds[-1] + float(dv))
        if speeds[-1] == 0.0:
            times.append(times[-1] + rng.uniform(1.0, 5.0))
            speeds.append(0.0)
    if len(times) == 1:  # a one-frame sequence: hold the speed
        times.append(1.0)
        speeds.append(speeds[0])
    return np.array(times), np.array(speeds)


def sample_drive(knot_t: np.ndarray, knot_v: np.ndarray, times: np.ndarray, s0: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arc length, speed, acceleration) at ``times`` for speed piecewise linear between knots:
    the arc length is the exact integral (piecewise quadratic)."""
    seg_dt = np.diff(knot_t)
    seg_a = np.diff(knot_v) / seg_dt
    seg_s = np.concatenate([[s0], s0 + np.cumsum(knot_v[:-1] * seg_dt + 0.5 * seg_a * seg_dt ** 2)])
    k = np.clip(np.searchsorted(knot_t, times, side="right") - 1, 0, len(seg_dt) - 1)
    tau = times - knot_t[k]
    speed = knot_v[k] + seg_a[k] * tau
    return seg_s[k] + knot_v[k] * tau + 0.5 * seg_a[k] * tau ** 2, speed, seg_a[k]


def random_drive(rng: np.random.Generator, num_frames: int, frame_rate_range: tuple[float, float],
                 max_speed: float) -> Drive:
    frame_rate = float(rng.uniform(*frame_rate_range))
    times = np.arange(num_frames, dtype=np.float64) / frame_rate
    knot_t, knot_v = speed_knots(rng, float(times[-1]), max_speed)
    s, speed, accel = sample_drive(knot_t, knot_v, times)
    return Drive(frame_rate=frame_rate, times=times, s=s, speed=speed, accel=accel)


def camera_poses(street: Street, drive: Drive, lane: LanePath, rig: CameraRig) -> np.ndarray:
    """Camera-to-world 4x4 poses [T,4,4] (optical frame: x right, y down, z forward)."""
    s = drive.s
    lateral = lane.offset(s)
    x, z = street.to_world(s, lateral)
    yaw = street.heading(s) + np.arctan(lane.slope(s)) + rig.yaw
    # Nose dives when braking, bumps at two wavelengths; body roll outwards in a curve.
    pitch = rig.pitch - 0.003 * drive.accel + lane.bump * (np.sin(2 * np.pi * s / 17.0 + lane.phase)
                                                            + 0.5 * np.sin(2 * np.pi * s / 5.3))
    roll = rig.roll + 0.002 * drive.speed ** 2 * street.curvature
    bounce = 0.01 * np.sin(2 * np.pi * s / 11.0 + 2 * lane.phase)
    poses = np.tile(np.eye(4), (len(s), 1, 1))
    for n in range(len(s)):
        poses[n, :3, :3] = rot_y(yaw[n]) @ rot_x(pitch[n]) @ rot_z(roll[n])
        poses[n, :3, 3] = (x[n], -rig.height + bounce[n], z[n])
    return poses


def actor_positions(actor: Actor, drive: Drive) -> tuple[np.ndarray, np.ndarray]:
    """(s, l) of an actor's reference point at the frame times."""
    t = drive.times
    if actor.kind == "lead":
        travel = drive.s - drive.s[0]
        gap = actor.gap * (1.0 + 0.3 * np.sin(2 * np.pi * travel / LEAD_WAVELENGTH + actor.phase))
        gap0 = actor.gap * (1.0 + 0.3 * np.sin(actor.phase))
        return actor.s0 + travel + (gap - gap0), np.full_like(t, actor.l0)
    return (actor.s0 + actor.speed * t * np.cos(actor.yaw),
            np.clip(actor.l0 + actor.speed * t * np.sin(actor.yaw), -actor.l_limit, actor.l_limit))


def _placement(street: Street, s: float, l: float, yaw: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = rot_y(float(street.heading(s)) + yaw)
    x, z = street.to_world(s, l)
    m[0, 3], m[2, 3] = x, z
    return m


def actor_transforms(world: World, drive: Drive) -> np.ndarray:
    """[T, A, 4, 4] rigid motions taking each actor from where it was built to where it is per frame."""
    out = np.tile(np.eye(4), (len(drive.times), len(world.actors), 1, 1))
    for a, actor in enumerate(world.actors):
        back = np.linalg.inv(_placement(world.street, actor.s0, actor.l0, actor.yaw))
        s, l = actor_positions(actor, drive)
        for n in range(len(s)):
            out[n, a] = _placement(world.street, s[n], l[n], actor.yaw) @ back
    return out
