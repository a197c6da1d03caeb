"""The synthetic street world: deterministic, well-formed, geometrically exact, and written in the
image-folder layout of docs/interfaces.md; its randomised streets vary camera, drive and look while
the labels stay exact."""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from semdepth_ros.classes import (CITYSCAPES_TRAIN_IDS, FOREGROUND_CLASSES, IGNORE_ID, TRAIN_ID,
                                  foreground_from_train_ids)
from semdepth_ros.geometry import depth_to_points
from semdepth_ros.intrinsics import load_intrinsics
from semdepth_training.commands import synth as synth_cmd
from semdepth_training.datasets.synthetic import SyntheticDataset
from semdepth_synth import (SynthConfig, SynthFrame, SynthSequence, generate_sequence, save_montage,
                            write_dataset)
from semdepth_synth.camera import random_rig
from semdepth_synth.lighting import random_lighting
from semdepth_synth.motion import sample_drive
from semdepth_synth.render import Renderer
from semdepth_synth.sensor import SENSOR_WIDTH, develop, random_sensor
from semdepth_synth.street import Street
from semdepth_synth.world import Builder, Material, RoadStyle, Shape, World, rot_x, rot_y, rot_z

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


# ---- the domain-randomised world (realism "fast" / "full") -------------------------------------------

RANDOM = SynthConfig(height=48, width=160, seed=11, num_frames=3, realism="full")
GROUND = [TRAIN_ID[n] for n in ("road", "sidewalk", "terrain", "sky")]


@pytest.fixture(scope="module")
def random_frames() -> list[SynthFrame]:
    return list(generate_sequence(RANDOM))


def test_random_world_is_deterministic_and_differs_by_seed(random_frames: list[SynthFrame]) -> None:
    again = list(generate_sequence(RANDOM))
    for a, b in zip(again, random_frames):
        for name in ("rgb", "depth", "class_ids", "fg_mask", "pose", "K", "timestamp"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    other = next(generate_sequence(dataclasses.replace(RANDOM, seed=12)))
    assert not np.array_equal(other.rgb, random_frames[0].rgb)
    assert not np.array_equal(other.K, random_frames[0].K)


def test_street_coordinates_round_trip() -> None:
    s, l = np.linspace(-50.0, 300.0, 11), np.linspace(-20.0, 20.0, 11)
    for curvature in (0.0, 1 / 150.0, -1 / 400.0):
        street = Street(curvature)
        x, z = street.to_world(s, l)
        back_s, back_l = street.to_street(x, z)
        np.testing.assert_allclose(back_s, s, atol=1e-9)
        np.testing.assert_allclose(back_l, l, atol=1e-9)
        # The centreline has unit speed: arc length is distance along it.
        x0, z0 = street.to_world(s, 0.0)
        step = np.hypot(np.diff(x0), np.diff(z0))
        assert np.all(step <= np.diff(s) + 1e-9) and np.all(step > 0.99 * np.diff(s))


def _plane_and_box_world(box_centre: tuple[float, float, float], half: tuple[float, float, float]) -> World:
    b = Builder()
    b.add(Shape.PLANE, Material.ASPHALT, "road", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.3, 0.3, 0.3))
    b.add(Shape.BOX, Material.CARGO, "truck", box_centre, half, (0.8, 0.8, 0.8))
    return World(seed=0, primitives=b.build(), road_half_width=3.5, sidewalk_width=0.0, length=100.0,
                 road=RoadStyle(half_width=3.5))


@pytest.mark.parametrize("lit", [False, True])
def test_depth_of_a_known_plane_and_box_is_analytic(lit: bool) -> None:
    """Depth through a pitched, rolled, off-centre camera equals the analytic ray-plane distance."""
    rig = random_rig(np.random.default_rng(5), 160, 48, (1.5, 1.5), (85.0, 85.0), (-4.0, -4.0), (2.0, 2.0))
    pose = np.eye(4)
    pose[:3, :3] = rot_y(0.05) @ rot_x(rig.pitch) @ rot_z(rig.roll)
    pose[:3, 3] = (0.4, -rig.height, 2.0)
    world = _plane_and_box_world((0.4, -1.5, 14.0), (1.25, 1.5, 3.0))  # a truck's rear at z = 11 m
    light = random_lighting(np.random.default_rng(0), shadows=True) if lit else None
    out = Renderer(world, rig.K, 48, 160, light).render(pose)
    h, w = out.depth.shape
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    rays = np.stack([(u - rig.K[0, 2]) / rig.K[0, 0], (v - rig.K[1, 2]) / rig.K[1, 1], np.ones((h, w))], -1)
    world_rays = rays @ pose[:3, :3].T
    road = out.class_ids == TRAIN_ID["road"]
    box = out.class_ids == TRAIN_ID["truck"]
    assert road.sum() > 100 and box.sum() > 100
    expected_road = -pose[1, 3] / world_rays[..., 1]  # ray parameter to y = 0 (= depth: rays have unit z)
    np.testing.assert_allclose(out.depth[road], expected_road[road], rtol=1e-5)
    # The box's rear face z = 11 m: the ray parameter to it, wherever the face (not a side) is hit.
    to_face = (11.0 - pose[2, 3]) / world_rays[..., 2]
    hit = pose[:3, 3] + to_face[..., None] * world_rays
    on_face = box & (np.abs(hit[..., 0] - 0.4) < 1.2) & (hit[..., 1] > -2.95) & (hit[..., 1] < -0.05)
    assert on_face.sum() > 50
    np.testing.assert_allclose(out.depth[on_face], to_face[on_face], rtol=1e-5)


def test_random_frames_reconstruct_the_road_plane(random_frames: list[SynthFrame]) -> None:
    """End to end with random K, pitch and roll: road pixels back-project onto y = 0."""
    for f in random_frames:
        road = (f.class_ids == TRAIN_ID["road"]).reshape(-1)
        assert road.sum() > 50
        height = _world_points(f, np.where(np.isfinite(f.depth), f.depth, 0.0))[road, 1]
        assert np.abs(height).max() < 1e-3 * np.abs(f.depth.reshape(-1)[road]).max()


def test_camera_randomisation_ranges() -> None:
    config = SynthConfig(height=96, width=320, num_frames=2, realism="fast", camera_height_range=[1.2, 2.0],
                         hfov_range=[60, 100], pitch_range=[-6, 3], roll_range=[-2.5, 2.5])
    assert config.hfov_range == (60.0, 100.0)  # YAML lists become pairs
    hfov, cx, cy, heights, pitch, roll = [], [], [], [], [], []
    for seed in range(30):
        seq = SynthSequence(dataclasses.replace(config, seed=seed))
        K = seq.K
        assert K[0, 0] == K[1, 1] and K[0, 1] == 0
        hfov.append(np.degrees(2 * np.arctan(config.width / 2 / K[0, 0])))
        cx.append(K[0, 2] / config.width)
        cy.append(K[1, 2] / config.height)
        heights.append(seq.rig.height)
        pitch.append(np.degrees(seq.rig.pitch))
        roll.append(np.degrees(seq.rig.roll))
        assert abs(-seq.poses[0, 1, 3] - seq.rig.height) <= 0.011  # mount height plus suspension bounce
    for values, (lo, hi) in ((hfov, (60, 100)), (heights, (1.2, 2.0)), (pitch, (-6, 3)), (roll, (-2.5, 2.5))):
        assert lo <= min(values) and max(values) <= hi
        assert max(values) - min(values) > 0.5 * (hi - lo)  # actually randomised across the range
    assert 0.46 <= min(cx) and max(cx) <= 0.54 and 0.42 <= min(cy) and max(cy) <= 0.58
    fixed = SynthSequence(dataclasses.replace(config, hfov_range=(80.0, 80.0), seed=3))
    assert np.degrees(2 * np.arctan(config.width / 2 / fixed.K[0, 0])) == pytest.approx(80.0)


def test_drive_integrates_speed_exactly() -> None:
    times = np.linspace(0.0, 4.0, 41)
    s, speed, accel = sample_drive(np.array([0.0, 2.0, 4.0]), np.array([0.0, 4.0, 4.0]), times)
    ramp = times <= 2.0
    np.testing.assert_allclose(s[ramp], 0.5 * 2.0 * times[ramp] ** 2)  # a = 2 m/s^2 from rest
    np.testing.assert_allclose(s[~ramp], 4.0 + 4.0 * (times[~ramp] - 2.0))
    np.testing.assert_allclose(speed, np.minimum(2.0 * times, 4.0))
    assert accel[0] == 2.0 and accel[-1] == 0.0


def test_pose_speed_and_frame_rate_are_consistent() -> None:
    stopped = moving = 0
    for seed in range(12):
        seq = SynthSequence(SynthConfig(height=32, width=96, seed=seed, num_frames=30, realism="fast",
                                        frame_rate_range=(5.0, 30.0), max_speed=15.0))
        rate = seq.frame_rate
        assert 5.0 <= rate <= 30.0
        np.testing.assert_allclose(seq.timestamps, np.arange(30) / rate)
        assert seq.speeds.min() >= 0.0 and seq.speeds.max() <= 15.0 + 1e-9
        step = np.linalg.norm(np.diff(seq.poses[:, :3, 3], axis=0), axis=1)
        expected = 0.5 * (seq.speeds[1:] + seq.speeds[:-1]) / rate  # speed / rate (trapezoid rule)
        # Speed changes at most 2.5 m/s^2: the trapezoid is off by < a dt^2; the lane sway and the
        # suspension bounce add a centimetre.
        assert np.all(np.abs(step - expected) <= 2.5 / rate ** 2 + 0.01 + 0.02 * expected)
        stopped += int((seq.speeds == 0).any())
        moving += int(seq.speeds.max() > 5.0)
    assert stopped >= 1 and moving >= 3


def test_sensor_effects_and_shadows_keep_labels_exact(random_frames: list[SynthFrame]) -> None:
    plain = list(generate_sequence(dataclasses.replace(RANDOM, sensor_effects=False)))
    fast = list(generate_sequence(dataclasses.replace(RANDOM, realism="fast")))
    for other in (plain, fast):
        for a, b in zip(other, random_frames):
            for name in ("depth", "class_ids", "fg_mask", "pose", "K", "timestamp"):
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(plain[0].rgb, random_frames[0].rgb)
    assert not np.array_equal(fast[0].rgb, random_frames[0].rgb)


def test_sensor_effects_change_per_frame_only_by_noise() -> None:
    """Per-sequence camera settings: developing the same radiance twice differs only by the noise."""
    model = random_sensor(np.random.default_rng(4), random_lighting(np.random.default_rng(4), shadows=False))
    model = dataclasses.replace(model, shot_noise=0.002, read_noise=0.004)
    radiance = np.random.default_rng(0).uniform(0.0, 1.0, (16, SENSOR_WIDTH, 3))  # noise at full strength
    a = develop(radiance, model, np.random.default_rng(1)).astype(int)
    b = develop(radiance, model, np.random.default_rng(2)).astype(int)
    quiet = dataclasses.replace(model, shot_noise=0.0, read_noise=0.0)
    c = develop(radiance, quiet, np.random.default_rng(1)).astype(int)
    d = develop(radiance, quiet, np.random.default_rng(2)).astype(int)
    np.testing.assert_array_equal(c, d)  # everything but the noise is a fixed function of the radiance
    assert 0.5 < np.abs(a - b).mean() < 12.0
    # A smaller image (downsampled sensor) is less noisy.
    small = radiance[:, :310]
    e = develop(small, model, np.random.default_rng(1)).astype(int)
    f = develop(small, model, np.random.default_rng(2)).astype(int)
    assert np.abs(e - f).mean() < 0.6 * np.abs(a - b).mean()


def test_near_objects_in_a_fraction_of_frames() -> None:
    """Objects (not ground) nearer than 5 m: in at least a fifth of random frames, and in front of the
    camera (central third of the image) in some."""
    near = central = 0
    for seed in range(20):
        f = SynthSequence(SynthConfig(height=48, width=160, seed=seed, num_frames=4, realism="fast",
                                      sensor_effects=False))[3]
        close = ~np.isin(f.class_ids, GROUND) & (f.depth < 5.0)
        near += int(close.any())
        central += int(close[:, 53:107].any())
    assert near >= 4 and central >= 1, (near, central)


def test_true_depth_and_pose_explain_the_next_random_frame() -> None:
    """Per-sequence camera settings keep consecutive frames photometrically consistent."""
    for seed in (21, 22, 23):
        config = SynthConfig(height=96, width=320, seed=seed, num_frames=2, realism="full",
                             frame_rate_range=(10.0, 10.0))
        a, b = list(generate_sequence(config))
        assert np.linalg.norm(b.pose[:3, 3] - a.pose[:3, 3]) > 0.3  # moving, as the test needs
        finite = np.isfinite(a.depth)
        true = _photometric_error(a, b, a.depth)
        doubled = _photometric_error(a, b, a.depth * 2)
        constant = _photometric_error(a, b, np.where(finite, np.median(a.depth[finite]), np.inf))
        # Fine grain interpolated by the warp, moving actors, reflections and per-frame noise leave a
        # residual that the basic world (static, matte, noiseless) does not have.
        assert true < 7.0 and true < 0.75 * min(doubled, constant), (seed, true, doubled, constant)


def test_config_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="realism must be one of basic, fast, full"):
        SynthConfig(realism="photoreal")
    with pytest.raises(ValueError, match="hfov_range must have low <= high"):
        SynthConfig(hfov_range=(100.0, 60.0))
    with pytest.raises(ValueError, match="frame_rate_range must be a"):
        SynthConfig(frame_rate_range=10.0)
    with pytest.raises(ValueError, match="max_speed"):
        SynthConfig(max_speed=-1.0)


def test_writer_stores_timestamps(tmp_path: Path) -> None:
    config = SynthConfig(height=16, width=48, seed=2, num_frames=3, realism="fast")
    folder = write_dataset(tmp_path, 1, config, show_progress=False)[0]
    stamps = np.loadtxt(folder / "timestamps.txt")
    np.testing.assert_allclose(stamps, [f.timestamp for f in generate_sequence(config)], atol=1e-9)
    K, _ = load_intrinsics(folder / "intrinsics.yaml")
    np.testing.assert_allclose(K, SynthSequence(config).K)


def test_synthetic_dataset_takes_the_randomised_world() -> None:
    config = SynthConfig(height=32, width=96, num_frames=3, realism="fast")
    dataset = SyntheticDataset(num_sequences=2, config=config, height=32, width=96, seed=4)
    first, second = dataset[0], dataset[1]
    assert not torch.equal(first[("K", 0)], second[("K", 0)])  # one camera per sequence
    assert first["depth_valid"] == 1 and torch.isfinite(first["depth_gt"]).all()


def test_command_writes_the_randomised_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    synth_cmd.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--frames", "1", "--height", "32", "--width", "64",
                              "--seed", "5", "--realism", "full"])
    assert synth_cmd.run(args) == 0
    folder = tmp_path / "seq_0005"
    assert (folder / "images" / "000000.png").is_file()
    assert np.loadtxt(folder / "timestamps.txt").size == 1  # a one-frame drive is fine
    K, _ = load_intrinsics(folder / "intrinsics.yaml")
    assert not np.allclose(K, CONFIG_K_64x32)  # a random camera, not KITTI's
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", str(tmp_path), "--realism", "photoreal"])
    assert "invalid choice: 'photoreal'" in capsys.readouterr().err


CONFIG_K_64x32 = np.array([[0.58 * 64, 0, 32], [0, 1.92 * 32, 16], [0, 0, 1]])
