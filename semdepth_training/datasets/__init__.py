"""Training/evaluation datasets: every kind yields the same sample dict (docs/interfaces.md).

Use :func:`build_dataset` so the trainer and evaluator need not know which source they read.
"""
from __future__ import annotations

from typing import Any

from semdepth_training.datasets.base import FRAME_IDS, NUM_SCALES, RawSample, SampleDataset, build_sample
from semdepth_training.datasets.image_folder import ImageFolderDataset
from semdepth_training.datasets.kitti import KittiRawDataset
from semdepth_training.datasets.splits import MONODEPTH2_SPLITS_URL, SplitEntry, fetch_split, read_split
from semdepth_training.datasets.synthetic import SyntheticDataset

DATASETS: dict[str, type[SampleDataset]] = {
    "kitti": KittiRawDataset,
    "folder": ImageFolderDataset,
    "synthetic": SyntheticDataset,
}

__all__ = ["DATASETS", "FRAME_IDS", "MONODEPTH2_SPLITS_URL", "NUM_SCALES", "ImageFolderDataset",
           "KittiRawDataset", "RawSample", "SampleDataset", "SplitEntry", "SyntheticDataset",
           "build_dataset", "build_sample", "fetch_split", "read_split"]


def build_dataset(kind: str, **options: Any) -> SampleDataset:
    """Construct a dataset by name; ``options`` are the class's constructor arguments.

    - ``"kitti"``: :class:`KittiRawDataset` (root, split_file, ext, intrinsics, ...)
    - ``"folder"``: :class:`ImageFolderDataset` (root, stride, ...)
    - ``"synthetic"``: :class:`SyntheticDataset` (num_sequences, frames_per_sequence, ...)

    All take height, width, frame_ids, augment and seed.
    """
    if kind not in DATASETS:
        raise ValueError(f"unknown dataset kind {kind!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[kind](**options)
