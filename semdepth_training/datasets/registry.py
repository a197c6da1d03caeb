"""The dataset kinds by name, each knowing how it is built for training (train + validation, from the
training config) and for evaluation (target frames of a root), so neither the trainer nor the
evaluation switches on the kind.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semdepth_ros.kitti_split import read_split
from semdepth_synth import SynthConfig
from semdepth_training.datasets.base import SampleDataset
from semdepth_training.datasets.frame_cache import FrameCache
from semdepth_training.datasets.image_folder import ImageFolderDataset
from semdepth_training.datasets.kitti import CAMERA_FOLDERS, KittiRawDataset
from semdepth_training.datasets.splits import fetch_split
from semdepth_training.datasets.synthetic import SyntheticDataset

if TYPE_CHECKING:
    from semdepth_training.config import DataConfig

Options = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DatasetKind:
    """A dataset constructor and the constructor arguments its kind adds.

    ``train_val(data, run_dir, train, val)`` completes the training and validation arguments (``val``
    None: no validation set); ``evaluation(root, split, sequences, seed)`` gives the arguments of a
    test set; ``needs_root``: the kind reads files under a root folder.
    """

    dataset: Callable[..., SampleDataset]
    train_val: Callable[[DataConfig, Path, Options, Options], tuple[Options, Options | None]]
    evaluation: Callable[[Path | None, Path | None, int, int], Options]
    needs_root: bool = True


def _kitti_train_val(data: DataConfig, run_dir: Path, train: Options, val: Options) -> tuple[Options, Options | None]:
    """Split folder ``data.split`` (or the named split, fetched into run_dir/splits) -> train/val files."""
    split_dir = Path(data.split) if Path(data.split).is_dir() else fetch_split(
        data.split, run_dir / "splits", url=data.split_dir)
    val_file = split_dir / "val_files.txt"
    # The training step reads no depth ground truth: skip projecting a Velodyne scan per sample.
    train = {"velodyne_gt": False, **train, "root": data.path, "split_file": split_dir / "train_files.txt"}
    return train, ({**val, "root": data.path, "split_file": val_file} if val_file.is_file() else None)


def _kitti_evaluation(root: Path | None, split: Path | None, sequences: int, seed: int) -> Options:
    """A split's frames; png or jpg (Monodepth2 users often convert) as the first entry is stored."""
    if split is None:
        raise ValueError("KITTI needs a split file, e.g. splits/eigen/test_files.txt")
    first = read_split(split)[0]
    stem = Path(root) / first.folder / CAMERA_FOLDERS[first.side] / "data" / f"{first.frame:010d}"
    return {"root": root, "split_file": split, "ext": "jpg" if stem.with_suffix(".jpg").is_file() else "png"}


def _folder_train_val(data: DataConfig, run_dir: Path, train: Options, val: Options) -> tuple[Options, Options | None]:
    """Validation only from a separate root (``data.val_path``)."""
    return {**train, "root": data.path}, ({**val, "root": data.val_path} if data.val_path is not None else None)


def _folder_evaluation(root: Path | None, split: Path | None, sequences: int, seed: int) -> Options:
    return {"root": root}


def _synthetic_train_val(data: DataConfig, run_dir: Path, train: Options, val: Options) -> tuple[Options, Options]:
    """Validation on other streets (seed + 1 unless data.val_options sets one)."""
    if "seed" not in data.val_options:
        val = {**val, "seed": val["seed"] + 1}
    return _synthetic_config(train, data), _synthetic_config(val, data)


def _synthetic_config(options: Options, data: DataConfig) -> Options:
    """``config`` given as a YAML mapping -> SynthConfig, rendered at the training size by default."""
    render = {"height": data.height, "width": data.width, **options.get("config", {})}
    try:
        return {**options, "config": SynthConfig(**render)}
    except TypeError as exc:
        raise ValueError(f"data options: bad synthetic config {render}: {exc}") from exc


def _synthetic_evaluation(root: Path | None, split: Path | None, sequences: int, seed: int) -> Options:
    return {"num_sequences": sequences, "seed": seed}


BAG_CACHE_DIR = "bag_frames"  # in the run folder: the frames chosen from the bags (reused on --resume)


def _rosbag_train_val(data: DataConfig, run_dir: Path, train: Options, val: Options) -> tuple[Options, Options]:
    """One frame cache in the run folder; the train part and the held-back part (the last
    ``val_fraction`` of each bag's time) are cut from it. ``data.path`` (a bag or a folder of bags)
    is used when ``options.bags`` is not given; validation inherits the training options."""
    if "bags" not in train:
        if data.path is None:
            raise ValueError("the rosbag dataset needs bags: pass --data BAG (or a folder of bags) or set "
                             "data.options.bags")
        train = {**train, "bags": [data.path]}
    train = {**train, "frames_dir": run_dir / BAG_CACHE_DIR, "part": "train"}
    return train, {**train, "epoch_length": None, **val, "part": "val"}


def _rosbag_dataset(**options: Any) -> SampleDataset:
    """RosbagDataset, imported on first use: only bags need `rosbags`, so training on files runs without it."""
    from semdepth_training.datasets.rosbag import RosbagDataset

    return RosbagDataset(**options)


def _rosbag_evaluation(root: Path | None, split: Path | None, sequences: int, seed: int) -> Options:
    raise ValueError("a rosbag is evaluated against its LiDAR or depth topic with `semdepth eval-bag BAG`")


DATASETS: dict[str, DatasetKind] = {
    "kitti": DatasetKind(KittiRawDataset, _kitti_train_val, _kitti_evaluation),
    "folder": DatasetKind(ImageFolderDataset, _folder_train_val, _folder_evaluation),
    "synthetic": DatasetKind(SyntheticDataset, _synthetic_train_val, _synthetic_evaluation, needs_root=False),
    "rosbag": DatasetKind(_rosbag_dataset, _rosbag_train_val, _rosbag_evaluation, needs_root=False),
}


def _kind(name: str) -> DatasetKind:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset kind {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def build_dataset(kind: str, **options: Any) -> SampleDataset:
    """Construct a dataset by name; ``options`` are the class's constructor arguments.

    - ``"kitti"``: :class:`KittiRawDataset` (root, split_file, ext, intrinsics, ...)
    - ``"folder"``: :class:`ImageFolderDataset` (root, stride, ...)
    - ``"synthetic"``: :class:`SyntheticDataset` (num_sequences, config, ...)
    - ``"rosbag"``: :class:`RosbagDataset` (cache_dir, part, val_fraction, bags, topics, frame selection)

    All take height, width, frame_ids, augment and seed.
    """
    return _kind(kind).dataset(**options)


def build_train_val(data: DataConfig, seed: int, run_dir: Path, validate: bool = True,
                    progress: bool = True) -> tuple[SampleDataset, SampleDataset | None]:
    """Training set (augmented) and validation set (None without one, or when ``validate`` is off)
    of ``data.dataset``; ``data.options`` / ``data.val_options`` go to the constructors as given.
    With ``data.cache_dir`` both read their frames through one :class:`FrameCache`, built here
    (``progress``: show its progress bar)."""
    kind = _kind(data.dataset)
    if kind.needs_root and data.path is None:
        raise ValueError(f"data.path is required for dataset {data.dataset!r} "
                         "(the KITTI raw root or the image-folder root); pass --data PATH")
    common = {"height": data.height, "width": data.width, "frame_ids": tuple(data.frame_ids)}
    train, val = kind.train_val(data, run_dir, {**common, "augment": True, "seed": seed, **data.options},
                                {**common, "augment": False, "seed": seed, **data.val_options})
    train_set = _build(kind, train, "data.options")
    val_set = _build(kind, val, "data.val_options") if val is not None and validate else None
    if data.cache_dir is not None:
        cache = FrameCache(data.cache_dir, data.width, data.height, int(data.cache_max_gb * 1e9))
        cache.prepare([p for d in (train_set, val_set) if d is not None for p in d.image_files()],
                      max(data.num_workers, 1), progress)
        for dataset in (train_set, val_set):
            if dataset is not None:
                dataset.use_cache(cache)
    return train_set, val_set


def build_eval_dataset(kind: str, root: str | Path | None, height: int, width: int, split: str | Path | None = None,
                       synthetic_sequences: int = 2, seed: int = 1) -> SampleDataset:
    """The target frames of a dataset (no neighbours), sized for a network of ``height`` x ``width``.

    The synthetic world uses ``seed`` (training uses 0, so the default 1 is held-out data).
    """
    spec = _kind(kind)
    if spec.needs_root and root is None:
        raise ValueError(f"a dataset root is required for kind {kind!r}")
    options = spec.evaluation(root, split, synthetic_sequences, seed)
    return spec.dataset(height=height, width=width, frame_ids=(0,), **options)


def _build(kind: DatasetKind, options: Options, key: str) -> SampleDataset:
    try:
        return kind.dataset(**options)
    except TypeError as exc:  # an option the dataset class does not take
        raise ValueError(f"{key}: {exc}") from exc
