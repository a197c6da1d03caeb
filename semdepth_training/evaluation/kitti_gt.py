"""KITTI ground-truth depth for the Eigen test split: raw Velodyne projections or improved GT PNGs.

Velodyne GT is the scan projected by `semdepth_training.datasets.kitti.velodyne_gt` (the one home of
that projection, shared with the training set's depth_gt). Improved GT (Uhrig et al. 2017; Semantic-Guided
Representation Enhancement, Table 10) is the data_depth_annotated uint16 PNG (depth * 256, 0 = none).

Projecting 697 scans takes minutes, so all maps of a split are stored once in one compressed .npz.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_training.datasets.kitti import CAMERA_FOLDERS, velodyne_gt
from semdepth_ros.kitti_split import SplitEntry

GT_SOURCES = ("velodyne", "improved")


def entry_key(entry: SplitEntry) -> str:
    """The identity of an entry inside the GT cache (a cache for another split is rebuilt)."""
    return f"{entry.folder} {entry.frame} {entry.side}"


def improved_gt_path(root: str | os.PathLike, entry: SplitEntry) -> Path:
    """Where the improved GT PNG of an entry lives, trying the layouts users have.

    `<root>/<date>/<drive>/proj_depth/...` (merged into KITTI raw, Monodepth2's layout),
    `<root>/<drive>/proj_depth/...` and the data_depth_annotated zip's
    `<root>/{train,val}/<drive>/proj_depth/...`.
    """
    root = Path(root)
    drive = entry.folder.split("/")[-1]
    tail = Path("proj_depth", "groundtruth", CAMERA_FOLDERS[entry.side], f"{entry.frame:010d}.png")
    candidates = [root / entry.folder / tail, root / drive / tail,
                  root / "train" / drive / tail, root / "val" / drive / tail]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"improved ground truth missing for {entry_key(entry)}; looked for "
                            f"{', '.join(str(c) for c in candidates)}")


def improved_gt(root: str | os.PathLike, entry: SplitEntry) -> np.ndarray:
    """Improved GT depth in metres (uint16 PNG / 256; 0 = no depth)."""
    path = improved_gt_path(root, entry)
    raw = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH)
    if raw is None or raw.dtype != np.uint16:
        raise ValueError(f"{path} is not a 16-bit depth PNG")
    return raw.astype(np.float32) / 256.0


def _loader(source: str) -> Callable[[str | os.PathLike, SplitEntry], np.ndarray]:
    if source not in GT_SOURCES:
        raise ValueError(f"ground truth must be one of {GT_SOURCES}, not {source!r}")
    return velodyne_gt if source == "velodyne" else improved_gt


def _cache_matches(path: Path, entries: Sequence[SplitEntry], source: str) -> bool:
    if not path.is_file():
        return False
    try:
        with np.load(path) as cached:
            return str(cached["source"]) == source and list(cached["keys"]) == [entry_key(e) for e in entries]
    except (OSError, ValueError, KeyError):
        return False


def load_gt_depths(root: str | os.PathLike, entries: Sequence[SplitEntry], source: str = "velodyne",
                   cache_path: str | os.PathLike | None = None) -> Iterable[np.ndarray]:
    """GT depth maps for ``entries`` in order, read from ``cache_path`` when it holds this split.

    Without a usable cache every map is computed once and the cache is written (atomically) before
    returning; the returned maps are then read lazily from it, one decompression per frame.
    ``root`` is the KITTI raw root for Velodyne GT, or the improved GT root.
    """
    load = _loader(source)
    if cache_path is None:
        return (load(root, e) for e in entries)
    cache_path = Path(cache_path)
    if not _cache_matches(cache_path, entries, source):
        maps = {f"depth_{i:05d}": load(root, e)
                for i, e in enumerate(tqdm(entries, desc=f"{source} ground truth", unit="frame"))}
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name(cache_path.name + ".tmp.npz")
        np.savez_compressed(tmp, source=np.array(source), keys=np.array([entry_key(e) for e in entries]), **maps)
        os.replace(tmp, cache_path)
    return _read_cached(cache_path, len(entries))


def _read_cached(path: Path, count: int) -> Iterable[np.ndarray]:
    with np.load(path) as cached:
        for i in range(count):
            yield cached[f"depth_{i:05d}"]
