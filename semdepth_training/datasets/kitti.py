"""KITTI raw in its standard layout, driven by a Monodepth2-format split file.

Layout: ``<root>/<date>/<date>_drive_<nnnn>_sync/image_02/data/<frame:010d>.png|jpg`` ('l' = image_02,
'r' = image_03), calibration in ``<root>/<date>/calib_cam_to_cam.txt``, optional pseudo labels in
``.../image_02/fg_mask/<frame:010d>.png``, and depth_gt from ``velodyne_points/data/<frame>.bin`` when
the scan is there (sparse, nearest-resized; projected by `velodyne_gt` through `semdepth_ros.lidar`, the
one LiDAR projection, which the evaluation's ground truth and eval-bag use too). Everything the split needs is checked when the dataset is
built, so a missing file fails at start-up rather than hours into training.

Targets whose neighbours (``frame_ids``) are not on disk, i.e. the first/last frames of a drive, are
skipped and counted in ``num_skipped``; a missing target frame is an error.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from semdepth_ros.intrinsics import kitti_like_intrinsics
from semdepth_ros.imageio import read_mask
from semdepth_ros.kitti_calib import camera_calibration, read_calib_file
from semdepth_ros.lidar import project_to_depth
from semdepth_training.datasets.base import FRAME_IDS, RawSample, SampleDataset, read_class_maps
from semdepth_ros.kitti_split import SplitEntry, read_split

LOG = logging.getLogger(__name__)

CAMERA_FOLDERS = {"l": "image_02", "r": "image_03"}
CALIB_KEYS = {"l": "P_rect_02", "r": "P_rect_03"}
EXTENSIONS = ("png", "jpg")
INTRINSICS_MODES = ("monodepth2", "calib")


def calib_intrinsics(date_dir: Path, side: str) -> np.ndarray:
    """3x3 K in pixels of the rectified images, from P_rect_02 ('l') or P_rect_03 ('r')."""
    path = date_dir / "calib_cam_to_cam.txt"
    key = CALIB_KEYS[side]
    values = read_calib_file(path).get(key)
    if values is None or values.size != 12:
        raise ValueError(f"{path}: no valid {key} (12 numbers) entry")
    return values.reshape(3, 4)[:, :3]


class KittiRawDataset(SampleDataset):
    """Targets from a split file; ``intrinsics`` is "monodepth2" (the fixed normalised K every
    KITTI paper uses) or "calib" (the drive date's P_rect, exact per camera). ``velodyne_gt=False``
    saves the per-sample scan projection when depth_gt is not needed or comes from elsewhere."""

    def __init__(self, root: str | Path, split_file: str | Path, height: int = 192, width: int = 640,
                 frame_ids: tuple[int, ...] = FRAME_IDS, augment: bool = False, seed: int = 0,
                 ext: str = "png", intrinsics: str = "monodepth2", velodyne_gt: bool = True,
                 reverse_time: bool = False) -> None:
        super().__init__(height, width, frame_ids, augment, seed, reverse_time)
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"KITTI root not found: {self.root}")
        if ext not in EXTENSIONS:
            raise ValueError(f"ext must be one of {EXTENSIONS}; got {ext!r}")
        if intrinsics not in INTRINSICS_MODES:
            raise ValueError(f"intrinsics must be one of {INTRINSICS_MODES}; got {intrinsics!r}")
        self.ext = ext
        self.intrinsics = intrinsics
        self.velodyne_gt = velodyne_gt
        self.entries, self.num_skipped = self._usable_entries(read_split(split_file), str(split_file))
        if self.num_skipped:
            LOG.warning("skipped %d of %d split entries without neighbour frames %s on disk",
                        self.num_skipped, self.num_skipped + len(self.entries), self.frame_ids)
        self._calib: dict[tuple[str, str], np.ndarray] = {}
        if intrinsics == "calib":
            for entry in self.entries:
                self._calib_K(entry)

    def _usable_entries(self, entries: list[SplitEntry], split_name: str) -> tuple[list[SplitEntry], int]:
        """Drop entries missing a neighbour; raise on a missing target (one listdir per drive)."""
        available: dict[tuple[str, str], set[int]] = {}
        usable = []
        for entry in entries:
            key = (entry.folder, entry.side)
            if key not in available:
                available[key] = self._frames_on_disk(entry, split_name)
            frames = available[key]
            if entry.frame not in frames:
                path = self.frame_path(entry, entry.frame)
                hint = [p.suffix for p in path.parent.glob(f"{entry.frame:010d}.*")]
                raise FileNotFoundError(f"frame file missing: {path} (listed in {split_name})"
                                        + (f"; found {hint[0]}: set ext accordingly" if hint else ""))
            if all(entry.frame + f in frames for f in self.frame_ids):
                usable.append(entry)
        return usable, len(entries) - len(usable)

    def _frames_on_disk(self, entry: SplitEntry, split_name: str) -> set[int]:
        folder = self.frame_path(entry, entry.frame).parent
        if not folder.is_dir():
            raise FileNotFoundError(f"KITTI image folder missing: {folder} (listed in {split_name})")
        return {int(p.stem) for p in folder.glob(f"*.{self.ext}") if p.stem.isdigit()}

    def camera_dir(self, entry: SplitEntry) -> Path:
        """``.../<drive>/image_0c``: images in ``data/``, pseudo labels in ``fg_mask/``."""
        return self.root / entry.folder / CAMERA_FOLDERS[entry.side]

    def frame_path(self, entry: SplitEntry, frame: int) -> Path:
        return self.camera_dir(entry) / "data" / f"{frame:010d}.{self.ext}"

    def _calib_K(self, entry: SplitEntry) -> np.ndarray:
        date = entry.folder.split("/")[0]
        key = (date, entry.side)
        if key not in self._calib:
            self._calib[key] = calib_intrinsics(self.root / date, entry.side)
        return self._calib[key]

    def __len__(self) -> int:
        return len(self.entries)

    def image_files(self) -> list[Path]:
        return sorted({self.frame_path(e, e.frame + f) for e in self.entries for f in self.frame_ids})

    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        entry = self.entries[index]
        images, (width, height) = self.read_frames({f: self.frame_path(entry, entry.frame + f)
                                                    for f in self.frame_ids}, size)
        K = self._calib_K(entry) if self.intrinsics == "calib" else kitti_like_intrinsics(width, height)
        mask_path = self.camera_dir(entry) / "fg_mask" / f"{entry.frame:010d}.png"
        fg_mask = read_mask(mask_path) if mask_path.is_file() else None
        scan_path = self.root / entry.folder / "velodyne_points" / "data" / f"{entry.frame:010d}.bin"
        depth = velodyne_gt(self.root, entry) if self.velodyne_gt and scan_path.is_file() else None
        classes = read_class_maps({f: self.camera_dir(entry) / "classes" / f"{entry.frame + f:010d}.png"
                                   for f in self.frame_ids})
        return RawSample(images=images, K=K, fg_mask=fg_mask, depth=depth, classes=classes,
                         image_size=(width, height))


# --- Velodyne ground truth ---------------------------------------------------------------------

def camera_index(entry: SplitEntry) -> int:
    """2 for the left colour camera ('l', image_02), 3 for the right one."""
    return int(CAMERA_FOLDERS[entry.side][-1])


def velodyne_depth_map(calib_dir: str | Path, velo_path: str | Path, camera: int = 2) -> np.ndarray:
    """Sparse [H, W] float32 depth (metres, 0 = no point) of one Velodyne scan in camera ``camera``.

    The convention every paper of docs/references.md reports against (Eigen et al. 2014, as exported by
    Monodepth2): the calibration chain P_rect_0c @ R_rect_00 @ [R|T]_velo->cam at the rectified size
    S_rect_0c, points behind the scanner (x_velo < 0) dropped, then `semdepth_ros.lidar.project_to_depth`
    with the "kitti" pixel convention (round(x) - 1, nearest depth per pixel), the projection eval-bag
    uses for bags made by kitti2bag.
    """
    calib = camera_calibration(calib_dir, camera)
    if calib.size is None:
        raise ValueError(f"{Path(calib_dir) / 'calib_cam_to_cam.txt'}: no S_rect_0{camera} (rectified image size)")
    scan = np.fromfile(velo_path, dtype=np.float32).reshape(-1, 4).astype(np.float64)
    scan = scan[scan[:, 0] >= 0]
    width, height = calib.size
    return project_to_depth(scan[:, :3], calib.t_camera_velodyne, calib.k, height, width, "kitti")


def velodyne_gt(root: str | Path, entry: SplitEntry) -> np.ndarray:
    """Velodyne GT of a split entry; calibration is per date folder as KITTI raw ships it."""
    root = Path(root)
    date = entry.folder.split("/")[0]
    scan = root / entry.folder / "velodyne_points" / "data" / f"{entry.frame:010d}.bin"
    if not scan.is_file():
        raise FileNotFoundError(f"Velodyne scan missing: {scan} (download the KITTI raw drive "
                                f"{entry.folder} with its velodyne_points)")
    return velodyne_depth_map(root / date, scan, camera_index(entry))
