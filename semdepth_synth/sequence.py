"""Synthetic driving sequences: a seeded street world seen from a KITTI-like camera, frame by frame.

Frames are rendered on demand (random access), so a dataset can generate them on the fly or a writer
can store them; the same config always gives the same pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from semdepth_ros.classes import foreground_from_train_ids
from semdepth_ros.intrinsics import kitti_like_intrinsics
from semdepth_synth.render import Renderer
from semdepth_synth.world import build_world, camera_poses


@dataclass(frozen=True)
class SynthConfig:
    """One sequence: image size, seed, length and the drive (KITTI drives 0.5-1.0 m per frame at 10 Hz)."""

    height: int = 192
    width: int = 640
    seed: int = 0
    num_frames: int = 100
    speed: float = 0.8  # metres per frame (mean)
    camera_height: float = 1.65  # metres above the road, as KITTI's colour cameras

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8:
            raise ValueError(f"image size must be at least 8x8, got {self.height}x{self.width}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {self.num_frames}")
        if not 0.0 < self.speed <= 5.0:
            raise ValueError(f"speed must be in (0, 5] metres per frame, got {self.speed}")
        if not 0.3 <= self.camera_height <= 5.0:
            raise ValueError(f"camera_height must be in [0.3, 5] metres, got {self.camera_height}")


@dataclass
class SynthFrame:
    index: int
    rgb: np.ndarray  # [H,W,3] uint8
    depth: np.ndarray  # [H,W] float32 metres (camera z); np.inf for sky
    class_ids: np.ndarray  # [H,W] uint8 Cityscapes train ids
    fg_mask: np.ndarray  # [H,W] uint8 {0,1}, seed 000 Table 7 foreground
    pose: np.ndarray  # [4,4] camera-to-world (optical frame)
    K: np.ndarray  # [3,3] pixels


class SynthSequence:
    """Random access to the frames of one configured sequence."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.K = kitti_like_intrinsics(config.width, config.height)
        self.world = build_world(config.seed, travel=config.num_frames * config.speed * 1.2)
        self.poses = camera_poses(self.world, config.num_frames, config.speed, config.camera_height)
        self._renderer = Renderer(self.world, self.K, config.height, config.width)

    def __len__(self) -> int:
        return self.config.num_frames

    def __getitem__(self, index: int) -> SynthFrame:
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} out of range 0..{len(self) - 1}")
        out = self._renderer.render(self.poses[index])
        return SynthFrame(index=index, rgb=out.rgb, depth=out.depth, class_ids=out.class_ids,
                          fg_mask=foreground_from_train_ids(out.class_ids), pose=self.poses[index].copy(),
                          K=self.K.copy())


def generate_sequence(config: SynthConfig) -> Iterator[SynthFrame]:
    """Yield the frames of one sequence in time order."""
    sequence = SynthSequence(config)
    for i in range(len(sequence)):
        yield sequence[i]
