"""The one sample builder every dataset shares, so KITTI, folders and synthetic data train alike.

A dataset only loads frames (:class:`RawSample`): full resolution for evaluation, or resized to the
training size (from the resized-frame cache when one is set, :mod:`frame_cache`). For training,
:class:`SampleDataset` returns a compact sample (:func:`compact_sample`: uint8 frames at the training
size, the augmentation parameters, intrinsics per scale, labels with validity flags), which
:func:`semdepth_training.datasets.batch.expand_batch` turns into the sample dict of docs/interfaces.md
batched on the training device. Random choices come from (seed, epoch, index) alone, so a resumed run
sees exactly the augmentations the killed run would have seen, whatever the worker layout.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from semdepth_ros.classes import IGNORE_ID, TRAIN_ID
from semdepth_ros.geometry import intrinsics_4x4
from semdepth_ros.imageio import read_rgb, read_train_ids
from semdepth_training.datasets.augment import JitterParams, jitter_vector, sample_jitter
from semdepth_training.datasets.batch import NUM_SCALES, expand_sample
from semdepth_training.datasets.frame_cache import FrameCache, resize_image

FRAME_IDS = (0, -1, 1)
FLIP_PROBABILITY = 0.5
JITTER_PROBABILITY = 0.5
REVERSE_PROBABILITY = 0.5
SIZE_MULTIPLE = 32  # the encoder downsamples by 32

Sample = dict[Any, Any]


@dataclass
class RawSample:
    """One target frame and its neighbours as loaded from disk (full resolution, or already resized).

    ``K`` is 3x3 in pixels of the stored images, whose size (width, height) is ``image_size`` when the
    images were resized since (None: the images' own size). ``fg_mask`` (uint8 {0, 1}) and ``depth``
    (metres, 0 = invalid) belong to the target frame, at full resolution, and are None when the
    source has none. ``poses`` (camera-to-world 4x4 per frame id, e.g. robot odometry) are optional too,
    and so are ``classes``: Cityscapes train-id maps (uint8, 255 = ignore, full resolution) of every
    frame id, for the SIGNet variant's input and losses (docs/variants.md) and the sky of pre-training
    (:attr:`sky`).
    """

    images: dict[int, np.ndarray]  # frame id -> HxWx3 uint8 RGB
    K: np.ndarray
    fg_mask: np.ndarray | None = None
    depth: np.ndarray | None = None
    poses: dict[int, np.ndarray] | None = None
    classes: dict[int, np.ndarray] | None = None
    image_size: tuple[int, int] | None = None

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the images K is in pixels of."""
        return self.image_size or (self.images[0].shape[1], self.images[0].shape[0])

    @property
    def sky(self) -> np.ndarray | None:
        """uint8 {0, 1} target pixels that see the sky (class sky, no depth: farther than any depth
        range), None without both depth and class labels. Pre-training teaches them as far."""
        if self.depth is None or self.classes is None:
            return None
        return ((self.classes[0] == TRAIN_ID["sky"]) & (self.depth <= 0)).astype(np.uint8)


def check_size(height: int, width: int) -> None:
    """Reject network input sizes the encoder/decoder cannot round-trip."""
    if height <= 0 or width <= 0 or height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        raise ValueError(f"height and width must be positive multiples of {SIZE_MULTIPLE} (the encoder "
                         f"downsamples by {SIZE_MULTIPLE}); got height={height}, width={width}")


def scaled_intrinsics(K: np.ndarray, image_width: int, image_height: int, width: int, height: int,
                      flip: bool = False) -> list[np.ndarray]:
    """3x3 K for each scale, Monodepth2 convention: normalise by the image size, multiply by the
    scale's size (no half-pixel offset, so the fixed KITTI K keeps cx = W/2 at every scale).

    In that convention a horizontal flip maps cx -> W - cx and negates the skew.
    """
    k_norm = np.array(K, dtype=np.float64)
    k_norm[0] /= image_width
    k_norm[1] /= image_height
    if flip:
        k_norm[0, 1] = -k_norm[0, 1]
        k_norm[0, 2] = 1.0 - k_norm[0, 2]
    scaled = []
    for s in range(NUM_SCALES):
        k = k_norm.copy()
        k[0] *= width // 2 ** s
        k[1] *= height // 2 ** s
        scaled.append(k)
    return scaled


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator seeded from (seed, epoch, index) only, so augmentation survives resume."""
    state = np.random.SeedSequence((seed, epoch, index)).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def compact_sample(raw: RawSample, index: int, height: int, width: int, flip: bool = False,
                   jitter: JitterParams | None = None, reverse: bool = False) -> Sample:
    """What a loader worker returns for one target (:mod:`semdepth_training.datasets.batch`): the frames
    resized to the training size as uint8 [3,H,W] (not yet flipped), the flip and jitter parameters,
    and intrinsics, labels and poses as in the sample dict (flipped where ``flip``); ``reverse`` plays
    the frames backwards (see :func:`reverse_time`)."""
    if reverse:
        raw = reverse_time(raw)
    image_width, image_height = raw.stored_size
    sample: Sample = {"index": index, "flip": torch.tensor(flip), "jitter": jitter_vector(jitter)}
    for frame_id, image in raw.images.items():
        sample[("image", frame_id)] = torch.from_numpy(resize_image(image, width, height)).permute(2, 0, 1)
    for s, k in enumerate(scaled_intrinsics(raw.K, image_width, image_height, width, height, flip)):
        k4 = intrinsics_4x4(k)
        sample[("K", s)] = torch.from_numpy(k4)
        sample[("inv_K", s)] = torch.from_numpy(np.linalg.inv(k4.astype(np.float64)).astype(np.float32))
    sample["fg_mask"], sample["fg_valid"] = _label(raw.fg_mask, width, height, flip)
    (sample["depth_gt"], sample["depth_valid"]), sample["sky_mask"] = _depth_label(raw.depth, raw.sky, width,
                                                                                  height, flip)
    sample.update(_relative_poses(raw, flip))
    sample.update(_class_maps(raw, width, height, flip))
    return sample


def build_sample(raw: RawSample, index: int, height: int, width: int, flip: bool = False,
                 jitter: JitterParams | None = None, reverse: bool = False) -> Sample:
    """The docs/interfaces.md sample dict of one :class:`RawSample`, on the CPU."""
    return expand_sample(compact_sample(raw, index, height, width, flip, jitter, reverse))


def reverse_time(raw: RawSample) -> RawSample:
    """The same frames played backwards: frame f becomes frame -f (images, poses and class maps).

    A recording seen in reverse is a physically valid drive (the camera reversing through a scene
    with actors moving backwards), so every loss stays valid; a pose net trained on both directions
    must read the motion from the pixels instead of assuming the usual forward drive.
    """
    if set(raw.images) != {-f for f in raw.images}:
        raise ValueError(f"time reversal needs symmetric frame ids, got {sorted(raw.images)}")
    poses = None if raw.poses is None else {-f: pose for f, pose in raw.poses.items()}
    classes = None if raw.classes is None else {-f: ids for f, ids in raw.classes.items()}
    return replace(raw, images={-f: image for f, image in raw.images.items()}, poses=poses, classes=classes)


def _class_maps(raw: RawSample, width: int, height: int, flip: bool) -> Sample:
    """("classes", f) [H,W] uint8 train ids per frame (nearest resize; 255 everywhere without labels;
    :func:`~semdepth_training.datasets.batch.expand_batch` makes them int64) and "classes_valid"."""
    out: Sample = {"classes_valid": torch.tensor(float(raw.classes is not None))}
    for f in raw.images:
        if raw.classes is None:
            out[("classes", f)] = torch.full((height, width), IGNORE_ID, dtype=torch.uint8)
            continue
        ids = raw.classes[f][:, ::-1] if flip else raw.classes[f]
        ids = resize_image(np.ascontiguousarray(ids, dtype=np.uint8), width, height, nearest=True)
        out[("classes", f)] = torch.from_numpy(ids)
    return out


def read_class_maps(paths: dict[int, Path]) -> dict[int, np.ndarray] | None:
    """Train-id PNGs per frame id (``classes/<stem>.png`` as `semdepth pseudo-labels` writes them), or
    None unless every one exists."""
    if not all(path.is_file() for path in paths.values()):
        return None
    maps = {}
    for f, path in paths.items():
        ids = read_train_ids(path)
        if ids.ndim != 2:
            raise ValueError(f"{path} is not a single-channel train-id PNG")
        maps[f] = ids.astype(np.uint8)
    return maps


# Mirroring x in the camera frame: a flipped image sequence is the same motion seen in a mirror.
_FLIP_X = np.diag([-1.0, 1.0, 1.0, 1.0])


def _relative_poses(raw: RawSample, flip: bool) -> Sample:
    """("T", f): target -> source transforms from known camera poses, and "pose_valid" (0 without poses).

    X_source = inv(P_source) P_target X_target for camera-to-world poses P; a horizontal flip
    conjugates the transform with the x mirror.
    """
    out: Sample = {"pose_valid": torch.tensor(float(raw.poses is not None))}
    for f in raw.images:
        if f == 0:
            continue
        t = np.eye(4) if raw.poses is None else np.linalg.inv(raw.poses[f]) @ raw.poses[0]
        if flip:
            t = _FLIP_X @ t @ _FLIP_X
        out[("T", f)] = torch.from_numpy(t.astype(np.float32))
    return out


def _depth_label(depth: np.ndarray | None, sky: np.ndarray | None, width: int, height: int,
                 flip: bool) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """(depth_gt, depth_valid) and sky_mask [1,H,W] at the training size (no depth: no sky either).

    Shrinking by a whole factor takes the nearest valid depth of each block (min-pool): a label is
    never blended across a depth edge, it lines up with the area-averaged image (a block's centre,
    not one corner pixel as nearest-neighbour would), and sparse LiDAR keeps every block that has a
    return. A block is sky only where it has no valid depth. Other sizes use nearest neighbour.
    """
    if depth is None:
        sky = None
    elif sky is not None and depth.shape != sky.shape:
        raise ValueError(f"sky mask {sky.shape} and depth {depth.shape} differ in size")
    elif depth.shape != (height, width) and depth.shape[0] % height == 0 and depth.shape[1] % width == 0:
        fy, fx = depth.shape[0] // height, depth.shape[1] // width
        nearest = np.where(depth > 0, depth, np.inf).reshape(height, fy, width, fx).min(axis=(1, 3))
        pooled = np.where(np.isfinite(nearest), nearest, 0.0).astype(np.float32)
        if sky is not None:
            sky = ((sky.reshape(height, fy, width, fx).max(axis=(1, 3)) > 0) & (pooled == 0)).astype(np.uint8)
        depth = pooled
    return _label(depth, width, height, flip), _label(sky, width, height, flip)[0]


def _label(label: np.ndarray | None, width: int, height: int,
           flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """[1,H,W] float32 label (nearest resize keeps 0 = invalid and hard mask edges) and its flag."""
    if label is None:
        return torch.zeros(1, height, width), torch.tensor(0.0)
    if flip:
        label = np.ascontiguousarray(label[:, ::-1])
    resized = resize_image(label, width, height, nearest=True)
    return torch.from_numpy(resized.astype(np.float32)).unsqueeze(0), torch.tensor(1.0)


class SampleDataset(Dataset, ABC):
    """Base for all datasets: subclasses implement ``__len__`` and :meth:`load`, and
    :meth:`image_files` when their frames are files (then a :class:`FrameCache` can hold them).

    ``augment`` turns on flips and colour jitter (training), and with ``reverse_time`` also plays half
    of the samples backwards (:func:`reverse_time`; needs symmetric ``frame_ids``); call
    :meth:`set_epoch` at the start of every epoch (DataLoader workers pick it up when they are
    re-created, i.e. without ``persistent_workers``). Items are compact samples (:func:`compact_sample`),
    expanded batched by :func:`semdepth_training.datasets.batch.expand_batch`.
    """

    def __init__(self, height: int, width: int, frame_ids: tuple[int, ...] = FRAME_IDS,
                 augment: bool = False, seed: int = 0, reverse_time: bool = False) -> None:
        check_size(height, width)
        if 0 not in frame_ids:
            raise ValueError(f"frame_ids must contain the target frame 0; got {frame_ids}")
        self.height = height
        self.width = width
        self.frame_ids = tuple(frame_ids)
        if reverse_time and set(frame_ids) != {-f for f in frame_ids}:
            raise ValueError(f"reverse_time needs symmetric frame_ids such as (0, -1, 1); got {frame_ids}")
        self.augment = augment
        self.seed = seed
        self.reverse_time = reverse_time
        self.epoch = 0
        self.cache: FrameCache | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        """Frames for ``self.frame_ids`` around target ``index``: full resolution, or resized to
        ``size`` (width, height), read through :meth:`read_frames` where they are files."""

    def image_files(self) -> list[Path]:
        """Every image file :meth:`load` reads (none: the frames are not files, e.g. rendered)."""
        return []

    def use_cache(self, cache: FrameCache) -> None:
        """Read frames at the training size through ``cache`` (prepared for :meth:`image_files`;
        files it does not hold are decoded as without it)."""
        if cache.size != (self.width, self.height):
            raise ValueError(f"the frame cache holds {cache.size[0]}x{cache.size[1]} frames, the dataset "
                             f"trains at {self.width}x{self.height}")
        self.cache = cache

    def read_frames(self, paths: dict[int, Path],
                    size: tuple[int, int] | None) -> tuple[dict[int, np.ndarray], tuple[int, int]]:
        """The RGB images at ``paths`` (frame id -> file), full resolution or resized to ``size``, and
        the stored (width, height) of the files."""
        images, stored = {}, None
        for frame_id, path in paths.items():
            cached = self.cache.get(path) if self.cache is not None and size == self.cache.size else None
            if cached is not None:
                images[frame_id], stored = cached
                continue
            image = read_rgb(path)
            stored = (image.shape[1], image.shape[0])
            images[frame_id] = image if size is None else resize_image(image, *size)
        assert stored is not None, "no frames to read"
        return images, stored

    def augmentation(self, index: int) -> tuple[bool, JitterParams | None, bool]:
        """(flip, jitter, reverse) of sample ``index`` this epoch: drawn from (seed, epoch, index) alone
        (reverse only with ``reverse_time``, drawn last so flips and jitter do not depend on it)."""
        if not self.augment:
            return False, None, False
        generator = sample_generator(self.seed, self.epoch, index)
        flip = torch.rand((), generator=generator).item() < FLIP_PROBABILITY
        do_jitter = torch.rand((), generator=generator).item() < JITTER_PROBABILITY
        jitter = sample_jitter(generator) if do_jitter else None
        reverse = self.reverse_time and torch.rand((), generator=generator).item() < REVERSE_PROBABILITY
        return flip, jitter, reverse

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} samples")
        raw = self.load(index, (self.width, self.height))
        return compact_sample(raw, index, self.height, self.width, *self.augmentation(index))


class FrameSubset(SampleDataset):
    """The samples ``keep`` of another dataset, renumbered 0..len-1 (augmentation follows the new index).

    Semantically-Guided Representation Learning, Sec. 4.3 retrains on the training set without the
    frames its first stage mapped to "infinite depth" (semdepth_training.two_stage).
    """

    def __init__(self, dataset: SampleDataset, keep: list[int]) -> None:
        super().__init__(dataset.height, dataset.width, dataset.frame_ids, dataset.augment, dataset.seed,
                         dataset.reverse_time)
        if not keep:
            raise ValueError("no training sample left after the exclusion")
        self.dataset = dataset
        self.keep = list(keep)

    @classmethod
    def excluding(cls, dataset: SampleDataset, excluded: list[int]) -> "FrameSubset":
        bad = [i for i in excluded if not 0 <= i < len(dataset)]
        if bad:
            raise ValueError(f"excluded sample indices {bad[:5]} are outside the training set (0..{len(dataset) - 1}); "
                             "was the list made for this data configuration?")
        dropped = set(excluded)
        return cls(dataset, [i for i in range(len(dataset)) if i not in dropped])

    def __len__(self) -> int:
        return len(self.keep)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.dataset.set_epoch(epoch)  # e.g. synthetic fresh_worlds

    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        return self.dataset.load(self.keep[index], size)

    def image_files(self) -> list[Path]:
        return self.dataset.image_files()

    def use_cache(self, cache: FrameCache) -> None:
        self.dataset.use_cache(cache)


def read_excluded(path: str | Path) -> list[int]:
    """The "excluded" sample indices of a JSON file written by two-stage training."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data.exclude: {path} not found")
    data = json.loads(path.read_text())
    excluded = data.get("excluded") if isinstance(data, dict) else None
    if not isinstance(excluded, list) or not all(isinstance(i, int) for i in excluded):
        raise ValueError(f"{path} must be a JSON object with an 'excluded' list of sample indices")
    return excluded
