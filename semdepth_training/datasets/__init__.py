"""Training/evaluation datasets: every kind yields the same sample dict (docs/interfaces.md).

The kinds are registered by name in :mod:`registry`: :func:`build_train_val` (trainer),
:func:`build_eval_dataset` (evaluation, export) and :func:`build_dataset` build any of them, so their
callers never need to know which source they read. RosbagDataset lives in :mod:`rosbag`, imported
only when bags are read (it needs `rosbags`).
"""
from __future__ import annotations

from semdepth_ros.kitti_split import SplitEntry, read_split
from semdepth_training.datasets.base import FRAME_IDS, NUM_SCALES, RawSample, SampleDataset, build_sample
from semdepth_training.datasets.image_folder import ImageFolderDataset
from semdepth_training.datasets.kitti import KittiRawDataset
from semdepth_training.datasets.registry import DATASETS, DatasetKind, build_dataset, build_eval_dataset, \
    build_train_val
from semdepth_training.datasets.splits import MONODEPTH2_SPLITS_URL, fetch_split
from semdepth_training.datasets.synthetic import SyntheticDataset

__all__ = ["DATASETS", "FRAME_IDS", "MONODEPTH2_SPLITS_URL", "NUM_SCALES", "DatasetKind", "ImageFolderDataset",
           "KittiRawDataset", "RawSample", "SampleDataset", "SplitEntry", "SyntheticDataset", "build_dataset",
           "build_eval_dataset", "build_sample", "build_train_val", "fetch_split", "read_split"]
