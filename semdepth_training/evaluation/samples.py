"""Test images with ground truth for the evaluation, from KITTI (split file) or any dataset with depth.

Every source yields :class:`EvalSample` at the ground truth's resolution, so the evaluation loop never
needs to know where a frame came from. Frames are read through the training datasets' loaders
(``frame_ids=(0,)``: no neighbours needed), so paths and validation live in one place.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from semdepth_training.datasets import ImageFolderDataset, KittiRawDataset, SampleDataset
from semdepth_training.datasets.kitti import CAMERA_FOLDERS
from semdepth_training.evaluation.kitti_gt import load_gt_depths
from semdepth_training.pseudo_labels import read_train_id_png


@dataclass
class EvalSample:
    """One test image and its labels; labels are at the GT's size."""

    name: str
    image: np.ndarray                  # HxWx3 uint8 RGB
    depth_gt: np.ndarray               # [h, w] float32 metres, 0 = invalid
    classes: np.ndarray | None = None  # [h, w] Cityscapes train ids (pseudo labels)
    fg_mask: np.ndarray | None = None  # [h, w] uint8 {0, 1}


def resize_nearest(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A label map at (height, width) without inventing values between labels."""
    if label.shape == size:
        return label
    return cv2.resize(label, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def _class_map(path: Path, size: tuple[int, int]) -> np.ndarray | None:
    return read_train_id_png(path, size) if path.is_file() else None


def kitti_samples(dataset: KittiRawDataset, gt_source: str = "velodyne", gt_root: str | os.PathLike | None = None,
                  gt_cache: str | os.PathLike | None = None) -> Iterator[EvalSample]:
    """KITTI split frames with Velodyne or improved GT, and pseudo labels from beside the images.

    ``gt_root`` is where the improved GT lives when it is not merged into the KITTI raw tree.
    """
    depths = load_gt_depths(gt_root or dataset.root, dataset.entries, gt_source, gt_cache)
    for index, (entry, gt) in enumerate(zip(dataset.entries, depths)):
        raw = dataset.load(index)
        labels = dataset.root / entry.folder / CAMERA_FOLDERS[entry.side] / "classes" / f"{entry.frame:010d}.png"
        yield EvalSample(f"{entry.folder}/{entry.frame:010d}", raw.images[0], gt, _class_map(labels, gt.shape),
                         resize_nearest(raw.fg_mask, gt.shape) if raw.fg_mask is not None else None)


def dataset_samples(dataset: SampleDataset) -> Iterator[EvalSample]:
    """Frames of an image-folder or synthetic dataset that carry depth GT (others are left out).

    Image folders may also hold train-id pseudo labels in ``<sequence>/classes/<stem>.png``; the
    synthetic world gives its exact train ids.
    """
    for index in range(len(dataset)):
        raw = dataset.load(index)
        if raw.depth is None:
            continue
        name, classes = f"{index:06d}", None
        if isinstance(dataset, ImageFolderDataset):
            seq_index, position = dataset.targets[index]
            sequence = dataset.sequences[seq_index]
            stem = sequence.images[position].stem
            name = f"{sequence.folder.name}/{stem}"
            classes = _class_map(sequence.folder / "classes" / f"{stem}.png", raw.depth.shape)
        elif raw.classes is not None:
            classes = resize_nearest(raw.classes[0], raw.depth.shape)
        fg = resize_nearest(raw.fg_mask, raw.depth.shape) if raw.fg_mask is not None else None
        yield EvalSample(name, raw.images[0], raw.depth.astype(np.float32), classes, fg)


def eval_samples(dataset: SampleDataset, gt_source: str = "velodyne", gt_root: str | os.PathLike | None = None,
                 gt_cache: str | os.PathLike | None = None) -> Iterator[EvalSample]:
    """Samples of any dataset: KITTI gets its LiDAR/improved GT, the others their own depth maps."""
    if isinstance(dataset, KittiRawDataset):
        return kitti_samples(dataset, gt_source, gt_root, gt_cache)
    return dataset_samples(dataset)
