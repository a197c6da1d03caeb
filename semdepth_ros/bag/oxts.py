"""KITTI OXTS (GPS/IMU) packets -> poses of the IMU in a local, gravity-aligned world frame.

The convention of the KITTI raw devkit (convertOxtsToPose) and pykitti: latitude/longitude to metres with
a Mercator projection whose scale is fixed by the first packet's latitude (cos(lat0)), altitude as z,
rotation R = Rz(yaw) Ry(pitch) Rx(roll); the world origin is the first packet's position (pykitti; the
axes stay east/north/up, so the frame is gravity-aligned like a ROS odometry frame, REP 105). The IMU
frame is x forward, y left, z up (REP 103 body axes). KITTI: Geiger et al., "Vision meets Robotics",
Sec. 3 and the raw data development kit.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

EARTH_RADIUS = 6378137.0     # metres, WGS84 equatorial radius (the devkit's value)
OXTS_FIELDS = 30             # numbers per line of oxts/data/*.txt (dataformat.txt)
FORWARD_VELOCITY = slice(8, 11)   # vf, vl, vu in the IMU frame (m/s)
ANGULAR_RATE = slice(20, 23)      # wf, wl, wu in the IMU frame (rad/s)


class OxtsError(ValueError):
    """An OXTS file that cannot be read; the message names it."""


@dataclasses.dataclass
class OxtsTrack:
    """World-from-IMU poses [N,4,4] with the IMU's velocity and angular rate [N,3] in its own frame."""

    poses: np.ndarray
    velocity: np.ndarray
    angular_rate: np.ndarray


def read_packet(path: Path) -> np.ndarray:
    """The 30 numbers of one OXTS file."""
    try:
        values = np.array(path.read_text().split(), dtype=np.float64)
    except ValueError as exc:
        raise OxtsError(f"{path}: not an OXTS packet ({exc})") from exc
    if values.size != OXTS_FIELDS:
        raise OxtsError(f"{path}: an OXTS packet has {OXTS_FIELDS} numbers, this one {values.size}")
    return values


def _rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def mercator(lat: float, lon: float, scale: float) -> tuple[float, float]:
    """(x east, y north) in metres of a latitude/longitude in degrees, for the Mercator scale ``scale``."""
    x = scale * np.radians(lon) * EARTH_RADIUS
    y = scale * EARTH_RADIUS * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return float(x), float(y)


def oxts_track(packets: np.ndarray) -> OxtsTrack:
    """Poses of packets [N,30] (see the module docstring for the convention)."""
    packets = np.asarray(packets, dtype=np.float64)
    scale = np.cos(np.radians(packets[0, 0]))
    poses = np.tile(np.eye(4), (len(packets), 1, 1))
    for pose, packet in zip(poses, packets):
        pose[:3, :3] = _rotation(*packet[3:6])
        pose[:3, 3] = (*mercator(packet[0], packet[1], scale), packet[2])
    poses[:, :3, 3] -= poses[0, :3, 3]
    return OxtsTrack(poses, packets[:, FORWARD_VELOCITY].copy(), packets[:, ANGULAR_RATE].copy())
