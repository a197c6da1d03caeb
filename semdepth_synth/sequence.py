"""Synthetic driving sequences: a seeded street world seen from a moving camera, frame by frame.

Frames are rendered on demand (random access), so a dataset can generate them on the fly or a writer
can store them; the same config always gives the same pixels.

Two worlds (``SynthConfig.realism``):
- ``"basic"``: the fixed KITTI-like camera on one straight city street, flat shading, ~10 Hz at
  ``speed`` metres per frame. Cheapest; the fast tests, the demo and the bundled model use it.
- ``"fast"`` / ``"full"``: domain randomisation for transfer to real video. Per sequence: camera
  (height, pitch, roll, field of view, principal point), street (city, residential, rural,
  industrial; straight or curved; markings, crossings), traffic and people (parked, lead vehicle,
  oncoming, cyclists, walkers), sun, sky and haze, speed profile (0..max_speed m/s with stops) and
  frame rate, and a camera model (exposure, white balance, tone curve, vignetting, blur, noise, JPEG).
  ``"full"`` adds hard sun shadows and sky occlusion (under cars and trees); ``"fast"`` skips them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from semdepth_ros.classes import foreground_from_train_ids
from semdepth_synth import basic
from semdepth_synth.camera import kitti_rig, random_rig
from semdepth_synth.layout import build_random_world
from semdepth_synth.lighting import random_lighting
from semdepth_synth.motion import actor_transforms, camera_poses, random_drive
from semdepth_synth.render import Renderer
from semdepth_synth.sensor import develop, motion_blur, plain_sensor, random_sensor

REALISM = ("basic", "fast", "full")
BASIC_FRAME_RATE = 10.0  # Hz: the basic world moves ~0.8 m per frame, KITTI's 10 Hz
# Independent random streams per aspect, so that changing one option leaves the others as they were.
_CAMERA, _DRIVE, _LAYOUT, _LIGHT, _SENSOR, _NOISE = range(1, 7)
_RANGES = ("camera_height_range", "hfov_range", "pitch_range", "roll_range", "frame_rate_range")


@dataclass(frozen=True)
class SynthConfig:
    """One sequence: image size, seed, length, and which world (see the module docstring).

    ``speed`` and ``camera_height`` drive the basic world only; the ranges and ``max_speed`` the
    randomised ones (angles in degrees, field of view horizontal).
    """

    height: int = 192
    width: int = 640
    seed: int = 0
    num_frames: int = 100
    speed: float = 0.8  # basic: metres per frame (mean)
    camera_height: float = 1.65  # basic: metres above the road, as KITTI's colour cameras
    realism: str = "basic"  # "basic", "fast" or "full"
    camera_height_range: tuple[float, float] = (1.2, 2.0)
    hfov_range: tuple[float, float] = (60.0, 100.0)
    pitch_range: tuple[float, float] = (-6.0, 3.0)  # positive looks up
    roll_range: tuple[float, float] = (-2.5, 2.5)
    frame_rate_range: tuple[float, float] = (5.0, 30.0)  # Hz
    max_speed: float = 15.0  # m/s
    sensor_effects: bool = True  # randomised worlds: the camera model; False: plain gamma only

    def __post_init__(self) -> None:
        for name in _RANGES:  # YAML gives lists
            value = getattr(self, name)
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                raise ValueError(f"{name} must be a [low, high] pair, got {value!r}")
            object.__setattr__(self, name, (float(value[0]), float(value[1])))
            if value[0] > value[1]:
                raise ValueError(f"{name} must have low <= high, got {value!r}")
        if self.height < 8 or self.width < 8:
            raise ValueError(f"image size must be at least 8x8, got {self.height}x{self.width}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {self.num_frames}")
        if not 0.0 < self.speed <= 5.0:
            raise ValueError(f"speed must be in (0, 5] metres per frame, got {self.speed}")
        if not 0.3 <= self.camera_height <= 5.0:
            raise ValueError(f"camera_height must be in [0.3, 5] metres, got {self.camera_height}")
        if self.realism not in REALISM:
            raise ValueError(f"realism must be one of {', '.join(REALISM)}, got {self.realism!r}")
        if not (0.3 <= self.camera_height_range[0] and self.camera_height_range[1] <= 5.0):
            raise ValueError(f"camera_height_range must lie in [0.3, 5] metres, "
                             f"got {self.camera_height_range}")
        if not (10.0 <= self.hfov_range[0] and self.hfov_range[1] <= 150.0):
            raise ValueError(f"hfov_range must lie in [10, 150] degrees, got {self.hfov_range}")
        if self.frame_rate_range[0] < 0.5:
            raise ValueError(f"frame_rate_range must be at least 0.5 Hz, got {self.frame_rate_range}")
        if not 0.0 <= self.max_speed <= 40.0:
            raise ValueError(f"max_speed must be in [0, 40] m/s, got {self.max_speed}")


@dataclass
class SynthFrame:
    index: int
    rgb: np.ndarray  # [H,W,3] uint8
    depth: np.ndarray  # [H,W] float32 metres (camera z); np.inf for sky
    class_ids: np.ndarray  # [H,W] uint8 Cityscapes train ids
    fg_mask: np.ndarray  # [H,W] uint8 {0,1}, seed 000 Table 7 foreground
    pose: np.ndarray  # [4,4] camera-to-world (optical frame)
    K: np.ndarray  # [3,3] pixels
    timestamp: float = 0.0  # seconds since the first frame


class SynthSequence:
    """Random access to the frames of one configured sequence.

    ``timestamps`` [T] (s), ``speeds`` [T] (m/s along the street), ``frame_rate`` (Hz) and ``poses``
    [T,4,4] describe the drive exactly; ``rig`` the camera.
    """

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        c = config
        if c.realism == "basic":
            self.rig = kitti_rig(c.width, c.height, c.camera_height)
            self.world = basic.build_world(c.seed, travel=c.num_frames * c.speed * 1.2)
            self.poses = basic.camera_poses(self.world, c.num_frames, c.speed, c.camera_height)
            self.frame_rate = BASIC_FRAME_RATE
            self.timestamps = np.arange(c.num_frames) / BASIC_FRAME_RATE
            step = np.linalg.norm(np.diff(self.poses[:, :3, 3], axis=0), axis=1) * BASIC_FRAME_RATE
            self.speeds = np.concatenate([step[:1], step]) if len(step) else np.zeros(1)
            self._motion = None
            self._sensor = None
            self._renderer = Renderer(self.world, self.rig.K, c.height, c.width)
        else:
            def stream(k: int) -> np.random.Generator:
                return np.random.default_rng([c.seed, k])

            self.rig = random_rig(stream(_CAMERA), c.width, c.height, c.camera_height_range, c.hfov_range,
                                  c.pitch_range, c.roll_range)
            drive = random_drive(stream(_DRIVE), c.num_frames, c.frame_rate_range, c.max_speed)
            self.world, lane = build_random_world(c.seed, stream(_LAYOUT), drive)
            self.poses = camera_poses(self.world.street, drive, lane, self.rig)
            self.frame_rate, self.timestamps, self.speeds = drive.frame_rate, drive.times, drive.speed
            self._motion = actor_transforms(self.world, drive)
            light = random_lighting(stream(_LIGHT), shadows=c.realism == "full")
            self._sensor = random_sensor(stream(_SENSOR), light) if c.sensor_effects else plain_sensor(light)
            self._renderer = Renderer(self.world, self.rig.K, c.height, c.width, light)
        self.K = self.rig.K

    def __len__(self) -> int:
        return self.config.num_frames

    def __getitem__(self, index: int) -> SynthFrame:
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} out of range 0..{len(self) - 1}")
        motion = None if self._motion is None else self._motion[index]
        out = self._renderer.render(self.poses[index], motion)
        if self._sensor is None:
            rgb = np.clip(out.radiance * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            radiance = out.radiance
            if self._sensor.shutter > 0 and len(self) > 1:
                neighbour = self.poses[index + 1] if index + 1 < len(self) else self.poses[index - 1]
                fraction = min(self._sensor.shutter * self.frame_rate, 0.5)
                radiance = motion_blur(radiance, out.depth, self.K, self.poses[index], neighbour, fraction)
            rgb = develop(radiance, self._sensor, np.random.default_rng([self.config.seed, _NOISE, index]))
        return SynthFrame(index=index, rgb=rgb, depth=out.depth, class_ids=out.class_ids,
                          fg_mask=foreground_from_train_ids(out.class_ids), pose=self.poses[index].copy(),
                          K=self.K.copy(), timestamp=float(self.timestamps[index]))


def generate_sequence(config: SynthConfig) -> Iterator[SynthFrame]:
    """Yield the frames of one sequence in time order."""
    sequence = SynthSequence(config)
    for i in range(len(sequence)):
        yield sequence[i]
