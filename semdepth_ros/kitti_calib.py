"""KITTI raw calibration: the text files (``key: numbers``) and the camera / Velodyne geometry they give,
needed by kitti2bag, the evaluation's Velodyne ground truth and the training loaders."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


def read_calib_file(path: str | Path) -> dict[str, np.ndarray]:
    """KITTI ``key: numbers`` calibration text -> arrays; non-numeric values (calib_time) are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"KITTI calibration file missing: {path}")
    calib = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        try:
            calib[key.strip()] = np.array([float(v) for v in value.split()])
        except ValueError:
            continue
    return calib


@dataclasses.dataclass(frozen=True)
class KittiCamera:
    """One rectified KITTI camera of a date folder and where the Velodyne sits relative to it."""

    k: np.ndarray                          # 3x3 intrinsics of the rectified images (P_rect_0c[:, :3])
    t_camera_velodyne: np.ndarray          # 4x4: Velodyne points -> this camera's rectified optical frame
    size: tuple[int, int] | None           # (width, height) the calibration describes (S_rect_0c), if given


def camera_calibration(date_dir: str | Path, camera: int = 2) -> KittiCamera:
    """Camera ``camera`` (2 = left colour) of a KITTI date folder; ValueError lists every missing key.

    KITTI projects a Velodyne point with P_rect_0c @ R_rect_00 @ [R|T]_velo->cam0. P_rect_0c = K [I | t]
    carries camera c's offset from camera 0 in its last column, so the chain is K @ T_camera_velodyne
    with T_camera_velodyne = [I | t] @ R_rect_00 @ [R|T] (t = K^-1 P_rect_0c[:, 3]).
    """
    cam_path, velo_path = Path(date_dir) / "calib_cam_to_cam.txt", Path(date_dir) / "calib_velo_to_cam.txt"
    cam, velo = read_calib_file(cam_path), read_calib_file(velo_path)
    needed = [(cam, cam_path, f"P_rect_0{camera}", 12), (cam, cam_path, "R_rect_00", 9),
              (velo, velo_path, "R", 9), (velo, velo_path, "T", 3)]
    bad = [f"{path}: no valid {key} ({size} numbers)" for values, path, key, size in needed
           if values.get(key) is None or values[key].size != size]
    if bad:
        raise ValueError("KITTI calibration is incomplete:\n  - " + "\n  - ".join(bad))
    p = cam[f"P_rect_0{camera}"].reshape(3, 4)
    k = p[:, :3]
    camera_from_rect0 = np.eye(4)
    camera_from_rect0[:3, 3] = np.linalg.solve(k, p[:, 3])
    rect0_from_cam0 = np.eye(4)
    rect0_from_cam0[:3, :3] = cam["R_rect_00"].reshape(3, 3)
    cam0_from_velo = np.eye(4)
    cam0_from_velo[:3, :3] = velo["R"].reshape(3, 3)
    cam0_from_velo[:3, 3] = velo["T"]
    rect_size = cam.get(f"S_rect_0{camera}")
    size = (int(round(rect_size[0])), int(round(rect_size[1]))) if rect_size is not None and rect_size.size == 2 \
        else None
    return KittiCamera(k, camera_from_rect0 @ rect0_from_cam0 @ cam0_from_velo, size)


def rigid_calibration(path: str | Path) -> np.ndarray:
    """The 4x4 transform of a KITTI ``R: ... T: ...`` file (calib_imu_to_velo.txt: IMU points -> Velodyne)."""
    values = read_calib_file(path)
    if values.get("R") is None or values["R"].size != 9 or values.get("T") is None or values["T"].size != 3:
        raise ValueError(f"{path}: needs R (9 numbers) and T (3 numbers)")
    t = np.eye(4)
    t[:3, :3] = values["R"].reshape(3, 3)
    t[:3, 3] = values["T"]
    return t
