"""rosbag2 recordings as a training set: the frames :mod:`bag_cache` kept, split by time.

Each bag's last ``val_fraction`` of its time span is held back (``part="val"``), the rest trains
(``part="train"``); a target needs all ``frame_ids`` neighbours among the kept frames of its own
segment and part, so no sample straddles a stamp gap, a stop, a bag boundary or the split. With
odometry (or ``poses``, a .npy of camera poses per cached frame) every sample carries the camera
poses (``pose.source: dataset`` uses them; the pose net's odometry term compares against them);
without, ``pose_valid`` is 0. ``fg_labels`` (a .npy of uint8 masks per cached frame) gives the
semantic branch its labels. ``epoch_length`` (default: the
number of targets) cycles through the targets for that many samples per epoch (each visit augmented
anew), so an adaptation run of N batches can be exactly one epoch.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from semdepth_training.datasets.base import FRAME_IDS, RawSample, SampleDataset
from semdepth_training.datasets.bag_cache import BagFrames, BagSource, SelectionRules

PARTS = ("train", "val", "all")
_SOURCE_FIELDS = {f.name for f in dataclasses.fields(BagSource)}
_SELECTION_FIELDS = {f.name for f in dataclasses.fields(SelectionRules)}


def bag_settings(options: dict[str, Any]) -> tuple[BagSource, SelectionRules]:
    """BagSource and SelectionRules from flat options (``bags`` a path or a list of paths)."""
    unknown = sorted(set(options) - _SOURCE_FIELDS - _SELECTION_FIELDS)
    if unknown:
        raise ValueError(f"unknown rosbag option(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(_SOURCE_FIELDS | _SELECTION_FIELDS))}")
    source = {k: v for k, v in options.items() if k in _SOURCE_FIELDS}
    bags = source.get("bags")
    if not bags:
        raise ValueError("the rosbag dataset needs bags: data.path (a bag or a folder of bags) or options.bags")
    source["bags"] = tuple(str(b) for b in ([bags] if isinstance(bags, (str, Path)) else bags))
    return BagSource(**source), SelectionRules(**{k: v for k, v in options.items() if k in _SELECTION_FIELDS})


class RosbagDataset(SampleDataset):
    """Targets of one part of the cached frames (see the module docstring)."""

    def __init__(self, frames_dir: str | Path, part: str = "train", val_fraction: float = 0.3, height: int = 192,
                 width: int = 640, frame_ids: tuple[int, ...] = FRAME_IDS, augment: bool = False, seed: int = 0,
                 epoch_length: int | None = None, poses: str | Path | None = None,
                 fg_labels: str | Path | None = None, progress: bool = True, reverse_time: bool = False,
                 **options: Any) -> None:
        super().__init__(height, width, frame_ids, augment, seed, reverse_time)
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, not {part!r}")
        if epoch_length is not None and epoch_length < 1:
            raise ValueError(f"epoch_length must be >= 1, got {epoch_length}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        source, selection = bag_settings(options)
        self.bag_frames = BagFrames.open_or_build(frames_dir, source, selection, height, width, progress)
        self.poses = self._poses(poses)
        self.fg_labels = None if fg_labels is None else np.load(fg_labels, mmap_mode="r")
        if self.fg_labels is not None and self.fg_labels.shape != (len(self.bag_frames), height, width):
            raise ValueError(f"{fg_labels} holds masks {self.fg_labels.shape}, not one per cached frame "
                             f"({len(self.bag_frames)}, {height}, {width})")
        self.part = part
        self.val_fraction = val_fraction
        self.targets = self._targets()
        if not self.targets:
            raise ValueError(f"no {part} frame of {', '.join(source.bags)} has neighbours {self.frame_ids} "
                             f"({self.bag_frames.describe()}); record longer or with more motion, or lower "
                             "--min-baseline / --min-change")
        self.epoch_length = epoch_length or len(self.targets)

    def _poses(self, path: str | Path | None) -> np.ndarray | None:
        """Camera-to-world poses [N,4,4] of the cached frames: a given .npy (e.g. motion measured
        without odometry), else the odometry's, else None."""
        if path is not None:
            poses = np.load(path)
            if poses.shape != (len(self.bag_frames), 4, 4):
                raise ValueError(f"{path} holds poses {poses.shape}, but the frame cache has {len(self.bag_frames)} frames")
            return poses
        if self.bag_frames.has_odometry:
            return np.array([f.pose for f in self.bag_frames.frames], dtype=np.float64)
        return None

    def in_part(self, frame: int) -> bool:
        if self.part == "all":
            return True
        f = self.bag_frames.frames[frame]
        held_back = f.stamp_ns >= self.bag_frames.split_stamp(f.bag, self.val_fraction) and self.val_fraction > 0
        return held_back == (self.part == "val")

    def _targets(self) -> list[int]:
        frames = self.bag_frames.frames
        members = [self.in_part(i) for i in range(len(frames))]
        targets = []
        for i in range(len(frames)):
            near = [i + f for f in self.frame_ids]
            if all(0 <= j < len(frames) and members[j] and frames[j].segment == frames[i].segment for j in near):
                targets.append(i)
        return targets

    def __len__(self) -> int:
        return self.epoch_length

    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        """The target's frames as cached, at the training size whatever ``size`` asks (the full-size
        images are not kept)."""
        target = self.targets[index % len(self.targets)]
        frames = self.bag_frames.frames
        images = {f: self.bag_frames.image(target + f) for f in self.frame_ids}
        poses = None if self.poses is None else {f: self.poses[target + f] for f in self.frame_ids}
        fg_mask = None if self.fg_labels is None else np.array(self.fg_labels[target])
        return RawSample(images=images, K=np.asarray(frames[target].K, dtype=np.float64), fg_mask=fg_mask, poses=poses)
