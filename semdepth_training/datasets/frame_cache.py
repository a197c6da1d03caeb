"""Decoded frames at the training size on disk, memory-mapped: each PNG/JPEG is decoded once, not
every epoch (``data.cache_dir``).

Per source folder and training size W x H, the cache folder holds ``<name>_<W>x<H>_<hash>.npy``
(rows [N,H,W,3] uint8, exactly what decoding and :func:`resize_image` give) and a ``.json`` index
beside it (per file name: its row, byte size, modification time in ns and stored width/height). A
row is valid while its file keeps that size and modification time: :meth:`FrameCache.prepare`
decodes only new and changed files (rows never move, so a reader's index stays right while another
process extends the folder's file) and shows a progress bar. The total size of the cache folder is
bounded: a folder that does not fit is read from its files as without a cache. Each folder is built
under a file lock, so processes sharing the cache (torchrun ranks) build it once.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.imageio import read_rgb

LOG = logging.getLogger(__name__)
FORMAT_VERSION = 1


def resize_image(array: np.ndarray, width: int, height: int, nearest: bool = False) -> np.ndarray:
    """``array`` at width x height: area averaging when shrinking, bilinear when enlarging, nearest
    (exact) for labels; the array itself when it already has that size."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    shrinking = array.shape[1] >= width and array.shape[0] >= height
    if nearest:
        interpolation = cv2.INTER_NEAREST_EXACT
    else:
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=interpolation)


@dataclass(frozen=True)
class _Entry:
    """Where a source file's frame lives: cache file stem, row, and the file's stored size."""

    stem: str
    row: int
    stored: tuple[int, int]


class FrameCache:
    """Resized frames of image files under ``root``, for one training size ``(width, height)``.

    ``max_bytes`` bounds the ``.npy`` files of the whole cache folder. :meth:`prepare` (in the main
    process, before the loader workers start) builds and indexes; :meth:`get` (in the workers) reads.
    """

    def __init__(self, root: str | os.PathLike, width: int, height: int, max_bytes: int) -> None:
        self.root = Path(root)
        self.size = (width, height)
        self.max_bytes = max_bytes
        self._entries: dict[str, _Entry] = {}
        self._arrays: dict[str, np.ndarray] = {}  # opened lazily in each process

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_arrays": {}}  # memory maps are reopened, never pickled

    @property
    def frame_bytes(self) -> int:
        return self.size[0] * self.size[1] * 3

    def prepare(self, files: Iterable[str | os.PathLike], workers: int = 0, progress: bool = True) -> None:
        """Make every file of ``files`` readable through :meth:`get` (except folders over the size
        bound): decode what is missing or changed with ``workers`` threads and a progress bar."""
        self.root.mkdir(parents=True, exist_ok=True)
        folders: dict[Path, set[str]] = defaultdict(set)
        for path in files:
            path = Path(os.path.abspath(path))
            folders[path.parent].add(path.name)
        # First pass for the progress bar's total; each folder is planned again under its lock
        # right before it is built (another process may have built it meanwhile).
        planned = [self._plan(folder, _stem(folder, self.size), names) for folder, names in sorted(folders.items())]
        to_decode = sum(len(plan.decode) for plan in planned if plan.fits)
        bar = tqdm(total=to_decode, desc=f"frame cache {self.size[0]}x{self.size[1]}", unit="frame",
                   disable=not progress or to_decode == 0, dynamic_ncols=True)
        skipped = 0
        with bar, ThreadPoolExecutor(max(workers, 1)) as pool:
            for folder, names in sorted(folders.items()):
                stem = _stem(folder, self.size)
                with self._lock(stem):
                    plan = self._plan(folder, stem, names)
                    if plan.fits:
                        self._register(folder, stem, self._build(plan, pool, bar))
                    else:
                        skipped += 1
        if skipped:
            LOG.warning("frame cache %s is full (max %.1f GB): %d of %d folders are read from their files",
                        self.root, self.max_bytes / 1e9, skipped, len(folders))

    def get(self, path: str | os.PathLike) -> tuple[np.ndarray, tuple[int, int]] | None:
        """(HxWx3 uint8 frame, stored (width, height) of the file), or None when not cached."""
        entry = self._entries.get(os.path.abspath(path))
        if entry is None:
            return None
        array = self._arrays.get(entry.stem)
        if array is None:
            array = self._arrays[entry.stem] = np.load(self.root / f"{entry.stem}.npy", mmap_mode="r")
        return np.array(array[entry.row]), entry.stored

    # ------------------------------------------------------------------ building
    def _plan(self, folder: Path, stem: str, names: set[str]) -> "_Plan":
        """Which rows stay, which files to decode (new or changed) and into which rows."""
        frames = _read_index(self.root / f"{stem}.json", folder, self.size)
        decode: dict[str, int] = {}
        rows = len(frames)
        for name in sorted(names):
            stat = os.stat(folder / name)
            known = frames.get(name)
            if known is None:
                decode[name], rows = rows, rows + 1
            elif (known["bytes"], known["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
                decode[name] = known["row"]
        others = sum(p.stat().st_size for p in self.root.glob("*.npy") if p.stem != stem)
        return _Plan(folder, stem, frames, decode, rows, others + rows * self.frame_bytes <= self.max_bytes)

    def _build(self, plan: "_Plan", pool: ThreadPoolExecutor, bar: tqdm) -> dict[str, dict]:
        """Write the folder's file (a new one when rows are added) and index; returns the index."""
        npy, index_path = self.root / f"{plan.stem}.npy", self.root / f"{plan.stem}.json"
        if not plan.decode:
            return plan.frames
        for stale in self.root.glob(f"{plan.stem}.*.tmp"):  # left by a killed build (we hold the lock)
            stale.unlink()
        old_rows = len(plan.frames)
        grow = plan.rows != old_rows or not npy.is_file()
        tmp = self.root / f"{plan.stem}.npy.{os.getpid()}.tmp"
        if grow:
            array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(plan.rows, *self.size[::-1], 3))
            if old_rows:
                array[:old_rows] = np.load(npy, mmap_mode="r")[:old_rows]
        else:
            array = np.load(npy, mmap_mode="r+")
        frames = dict(plan.frames)
        width, height = self.size
        paths = {name: plan.folder / name for name in plan.decode}
        for name, (image, stored, stat) in zip(paths, pool.map(lambda p: _decode(p, width, height), paths.values())):
            row = plan.decode[name]
            array[row] = image
            frames[name] = {"row": row, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                            "width": stored[0], "height": stored[1]}
            bar.update()
        array.flush()
        del array
        if grow:
            os.replace(tmp, npy)
        _write_index(index_path, plan.folder, self.size, frames)
        return frames

    def _register(self, folder: Path, stem: str, frames: dict[str, dict]) -> None:
        for name, info in frames.items():
            self._entries[str(folder / name)] = _Entry(stem, info["row"], (info["width"], info["height"]))
        self._arrays.pop(stem, None)

    @contextmanager
    def _lock(self, stem: str) -> Iterator[None]:
        with open(self.root / f"{stem}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Plan:
    folder: Path
    stem: str
    frames: dict[str, dict]  # valid rows kept: name -> index entry
    decode: dict[str, int]   # name -> row to (re)write
    rows: int
    fits: bool


def _stem(folder: Path, size: tuple[int, int]) -> str:
    """Readable and unique: the folder's last names, the size, and a hash of the absolute path."""
    digest = hashlib.sha1(f"{folder}|{size[0]}x{size[1]}|{FORMAT_VERSION}".encode()).hexdigest()[:12]
    readable = "_".join(folder.parts[-3:])
    return f"{readable}_{size[0]}x{size[1]}_{digest}"


def _decode(path: Path, width: int, height: int) -> tuple[np.ndarray, tuple[int, int], os.stat_result]:
    stat = os.stat(path)  # before reading: a file changed meanwhile is decoded again next time
    image = read_rgb(path)
    return resize_image(image, width, height), (image.shape[1], image.shape[0]), stat


def _read_index(path: Path, folder: Path, size: tuple[int, int]) -> dict[str, dict]:
    """The valid part of an index file ({} when missing, unreadable, or for another folder/size)."""
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if (index.get("version"), index.get("folder"), index.get("size")) != (FORMAT_VERSION, str(folder), list(size)):
        return {}
    frames = index["frames"]
    try:
        shape = np.load(path.with_suffix(".npy"), mmap_mode="r").shape
    except (OSError, ValueError):
        return {}
    if shape[1:] != (size[1], size[0], 3) or shape[0] < len(frames):
        return {}
    return frames


def _write_index(path: Path, folder: Path, size: tuple[int, int], frames: dict[str, dict]) -> None:
    tmp = path.parent / f"{path.name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"version": FORMAT_VERSION, "folder": str(folder), "size": list(size),
                               "frames": frames}))
    os.replace(tmp, path)
