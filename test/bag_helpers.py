"""Test-made bags and KITTI drives shared by the bag and evaluation tests (real rosbag2 files, KITTI layout)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from semdepth_ros import codec
from semdepth_ros.bag import io as bagio
from semdepth_ros.bag.transforms import invert, make_transform, split_transform, transform_points
from semdepth_ros.geometry import depth_to_points

from kitti_calib_text import CAM_TO_CAM, VELO_TO_CAM

CAMERA = "camera_optical_frame"
T0 = 1_317_000_000_000_000_000  # ns; a KITTI-era stamp


def make_kitti_drive(root: Path, frames: int = 3) -> tuple[Path, list[np.ndarray], list[np.ndarray]]:
    """A tiny drive in KITTI raw's layout: PNGs, .bin scans, timestamps and the date's calibration."""
    date = root / "2011_09_26"
    drive = date / "2011_09_26_drive_0001_sync"
    date.mkdir(parents=True)
    (date / "calib_cam_to_cam.txt").write_text(CAM_TO_CAM)
    (date / "calib_velo_to_cam.txt").write_text(VELO_TO_CAM)
    rng = np.random.default_rng(0)
    images, scans = [], []
    for sensor in ("image_02", "velodyne_points"):
        (drive / sensor / "data").mkdir(parents=True)
        stamps = [f"2011-09-26 13:02:{25 + i}.{964389445 + (3 if sensor == 'image_02' else 0) * 10**6 + i:09d}"
                  for i in range(frames)]
        (drive / sensor / "timestamps.txt").write_text("\n".join(stamps) + "\n")
    for i in range(frames):
        rgb = rng.integers(0, 256, (40, 124, 3), dtype=np.uint8)
        cv2.imwrite(str(drive / "image_02" / "data" / f"{i:010d}.png"), rgb[..., ::-1])
        scan = rng.normal(0, 10, (500 + i, 4)).astype(np.float32)
        scan.tofile(drive / "velodyne_points" / "data" / f"{i:010d}.bin")
        images.append(rgb)
        scans.append(scan)
    return drive, images, scans


def lidar_rig() -> tuple[np.ndarray, np.ndarray]:
    """base_link -> velodyne and base_link -> camera optical frame (x fwd/y left/z up vs REP 103 optical)."""
    base_velo = make_transform([0.8, 0.0, 1.73], [0.0, 0.0, np.sin(0.05), np.cos(0.05)])
    base_cam = np.eye(4)
    base_cam[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]
    base_cam[:3, 3] = [1.05, 0.06, 1.65]
    return base_velo, base_cam


def write_synth_bag(path: Path, frames: list, storage: str = "mcap", with_info: bool = True,
                    distortion: list[float] | None = None) -> Path:
    """Images + camera_info + a 'velodyne' cloud back-projected from the renderer's exact depth."""
    base_velo, base_cam = lidar_rig()
    velo_cam = invert(base_velo) @ base_cam
    with bagio.BagWriter(path, storage) as writer:
        writer.write("/tf_static", bagio.tf_message([("base_link", "velodyne", *split_transform(base_velo)),
                                                     ("base_link", CAMERA, *split_transform(base_cam))], T0), T0)
        for f in frames:
            stamp = T0 + f.index * 100_000_000
            h, w = f.depth.shape
            if with_info:
                writer.write("/camera/camera_info",
                             bagio.camera_info_msg(codec.camera_info_fields(f.K, w, h, distortion), stamp, CAMERA),
                             stamp)
            writer.write("/camera/image_raw", bagio.image_msg(codec.rgb_to_image_fields(f.rgb), stamp, CAMERA), stamp)
            depth = np.where(np.isfinite(f.depth), f.depth, np.nan).astype(np.float32)  # sky: no return
            points = depth_to_points(depth, f.K).reshape(-1, 3).astype(np.float64)
            points = transform_points(velo_cam, points[np.isfinite(points).all(axis=1)])
            cloud = codec.points_to_cloud_fields(points.astype(np.float32), organised=False)
            scan_stamp = stamp + 4_000_000  # LiDAR and camera are never exactly synchronous
            writer.write("/velodyne_points", bagio.cloud_msg(cloud, scan_stamp, "velodyne"), scan_stamp + 1000)
    return path
