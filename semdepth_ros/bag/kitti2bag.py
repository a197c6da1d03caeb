"""KITTI raw drive -> rosbag2, so the KITTI benchmark data can be replayed like a robot's recording.

Topics (all at the drive's own timestamps, bag time = header stamp):
- /camera/image_raw (sensor_msgs/Image rgb8, rectified left colour camera image_02)
- /camera/camera_info (K from P_rect_02, rescaled to the image size if the images were resized; D = 0
  and R = I because the images are already rectified; P = [K | 0] because the stereo baseline is
  carried by the transform below instead)
- /velodyne_points (sensor_msgs/PointCloud2 x, y, z, intensity float32, frame 'velodyne')
- /tf_static (velodyne -> camera_optical_frame, from calib_velo_to_cam R|T, R_rect_00 and the
  P_rect_02 offset of camera 2 from camera 0; with OXTS also imu_link -> velodyne from calib_imu_to_velo)
- when the drive has oxts/: /odom (nav_msgs/Odometry world -> imu_link, the GPS/IMU pose by the devkit's
  Mercator convention in `oxts.py`, twist from the OXTS velocities) and the same pose on /tf, at the OXTS
  stamps, so the camera's trajectory is world -> imu_link -> velodyne -> camera_optical_frame

The bag's metadata.yaml carries marks (`bag/markers.py`): the drive's name, the calibration's rectified
size and /velodyne_points as ground truth, so eval-bag evaluates it exactly as `semdepth evaluate`
evaluates the drive (KITTI projection convention at that size, Garg crop, frame numbers = image indices).

KITTI timestamps are local wall-clock times without a zone; they are stored as if UTC, which keeps
their differences (all that replay and stamp matching use) exact to the nanosecond.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from tqdm import tqdm

from semdepth_ros.bag.io import BagWriter, camera_info_msg, cloud_msg, image_msg, odometry_msg, tf_message
from semdepth_ros.bag.markers import KITTI2BAG, BagMarks
from semdepth_ros.bag.oxts import OxtsError, OxtsTrack, oxts_track, read_packet
from semdepth_ros.bag.transforms import invert, split_transform
from semdepth_ros.codec import FLOAT32, camera_info_fields, rgb_to_image_fields
from semdepth_ros.imageio import read_rgb
from semdepth_ros.intrinsics import rescale_to
from semdepth_ros.kitti_calib import KittiCamera, camera_calibration, rigid_calibration

CAMERA_FRAME = "camera_optical_frame"  # the fixed frame of config/semdepth.rviz
LIDAR_FRAME = "velodyne"
IMU_FRAME = "imu_link"
WORLD_FRAME = "world"
IMAGE_TOPIC = "/camera/image_raw"
INFO_TOPIC = "/camera/camera_info"
LIDAR_TOPIC = "/velodyne_points"
ODOMETRY_TOPIC = "/odom"
TF_TOPIC = "/tf"
IMAGE_EXTENSIONS = (".png", ".jpg")


class KittiError(ValueError):
    """A drive folder that cannot be converted; the message lists everything that is missing."""


def parse_kitti_time(line: str) -> int:
    """'2011-09-26 13:02:25.964389445' -> nanoseconds since the epoch (read as UTC, see module doc)."""
    text = line.strip()
    whole, _, fraction = text.partition(".")
    try:
        seconds = datetime.strptime(whole, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
        nanos = int((fraction or "0")[:9].ljust(9, "0"))
    except ValueError as exc:
        raise KittiError(f"bad KITTI timestamp {text!r} (expected 'YYYY-MM-DD HH:MM:SS.fffffffff')") from exc
    return int(seconds) * 1_000_000_000 + nanos


def read_timestamps(path: Path) -> list[int]:
    return [parse_kitti_time(line) for line in path.read_text().splitlines() if line.strip()]


@dataclasses.dataclass
class KittiDrive:
    """A validated drive: frame files, their timestamps and the calibration of camera 2."""

    path: Path
    images: list[Path]
    image_stamps: list[int]
    scans: list[Path]
    scan_stamps: list[int]
    camera: KittiCamera            # image_02: K, T_camera_velodyne and the rectified size of the calibration
    oxts: OxtsTrack | None = None  # GPS/IMU poses when the drive has oxts/
    oxts_stamps: list[int] = dataclasses.field(default_factory=list)
    t_velodyne_imu: np.ndarray | None = None  # 4x4, maps IMU points into the Velodyne frame

    @classmethod
    def open(cls, drive_dir: str | Path) -> "KittiDrive":
        """Check the whole drive up front; a KittiError names every missing or mismatched piece."""
        path = Path(drive_dir)
        if not path.is_dir():
            raise KittiError(f"KITTI drive folder not found: {path}")
        problems: list[str] = []
        images, image_stamps = _sensor(path / "image_02", IMAGE_EXTENSIONS, problems)
        scans, scan_stamps = _sensor(path / "velodyne_points", (".bin",), problems)
        calib = [path.parent / "calib_cam_to_cam.txt", path.parent / "calib_velo_to_cam.txt"]
        problems += [f"{p} (calibration files live in the date folder above the drive)"
                     for p in calib if not p.is_file()]
        oxts_files, oxts_stamps, imu_calib = [], [], path.parent / "calib_imu_to_velo.txt"
        if (path / "oxts").is_dir():
            oxts_files, oxts_stamps = _sensor(path / "oxts", (".txt",), problems)
            if not imu_calib.is_file():
                problems.append(f"{imu_calib} (the drive has oxts/; its poses need the IMU -> Velodyne calibration)")
        if problems:
            raise KittiError(f"KITTI drive {path} is incomplete:\n  - " + "\n  - ".join(problems))
        try:
            drive = cls(path, images, image_stamps, scans, scan_stamps, camera_calibration(path.parent, 2))
            if oxts_files:
                drive.oxts = oxts_track(np.stack([read_packet(f) for f in oxts_files]))
                drive.oxts_stamps = oxts_stamps
                drive.t_velodyne_imu = rigid_calibration(imu_calib)
        except (ValueError, OxtsError) as exc:
            raise KittiError(str(exc)) from exc
        return drive

    @property
    def name(self) -> str:
        """'<date>/<date>_drive_<nnnn>_sync', as KITTI split files name the drive."""
        return f"{self.path.resolve().parent.name}/{self.path.resolve().name}"

    def marks(self, image_size: tuple[int, int]) -> BagMarks:
        """What the bag says about itself: KITTI data of this drive, the Velodyne as ground truth."""
        return BagMarks(source=KITTI2BAG, ground_truth=LIDAR_TOPIC, kitti_drive=self.name,
                        kitti_calib_size=self.camera.size or image_size)


def _sensor(folder: Path, extensions: tuple[str, ...], problems: list[str]) -> tuple[list[Path], list[int]]:
    """Frame files and timestamps of one sensor folder, appending what is missing to ``problems``."""
    data, stamps_file = folder / "data", folder / "timestamps.txt"
    absent = ([] if data.is_dir() else [f"{data} (folder missing)"]) + \
        ([] if stamps_file.is_file() else [f"{stamps_file} (file missing)"])
    if absent:
        problems += absent
        return [], []
    try:
        stamps = read_timestamps(stamps_file)
    except KittiError as exc:
        problems.append(f"{stamps_file}: {exc}")
        return [], []
    files = {p.stem: p for p in data.iterdir() if p.suffix.lower() in extensions}
    expected = [f"{i:010d}" for i in range(len(stamps))]
    missing = [name for name in expected if name not in files]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        problems.append(f"{data}: {len(missing)} of the {len(stamps)} frames in timestamps.txt are missing "
                        f"({shown})")
    extra = sorted(set(files) - set(expected))
    if extra:
        problems.append(f"{data}: {len(extra)} files beyond the {len(stamps)} lines of {stamps_file.name} "
                        f"(first: {files[extra[0]].name}); is timestamps.txt cut short?")
    if not stamps:
        problems.append(f"{stamps_file} is empty")
    return [files[n] for n in expected if n in files], stamps


def velodyne_cloud_fields(scan: np.ndarray) -> dict[str, Any]:
    """PointCloud2 fields for a KITTI scan [N, 4] float32 (x, y, z, reflectance): its bytes as stored."""
    scan = np.ascontiguousarray(scan, dtype="<f4")
    fields = [{"name": n, "offset": 4 * i, "datatype": FLOAT32, "count": 1}
              for i, n in enumerate(("x", "y", "z", "intensity"))]
    return {"height": 1, "width": len(scan), "fields": fields, "is_bigendian": False, "point_step": 16,
            "row_step": 16 * len(scan), "data": scan.tobytes(), "is_dense": True}


def read_scan(path: Path) -> np.ndarray:
    raw = np.fromfile(path, dtype="<f4")
    if raw.size % 4:
        raise KittiError(f"{path} is not a KITTI Velodyne scan (size is not a multiple of 16 bytes)")
    return raw.reshape(-1, 4)


def _messages(drive: KittiDrive) -> Iterator[tuple[int, str, Any]]:
    """(time, topic, message) of the whole drive in time order, loading one file at a time."""
    events = sorted([(t, 0, i) for i, t in enumerate(drive.image_stamps)] +
                    [(t, 1, i) for i, t in enumerate(drive.scan_stamps)] +
                    [(t, 2, i) for i, t in enumerate(drive.oxts_stamps)])
    static = [(LIDAR_FRAME, CAMERA_FRAME, *split_transform(invert(drive.camera.t_camera_velodyne)))]
    if drive.t_velodyne_imu is not None:
        static.append((IMU_FRAME, LIDAR_FRAME, *split_transform(invert(drive.t_velodyne_imu))))
    yield events[0][0], "/tf_static", tf_message(static, events[0][0])
    for stamp, kind, i in events:
        if kind == 2:
            pose = drive.oxts.poses[i]
            yield stamp, ODOMETRY_TOPIC, odometry_msg(pose, stamp, WORLD_FRAME, IMU_FRAME, drive.oxts.velocity[i],
                                                      drive.oxts.angular_rate[i])
            yield stamp, TF_TOPIC, tf_message([(WORLD_FRAME, IMU_FRAME, *split_transform(pose))], stamp)
        elif kind == 0:
            rgb = read_rgb(drive.images[i])
            k = rescale_to(drive.camera.k, drive.camera.size, rgb.shape[1], rgb.shape[0])
            info = camera_info_fields(k, rgb.shape[1], rgb.shape[0])
            yield stamp, INFO_TOPIC, camera_info_msg(info, stamp, CAMERA_FRAME)
            yield stamp, IMAGE_TOPIC, image_msg(rgb_to_image_fields(rgb), stamp, CAMERA_FRAME)
        else:
            yield stamp, LIDAR_TOPIC, cloud_msg(velodyne_cloud_fields(read_scan(drive.scans[i])), stamp,
                                                LIDAR_FRAME)


def convert(drive_dir: str | Path, out: str | Path, storage: str = "mcap") -> Path:
    """Write the drive as a bag at ``out`` (a new folder); returns its path."""
    drive = KittiDrive.open(drive_dir)
    total = 1 + 2 * len(drive.images) + len(drive.scans) + 2 * len(drive.oxts_stamps)
    height, width = read_rgb(drive.images[0]).shape[:2]
    with BagWriter(out, storage) as writer:
        drive.marks((width, height)).write(writer)
        for stamp, topic, msg in tqdm(_messages(drive), total=total, unit="msg", desc="kitti2bag"):
            writer.write(topic, msg, stamp)
    return Path(out)
