"""KITTI ground truth from a test-made raw tree, the GT cache, and end-to-end `semdepth evaluate`."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from semdepth_ros.cli.main import main
from semdepth_training.datasets.kitti import velodyne_depth_map
from semdepth_ros.kitti_split import SplitEntry
from semdepth_training.evaluation.kitti_gt import improved_gt, load_gt_depths

from kitti_calib_text import CAM_TO_CAM, VELO_TO_CAM

DRIVE = "2011_09_26/2011_09_26_drive_0002_sync"
# (column, row, depth): where each test point must land; all inside the Garg crop.
TARGETS = [(100, 200, 10.0), (600, 180, 25.0), (1100, 300, 5.5), (640, 330, 7.25)]


def _velodyne_point(col: int, row: int, depth: float) -> np.ndarray:
    """The Velodyne point that KITTI's chain P_rect_02 R_rect_00 [R|T] maps to (col, row) at ``depth``.

    The standard export puts a point at pixel round(x) - 1, so the exact image coordinate is col + 1.
    """
    p_rect = np.array([float(v) for v in CAM_TO_CAM.splitlines()[-1].split()[1:]]).reshape(3, 4)
    r_rect = np.array([float(v) for v in CAM_TO_CAM.splitlines()[3].split()[1:]]).reshape(3, 3)
    r_velo = np.array([float(v) for v in VELO_TO_CAM.splitlines()[1].split()[1:]]).reshape(3, 3)
    t_velo = np.array([float(v) for v in VELO_TO_CAM.splitlines()[2].split()[1:]])
    rect = np.linalg.solve(p_rect[:, :3], depth * np.array([col + 1.0, row + 1.0, 1.0]) - p_rect[:, 3])
    return r_velo.T @ (np.linalg.solve(r_rect, rect) - t_velo)


def _kitti_tree(root: Path, frame: int = 0, with_image: bool = True) -> None:
    date = root / "2011_09_26"
    date.mkdir(parents=True, exist_ok=True)
    (date / "calib_cam_to_cam.txt").write_text(CAM_TO_CAM)
    (date / "calib_velo_to_cam.txt").write_text(VELO_TO_CAM)
    points = [_velodyne_point(*t) for t in TARGETS]
    points.append(_velodyne_point(100, 200, 20.0))       # same pixel as TARGETS[0], farther: dropped
    points.append(_velodyne_point(1300, 200, 10.0))      # right of the image: dropped
    behind = _velodyne_point(600, 180, 25.0)
    points.append(np.array([-behind[0], behind[1], behind[2]]))  # behind the scanner (x < 0): dropped
    scan = np.c_[np.array(points), np.full(len(points), 0.5)].astype(np.float32)
    velo = root / DRIVE / "velodyne_points" / "data"
    velo.mkdir(parents=True, exist_ok=True)
    scan.tofile(velo / f"{frame:010d}.bin")
    if with_image:
        images = root / DRIVE / "image_02" / "data"
        images.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(frame)
        cv2.imwrite(str(images / f"{frame:010d}.png"), rng.integers(0, 255, (375, 1242, 3), dtype=np.uint8))


def test_velodyne_points_land_on_expected_pixels(tmp_path: Path) -> None:
    _kitti_tree(tmp_path, with_image=False)
    depth = velodyne_depth_map(tmp_path / "2011_09_26", tmp_path / DRIVE / "velodyne_points/data/0000000000.bin")
    assert depth.shape == (375, 1242) and depth.dtype == np.float32
    expected = np.zeros_like(depth)
    for col, row, d in TARGETS:
        expected[row, col] = d
    np.testing.assert_allclose(depth, expected, atol=1e-3)  # nearest of the duplicates kept, rest dropped


def test_gt_cache_is_written_once_and_reused(tmp_path: Path) -> None:
    _kitti_tree(tmp_path, with_image=False)
    entries = [SplitEntry(DRIVE, 0, "l")]
    cache = tmp_path / "cache" / "gt.npz"
    first = list(load_gt_depths(tmp_path, entries, "velodyne", cache))
    assert cache.is_file()
    (tmp_path / DRIVE / "velodyne_points/data/0000000000.bin").unlink()  # only the cache can answer now
    again = list(load_gt_depths(tmp_path, entries, "velodyne", cache))
    assert np.array_equal(first[0], again[0])
    with pytest.raises(FileNotFoundError, match="Velodyne scan missing"):  # another split: rebuilt
        list(load_gt_depths(tmp_path, entries + [SplitEntry(DRIVE, 1, "l")], "velodyne", cache))


def test_improved_gt_from_annotated_layout(tmp_path: Path) -> None:
    folder = tmp_path / "val" / "2011_09_26_drive_0002_sync" / "proj_depth" / "groundtruth" / "image_02"
    folder.mkdir(parents=True)
    raw = np.zeros((4, 6), np.uint16)
    raw[1, 2] = 2560  # 10 m
    cv2.imwrite(str(folder / "0000000069.png"), raw)
    depth = improved_gt(tmp_path, SplitEntry(DRIVE, 69, "l"))
    assert depth[1, 2] == pytest.approx(10.0) and depth.sum() == pytest.approx(10.0)


def test_evaluate_kitti_end_to_end(tmp_path: Path, tiny_checkpoint: Path) -> None:
    root = tmp_path / "kitti"
    _kitti_tree(root)
    classes = np.full((375, 1242), 2, np.uint8)  # building
    classes[:, 600:] = 13                        # car
    (root / DRIVE / "image_02" / "classes").mkdir()
    cv2.imwrite(str(root / DRIVE / "image_02" / "classes" / "0000000000.png"), classes)
    split = tmp_path / "test_files.txt"
    split.write_text(f"{DRIVE} 0000000000 l\n")
    out, cache = tmp_path / "eval", tmp_path / "gt.npz"
    args = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(root), "--kind", "kitti",
            "--split", str(split), "--gt-cache", str(cache), "--out", str(out)]
    assert main(args) == 0
    assert cache.is_file()
    report = json.loads((out / "metrics.json").read_text())
    assert report["num_images"] == 1 and report["scaling"]["crop"] == "garg"
    assert set(report["by_class"]) == {"building", "car"}
    assert report["by_class"]["building"]["count"] + report["by_class"]["car"]["count"] == len(TARGETS)
    assert report["foreground_source"] == {"train_ids": 1}


def _folder_dataset(root: Path, frames: int = 3) -> None:
    seq = root / "seq0"
    for sub in ("images", "depth", "fg_mask", "classes"):
        (seq / sub).mkdir(parents=True)
    (root / "intrinsics.yaml").write_text("fx: 100\nfy: 100\ncx: 144\ncy: 48\n")
    rng = np.random.default_rng(0)
    for i in range(frames):
        cv2.imwrite(str(seq / "images" / f"{i:04d}.png"), rng.integers(0, 255, (96, 288, 3), dtype=np.uint8))
        depth = np.linspace(2.0, 60.0, 96 * 288, dtype=np.float32).reshape(96, 288)
        depth[:10] = 0.0  # sky: invalid
        np.save(seq / "depth" / f"{i:04d}.npy", depth)
        mask = np.zeros((96, 288), np.uint8)
        mask[40:, 100:200] = 255
        cv2.imwrite(str(seq / "fg_mask" / f"{i:04d}.png"), mask)
    cv2.imwrite(str(seq / "classes" / "0000.png"), np.full((96, 288), 8, np.uint8))  # vegetation


def test_evaluate_folder_writes_table_json_and_figures(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _folder_dataset(tmp_path / "data")
    out = tmp_path / "eval"
    args = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path / "data"),
            "--kind", "folder", "--out", str(out), "--batch-size", "2", "--method", "tiny"]
    assert main(args) == 0
    markdown = (out / "report.md").read_text()
    header = "| Method | Training | Abs Rel | Sq Rel | RMSE | RMSE log | δ < 1.25 | δ < 1.25² | δ < 1.25³ |"
    assert header in markdown
    assert "| tiny | M+Sem |" in markdown
    report = json.loads((out / "metrics.json").read_text())
    assert report["num_images"] == 3 and report["scaling"]["crop"] == "none"
    assert 0.0 < report["metrics"]["abs_rel"] < 10.0 and report["scaling"]["ratio_median"] > 0
    assert report["foreground_source"] == {"train_ids": 1, "fg_mask": 2}
    assert set(report["by_foreground"]) == {"foreground", "background"}
    assert list(report["by_class"]) == ["vegetation"]
    assert report["by_range"]["all"]["count"] == 3 * 86 * 288
    for name in ("error_by_range.png", "error_by_class.png", "qualitative.png"):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 100, name


def test_fixed_scaling_uses_the_given_factor(tmp_path: Path, tiny_checkpoint: Path) -> None:
    _folder_dataset(tmp_path / "data", frames=1)
    out = tmp_path / "eval"
    args = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path / "data"), "--kind", "folder",
            "--out", str(out), "--scaling", "fixed", "--scale-factor", "2.5", "--examples", "0"]
    assert main(args) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["scaling"]["mode"] == "fixed" and report["scaling"]["ratio_median"] == 2.5
    assert not (out / "qualitative.png").exists()
