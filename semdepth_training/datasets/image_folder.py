"""Users' own recordings (and ``semdepth synth`` output): folders of image sequences + intrinsics.

Layout (docs/interfaces.md): a root with sequence folders, or the root itself is one. A sequence has
``images/*.png|jpg`` (name order = time order), ``intrinsics.yaml`` (fx, fy, cx, cy[, width, height])
or ``camera_info.yaml`` (ROS camera_info YAML) in the sequence or the root, and optional
``depth/<stem>.npy`` (float32 metres, 0 = invalid), ``fg_mask/<stem>.png`` (0/255) and
``classes/<stem>.png`` (Cityscapes train ids of every frame, as `semdepth synth` and `semdepth
pseudo-labels` write them: SIGNet's class maps, and with depth the sky of pre-training). Intrinsics are in pixels of the stored images, which are
assumed rectified (distortion is ignored).

Neighbours come from the same sequence, ``stride`` frames apart (raise it for fast cameras so the
baseline between frames stays useful); frames too close to a sequence end have no targets.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semdepth_ros.intrinsics import load_intrinsics
from semdepth_ros.imageio import read_mask, read_rgb
from semdepth_training.datasets.base import FRAME_IDS, RawSample, SampleDataset, read_class_maps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
INTRINSICS_FILES = ("intrinsics.yaml", "camera_info.yaml")


@dataclass
class FolderSequence:
    """One recording: its folder, time-ordered image paths and K (pixels of those images)."""

    folder: Path
    images: list[Path]
    K: np.ndarray
    poses: np.ndarray | None = None  # [N,4,4] camera-to-world from poses.txt (odometry), or None


def find_intrinsics(sequence: Path, root: Path) -> Path:
    """The sequence's own intrinsics file, else the root's."""
    candidates = [folder / name for folder in (sequence, root) for name in INTRINSICS_FILES]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no intrinsics for sequence {sequence}; looked for "
                            + ", ".join(str(p) for p in dict.fromkeys(candidates)))


def _load_sequence(folder: Path, root: Path) -> FolderSequence:
    images = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder / 'images'}")
    path = find_intrinsics(folder, root)
    K, size = load_intrinsics(path)
    actual = read_rgb(images[0]).shape[1::-1]
    if size is not None and tuple(size) != tuple(actual):
        raise ValueError(f"{path} describes {size[0]}x{size[1]} images but {images[0]} is "
                         f"{actual[0]}x{actual[1]}; intrinsics must be in pixels of the stored images")
    return FolderSequence(folder, images, K, _read_poses(folder / "poses.txt", len(images)))


def _read_poses(path: Path, count: int) -> np.ndarray | None:
    """poses.txt: one row-major 3x4 camera-to-world matrix per image (KITTI odometry format)."""
    if not path.is_file():
        return None
    try:
        rows = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: cannot parse poses ({exc})") from exc
    if rows.shape != (count, 12):
        raise ValueError(f"{path} must have one line of 12 numbers per image ({count}); got {rows.shape}")
    poses = np.tile(np.eye(4), (count, 1, 1))
    poses[:, :3, :] = rows.reshape(count, 3, 4)
    return poses


class ImageFolderDataset(SampleDataset):
    """Every frame of every sequence that has all ``frame_ids`` neighbours at ``stride`` spacing."""

    def __init__(self, root: str | Path, height: int = 192, width: int = 640,
                 frame_ids: tuple[int, ...] = FRAME_IDS, augment: bool = False, seed: int = 0,
                 stride: int = 1, reverse_time: bool = False) -> None:
        super().__init__(height, width, frame_ids, augment, seed, reverse_time)
        if stride < 1:
            raise ValueError(f"stride must be >= 1; got {stride}")
        self.root = Path(root)
        self.stride = stride
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder root not found: {self.root}")
        folders = ([self.root] if (self.root / "images").is_dir()
                   else sorted(d for d in self.root.iterdir() if (d / "images").is_dir()))
        if not folders:
            raise FileNotFoundError(f"no sequence folder (a folder with images/) in {self.root}")
        self.sequences = [_load_sequence(folder, self.root) for folder in folders]
        low, high = min(frame_ids) * stride, max(frame_ids) * stride
        self.targets = [(i, t) for i, seq in enumerate(self.sequences)
                        for t in range(-low, len(seq.images) - high)]
        if not self.targets:
            raise ValueError(f"no frame in {self.root} has neighbours {self.frame_ids} at stride {stride}; "
                             "sequences are too short")

    def __len__(self) -> int:
        return len(self.targets)

    def image_files(self) -> list[Path]:
        return [path for seq in self.sequences for path in seq.images]

    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        seq_index, position = self.targets[index]
        seq = self.sequences[seq_index]
        images, stored = self.read_frames({f: seq.images[position + f * self.stride] for f in self.frame_ids}, size)
        stem = seq.images[position].stem
        mask_path = seq.folder / "fg_mask" / f"{stem}.png"
        depth_path = seq.folder / "depth" / f"{stem}.npy"
        poses = None if seq.poses is None else {f: seq.poses[position + f * self.stride] for f in self.frame_ids}
        classes = read_class_maps({f: seq.folder / "classes" / f"{seq.images[position + f * self.stride].stem}.png"
                                   for f in self.frame_ids})
        return RawSample(images=images, K=seq.K,
                         fg_mask=read_mask(mask_path) if mask_path.is_file() else None,
                         depth=np.load(depth_path).astype(np.float32) if depth_path.is_file() else None,
                         poses=poses, classes=classes, image_size=stored)
