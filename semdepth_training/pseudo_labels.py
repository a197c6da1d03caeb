"""Binary foreground pseudo labels from semantic segmentations (Semantic-Guided Representation
Enhancement, Sec. 5.1, App. C.2 Table 7).

That paper trains its semantic branch on the output of an off-the-shelf Cityscapes model reduced to
foreground / background. This module does that reduction and stores the result where the datasets
read it: KITTI ``.../image_02/fg_mask/<frame>.png``, image folders ``<sequence>/fg_mask/<stem>.png``
(0/255). The full train-id map is kept beside it in ``classes/`` for the per-class evaluation.

Train ids come from PNGs the user already has, or from their own segmentation model through a hook:
``module:function`` (a Python callable HxWx3 uint8 RGB -> HxW train ids) or a model file: TorchScript
(``torch.jit.save``) or ``torch.export`` (``.pt2``), taking a 1x3xHxW float RGB tensor in [0, 1] and
returning 1xCxHxW class scores (argmax taken) or a 1xHxW / HxW train-id map; a dict output uses "out".
"""
from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np
import torch
from tqdm import tqdm

from semdepth_ros.classes import CITYSCAPES_TRAIN_IDS, IGNORE_ID, foreground_from_train_ids
from semdepth_ros.imageio import read_rgb, read_train_ids
from semdepth_ros.kitti_split import read_split
from semdepth_ros.predictor import Predictor
from semdepth_training.datasets.image_folder import IMAGE_SUFFIXES, ImageFolderDataset
from semdepth_training.datasets.kitti import CAMERA_FOLDERS

Segmenter = Callable[[np.ndarray], np.ndarray]
KINDS = ("kitti", "folder")


class LabelError(ValueError):
    """A label map that is not a Cityscapes train-id map; the message names the file or source."""


@dataclass(frozen=True)
class LabelTarget:
    """One image and where its labels go (both beside the image's folder)."""

    image: Path
    fg_mask: Path
    classes: Path


def _beside(image: Path, folder: Path) -> LabelTarget:
    return LabelTarget(image, folder / "fg_mask" / f"{image.stem}.png", folder / "classes" / f"{image.stem}.png")


def kitti_targets(root: str | os.PathLike, split: str | os.PathLike | None = None) -> list[LabelTarget]:
    """KITTI raw images (`<date>/<drive>/image_0[23]/data/*`), all of them or those of a split file."""
    root = Path(root)
    if split is None:
        images = sorted(p for p in root.glob("*/*/image_0[23]/data/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        images = []
        for entry in read_split(split):
            data = root / entry.folder / CAMERA_FOLDERS[entry.side] / "data"
            found = [p for p in (data / f"{entry.frame:010d}{s}" for s in IMAGE_SUFFIXES) if p.is_file()]
            if not found:
                raise FileNotFoundError(f"no image for split entry {entry.folder} {entry.frame} in {data}")
            images.append(found[0])
    return [_beside(image, image.parent.parent) for image in images]


def folder_targets(root: str | os.PathLike) -> list[LabelTarget]:
    """Every image of every sequence of an image-folder dataset (docs/interfaces.md layout)."""
    dataset = ImageFolderDataset(root, frame_ids=(0,))
    return [_beside(image, seq.folder) for seq in dataset.sequences for image in seq.images]


def find_targets(kind: str, root: str | os.PathLike, split: str | os.PathLike | None = None) -> list[LabelTarget]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return kitti_targets(root, split) if kind == "kitti" else folder_targets(root)


def check_train_ids(ids: np.ndarray, source: str) -> np.ndarray:
    """Reject maps that are colour images or Cityscapes label ids (0-33) instead of train ids."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise LabelError(f"{source}: expected a single-channel HxW train-id map, got shape {ids.shape}")
    valid = (ids < len(CITYSCAPES_TRAIN_IDS)) | (ids == IGNORE_ID)
    if ids.size and (ids.min() < 0 or not valid.all()):
        bad = np.unique(ids[~valid | (ids < 0)])[:5]
        raise LabelError(f"{source}: values {bad.tolist()} are not Cityscapes train ids (0-18, 255 = "
                         "ignore); label ids (0-33) must be converted to train ids first")
    return ids.astype(np.uint8)


def write_labels(target: LabelTarget, train_ids: np.ndarray, keep_classes: bool = True) -> None:
    """fg_mask PNG (0/255; 255 = the foreground classes of Semantic-Guided Representation Enhancement,
    Table 7) and optionally the train-id PNG."""
    target.fg_mask.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target.fg_mask), foreground_from_train_ids(train_ids) * np.uint8(255))
    if keep_classes:
        target.classes.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target.classes), train_ids)


def read_train_id_png(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A train-id PNG resized (nearest) to ``size`` = (height, width)."""
    ids = check_train_ids(read_train_ids(path), str(path))
    if ids.shape != size:
        ids = cv2.resize(ids, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return ids


def labels_from_pngs(targets: Iterable[LabelTarget], root: str | os.PathLike,
                     labels_root: str | os.PathLike | None = None, keep_classes: bool = True) -> int:
    """Convert existing train-id PNGs; returns how many images were labelled.

    ``labels_root`` mirrors the dataset (`<labels_root>/<image path relative to root>` with .png);
    without it the PNGs are expected in ``classes/`` beside the images already.
    """
    count = 0
    for target in tqdm(list(targets), desc="pseudo labels", unit="image"):
        source = (Path(labels_root) / target.image.relative_to(root)).with_suffix(".png") \
            if labels_root is not None else target.classes
        ids = read_train_id_png(source, read_rgb(target.image).shape[:2])
        write_labels(target, ids, keep_classes and source != target.classes)
        count += 1
    return count


def _load_model_file(path: Path, device: torch.device) -> torch.nn.Module:
    if path.suffix == ".pt2":
        return torch.export.load(str(path)).module().to(device)
    with warnings.catch_warnings():  # TorchScript is deprecated, but it is what many users have
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location=device).eval()


def load_segmenter(spec: str, device: str = "cpu") -> Segmenter:
    """The user's segmentation model from ``module:function`` or a TorchScript / .pt2 file path."""
    path = Path(spec)
    if path.is_file():
        dev = torch.device(device)
        model = _load_model_file(path, dev)

        def run_model(image: np.ndarray) -> np.ndarray:
            tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0).to(dev)
            with torch.inference_mode():
                out = model(tensor)
            out = out["out"] if isinstance(out, dict) else out
            if out.ndim == 4 and out.shape[1] > 1:
                out = out.argmax(1)
            out = out.squeeze()
            return (out.round() if out.is_floating_point() else out).to(torch.int64).cpu().numpy()

        return run_model
    module_name, sep, function = spec.partition(":")
    if not sep or not module_name or not function:
        raise ValueError(f"segmenter {spec!r} is neither a model file nor 'module:function'")
    return getattr(importlib.import_module(module_name), function)


def labels_from_checkpoint(targets: Iterable[LabelTarget], checkpoint: str | os.PathLike,
                           device: str = "cpu") -> int:
    """Foreground masks from a semdepth checkpoint's own semantic head (no class ids, so no ``classes/``).

    Why: with no segmentation model for real images, the synthetically pre-trained network's masks are
    the labels that keep its semantic head alive while depth fine-tunes on real video (as ``semdepth
    adapt`` does with the initial network). They are pseudo labels, never ground truth.
    """
    predictor = Predictor.load(checkpoint, device)
    if not predictor.meta.model_config.semantic:
        raise LabelError(f"{checkpoint}: this checkpoint has no semantic head, so it gives no foreground")
    count = 0
    for target in tqdm(list(targets), desc="foreground from checkpoint", unit="image"):
        image = read_rgb(target.image)
        mask = predictor.predict(image, output="input", with_points=False).mask
        target.fg_mask.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target.fg_mask), mask.astype(np.uint8) * np.uint8(255))
        count += 1
    return count


def labels_from_model(targets: Iterable[LabelTarget], segmenter: Segmenter, keep_classes: bool = True) -> int:
    """Run ``segmenter`` on every image and store its labels; returns how many images were labelled."""
    count = 0
    for target in tqdm(list(targets), desc="segmenting", unit="image"):
        image = read_rgb(target.image)
        ids = check_train_ids(np.asarray(segmenter(image)), f"segmenter output for {target.image}")
        if ids.shape != image.shape[:2]:
            ids = cv2.resize(ids, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        write_labels(target, ids, keep_classes)
        count += 1
    return count
