"""The synthetic street world: deterministic, well-formed, geometrically exact, and written in the
image-folder layout of docs/interfaces.md."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from semdepth_ros.classes import (CITYSCAPES_TRAIN_IDS, FOREGROUND_CLASSES, IGNORE_ID, TRAIN_ID,
                                  foreground_from_train_ids)
from semdepth_ros.geometry import depth_to_points
from semdepth_ros.intrinsics import load_intrinsics
from semdepth_training.commands import synth as synth_cmd
from semdepth_synth import SynthConfig, SynthFrame, generate_sequence, save_montage, write_dataset

REPO = Path(__file__).resolve().parents[1]
CONFIG = SynthConfig(height=96, width=320, seed=3, num_frames=2)


@pytest.fixture(scope="module")
def frames() -> list[SynthFrame]:
    return list(generate_sequence(CONFIG))


def test_table7_foreground_classes() -> None:
    assert len(CITYSCAPES_TRAIN_IDS) == 19 and CITYSCAPES_TRAIN_IDS[13] == "car"
    ids = np.arange(256, dtype=np.uint8)
    expected = {TRAIN_ID[name] for name in FOREGROUND_CLASSES}
    assert expected == {6, 7, 11, 12, 13, 14, 15, 16, 17, 18}
    mask = foreground_from_train_ids(ids)
    assert mask.dtype == np.uint8 and set(np.flatnonzero(mask)) == expected
    assert mask[IGNORE_ID] == 0


def test_deterministic_from_seed(frames: list[SynthFrame]) -> None:
    again = next(generate_sequence(CONFIG))
    for name in ("rgb", "depth", "class_ids", "fg_mask", "pose", "K"):
        np.testing.assert_array_equal(getattr(again, name), getattr(frames[0], name))
    other = next(generate_sequence(SynthConfig(height=96, width=320, seed=4, num_frames=1)))
    assert not np.array_equal(other.rgb, frames[0].rgb)


def test_frame_contents(frames: list[SynthFrame]) -> None:
    f = frames[0]
    h, w = CONFIG.height, CONFIG.width
    assert f.rgb.shape == (h, w, 3) and f.rgb.dtype == np.uint8
    assert f.depth.shape == (h, w) and f.depth.dtype == np.float32
    assert f.class_ids.shape == (h, w) and f.class_ids.dtype == np.uint8
    assert f.fg_mask.shape == (h, w) and f.fg_mask.dtype == np.uint8
    np.testing.assert_allclose(f.K, [[0.58 * w, 0, 0.5 * w], [0, 1.92 * h, 0.5 * h], [0, 0, 1]])
    np.testing.assert_allclose(f.pose[:3, :3] @ f.pose[:3, :3].T, np.eye(3), atol=1e-12)
    assert f.pose[1, 3] == pytest.approx(-1.65)  # world y is down, the road is y = 0

    sky = f.class_ids == TRAIN_ID["sky"]
    assert sky.any() and not sky.all()
    np.testing.assert_array_equal(np.isinf(f.depth), sky)
    assert np.all(np.isfinite(f.depth[~sky])) and f.depth[~sky].min() > 0
    assert {TRAIN_ID[n] for n in ("road", "building", "sky")} <= set(np.unique(f.class_ids))
    assert set(np.unique(f.class_ids)) <= {TRAIN_ID[n] for n in ("road", "sidewalk", "building", "pole",
                                                                   "traffic sign", "vegetation", "sky",
                                                                   "person", "car")}

    np.testing.assert_array_equal(f.fg_mask, foreground_from_train_ids(f.class_ids))
    assert f.fg_mask.any()

    step = frames[1].pose[:3, 3] - f.pose[:3, 3]
    assert 0.5 * CONFIG.speed < step[2] < 1.5 * CONFIG.speed and abs(step[0]) < 0.1


def _world_points(frame: SynthFrame, depth: np.ndarray) -> np.ndarray:
    points = depth_to_points(depth.astype(np.float32), frame.K).reshape(-1, 3).astype(np.float64)
    return points @ frame.pose[:3, :3].T + frame.pose[:3, 3]


def test_road_depth_lies_on_the_ground_plane(frames: list[SynthFrame]) -> None:
    f = frames[0]
    road = (f.class_ids == TRAIN_ID["road"]).reshape(-1)
    height = _world_points(f, np.where(np.isfinite(f.depth), f.depth, 0.0))[road, 1]
    assert np.abs(height).max() < 1e-3 * np.abs(f.depth.reshape(-1)[road]).max()


def _photometric_error(a: SynthFrame, b: SynthFrame, depth: np.ndarray) -> float:
    """Mean |a - b warped into a| over pixels that land inside b, for a depth map of a."""
    h, w = depth.shape
    world = _world_points(a, np.where(np.isfinite(depth), depth, 1e6))  # sky: effectively at infinity
    world_to_b = np.linalg.inv(b.pose)
    cam = world @ world_to_b[:3, :3].T + world_to_b[:3, 3]
    z = cam[:, 2]
    u = (b.K[0, 0] * cam[:, 0] / z + b.K[0, 2]).reshape(h, w).astype(np.float32)
    v = (b.K[1, 1] * cam[:, 1] / z + b.K[1, 2]).reshape(h, w).astype(np.float32)
    inside = (z.reshape(h, w) > 0.1) & (u >= 0) & (u <= w - 1) & (v >= 0) & (v <= h - 1)
    warped = cv2.remap(b.rgb, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    error = np.abs(warped.astype(np.float32) - a.rgb.astype(np.float32)).mean(axis=-1)
    assert inside.mean() > 0.5
    return float(error[inside].mean())


def test_true_depth_and_pose_explain_the_next_frame(frames: list[SynthFrame]) -> None:
    """Textures carry enough detail that only the true geometry matches frames photometrically."""
    a, b = frames
    finite = np.isfinite(a.depth)
    true = _photometric_error(a, b, a.depth)
    doubled = _photometric_error(a, b, a.depth * 2)
    constant = _photometric_error(a, b, np.where(finite, np.median(a.depth[finite]), np.inf))
    assert true < 6.0
    assert true < 0.5 * doubled and true < 0.5 * constant, (true, doubled, constant)


def test_writer_layout_and_files(tmp_path: Path) -> None:
    config = SynthConfig(height=32, width=96, seed=7, num_frames=2)
    folders = write_dataset(tmp_path, 2, config, show_progress=False)
    assert [f.name for f in folders] == ["seq_0007", "seq_0008"]
    expected = list(generate_sequence(config))
    seq = folders[0]
    for f in expected:
        stem = f"{f.index:06d}"
        rgb = cv2.cvtColor(cv2.imread(str(seq / "images" / f"{stem}.png")), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(rgb, f.rgb)
        depth = np.load(seq / "depth" / f"{stem}.npy")
        assert depth.dtype == np.float32
        np.testing.assert_array_equal(depth, np.where(np.isinf(f.depth), 0.0, f.depth))
        mask = cv2.imread(str(seq / "fg_mask" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(mask, f.fg_mask * 255)
        classes = cv2.imread(str(seq / "classes" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(classes, f.class_ids)
    poses = np.loadtxt(seq / "poses.txt").reshape(-1, 3, 4)
    np.testing.assert_allclose(poses, [f.pose[:3] for f in expected], atol=1e-6)
    K, size = load_intrinsics(seq / "intrinsics.yaml")
    np.testing.assert_allclose(K, expected[0].K)
    assert size == (96, 32)
    assert cv2.imread(str(seq / "preview.png")).shape == (64, 192, 3)

    with pytest.raises(FileExistsError):
        write_dataset(tmp_path, 1, config, show_progress=False)
    assert write_dataset(tmp_path, 1, config, overwrite=True, show_progress=False) == folders[:1]


def test_montage_png(frames: list[SynthFrame], tmp_path: Path) -> None:
    path = save_montage(frames[0], tmp_path / "montage.png")
    assert path.is_file()
    assert cv2.imread(str(path)).shape == (2 * CONFIG.height, 2 * CONFIG.width, 3)


def test_command_run_directly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    synth_cmd.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--frames", "2", "--height", "32", "--width", "64",
                              "--seed", "5"])
    assert synth_cmd.run(args) == 0
    assert len(list((tmp_path / "seq_0005" / "images").glob("*.png"))) == 2
    assert "wrote 1 sequence" in capsys.readouterr().out
    assert synth_cmd.__doc__.splitlines()[0]


def test_semdepth_synth_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "semdepth_ros.cli.main", "synth", "--out", str(tmp_path), "--frames", "1",
         "--sequences", "2", "--height", "32", "--width", "64"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in ("seq_0000", "seq_0001"):
        assert (tmp_path / name / "images" / "000000.png").is_file()
        assert (tmp_path / name / "intrinsics.yaml").is_file()
