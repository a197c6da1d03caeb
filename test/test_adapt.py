"""`semdepth adapt` on real rosbag2 files written here: a synthetic street drive with and without odometry.

The starting network is trained (in this module, on a small budget) on other synthetic streets and
saved as relative (scale factor 1, source "none"), so with odometry the adaptation has to find the
metric scale itself; the bags' depth images are the renderer's exact depth, used only to evaluate.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from semdepth_ros.bag import io as bagio
from semdepth_ros.bag.odometry import BODY_FROM_OPTICAL, interpolate_pose
from semdepth_ros.bag.transforms import invert, split_transform
from semdepth_ros.checkpoint import CheckpointError, load_checkpoint, read_meta, save_checkpoint
from semdepth_ros.cli.main import main
from semdepth_ros.codec import camera_info_fields, depth_to_image_fields, rgb_to_image_fields
from semdepth_ros.demo.drive import write_drive_bag as write_drive_bag_demo
from semdepth_ros.model import PoseNet
from semdepth_synth import SynthConfig, SynthSequence
from semdepth_training.adapt.run import AdaptOptions, adapt
from semdepth_training.adapt.weights import check_pose_state, pose_translation_scale, read_pose_state
from semdepth_training.config import load_config
from semdepth_training.datasets.rosbag import RosbagDataset
from semdepth_training.losses import odometry_loss
from semdepth_training.trainer import Trainer

HEIGHT, WIDTH = 64, 192
CAMERA = "camera_optical_frame"
T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000            # 10 Hz
STREET = 7                      # the bags' street; the starting network never saw it
FRAMES = 40
STILL_AT, STILL_FOR = 10, 6     # the robot stops at frame 10 for 6 extra frames
DEPTH_TOPIC = "/ground_truth/depth"


def write_drive_bag(path: Path, odometry: bool, camera_info: bool = True) -> Path:
    """Camera images (+ camera_info) of a synthetic drive that stops once, with exact depth images and,
    when asked, wheel odometry of base_link at twice the camera rate plus the camera's mounting on
    /tf_static. Frames while standing carry sensor noise, so they are not byte-identical."""
    sequence = SynthSequence(SynthConfig(height=HEIGHT, width=WIDTH, seed=STREET, num_frames=FRAMES))
    base_cam = BODY_FROM_OPTICAL.copy()
    base_cam[:3, 3] = [1.2, 0.0, 1.65]
    order = list(range(STILL_AT)) + [STILL_AT] * STILL_FOR + list(range(STILL_AT, FRAMES))
    noise = np.random.default_rng(0)
    frame = None
    with bagio.BagWriter(path) as bag:
        if odometry:
            bag.write("/tf_static", bagio.tf_message([("base_link", CAMERA, *split_transform(base_cam))], T0), T0)
        for n, index in enumerate(order):
            stamp = T0 + n * PERIOD
            frame = frame if frame is not None and frame.index == index else sequence[index]
            rgb = np.clip(frame.rgb.astype(np.int16) + noise.integers(-2, 3, frame.rgb.shape), 0, 255).astype(np.uint8)
            if camera_info:
                bag.write("/camera/camera_info",
                          bagio.camera_info_msg(camera_info_fields(frame.K, WIDTH, HEIGHT), stamp, CAMERA), stamp)
            bag.write("/camera/image_raw", bagio.image_msg(rgb_to_image_fields(rgb), stamp, CAMERA), stamp)
            bag.write(DEPTH_TOPIC, bagio.image_msg(depth_to_image_fields(frame.depth), stamp, CAMERA), stamp)
            if odometry:
                following = sequence.poses[order[n + 1]] if n + 1 < len(order) else frame.pose
                for k, camera_pose in enumerate((frame.pose, interpolate_pose(frame.pose, following, 0.5))):
                    odom_base = BODY_FROM_OPTICAL @ camera_pose @ invert(base_cam)
                    when = stamp + k * PERIOD // 2
                    bag.write("/odom", bagio.odometry_msg(odom_base, when, "odom", "base_link"), when)
    return path


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bags")
    return {"odometry": write_drive_bag(folder / "with_odometry", odometry=True),
            "plain": write_drive_bag(folder / "without_odometry", odometry=False)}


@pytest.fixture(scope="module")
def street_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small depth network trained briefly on two other synthetic streets with their poses, saved
    as RELATIVE: scale factor 1, source "none" (its true metres-per-unit is pose.dataset_scale = 50)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("street_model")
    values = {"data.dataset": "synthetic", "data.height": HEIGHT, "data.width": WIDTH, "data.num_workers": 0,
              "data.eval_crop": None, "data.options": {"num_sequences": 2, "config": {"num_frames": 30}},
              "model.num_layers": 18, "model.semantic": False, "model.seem": False, "model.attention": False,
              "model.width": 0.25, "pose.source": "dataset", "optim.batch_size": 4, "optim.num_epochs": 10,
              "optim.learning_rate": 2e-4, "run.device": "cpu", "run.max_steps": 60, "run.validate": False,
              "run.log_every": 1000, "run.image_every": 1000}
    trainer = Trainer(load_config(values=values), folder / "run")
    trainer.train()
    meta = dataclasses.replace(trainer.checkpoint_meta(), scale_factor=1.0, scale_source="none")
    return save_checkpoint(folder / "street_model.pt", trainer.model, meta)


def _adapt_cli(capsys: pytest.CaptureFixture, bag: Path, model: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["adapt", str(bag), "--init", str(model), "--out", str(out), "--steps", "24", "--eval-frames", "8",
                 "--depth-topic", DEPTH_TOPIC, "--device", "cpu", *extra])
    stdout, stderr = capsys.readouterr()
    return code, stdout, stderr


# --- frame selection --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["odometry", "plain"])
def test_stationary_frames_are_skipped_and_counted(bags: dict[str, Path], tmp_path: Path, kind: str) -> None:
    train = RosbagDataset(tmp_path / "cache", "train", height=HEIGHT, width=WIDTH, bags=[str(bags[kind])],
                          progress=False)
    counts = train.bag_frames.counts()
    assert counts["images"] == FRAMES + STILL_FOR
    assert counts["stationary"] == STILL_FOR and counts["kept"] == FRAMES
    assert "6 stationary" in train.bag_frames.describe()
    assert train.bag_frames.has_odometry == (kind == "odometry")
    # The stop splits the drive: no sample pairs a frame from before it with one after it.
    segments = {f.segment for f in train.bag_frames.frames}
    assert len(segments) == 2
    held_back = RosbagDataset(tmp_path / "cache", "val", height=HEIGHT, width=WIDTH, bags=[str(bags[kind])],
                              progress=False)
    start = held_back.bag_frames.held_back_start(0, 0.3)
    assert start == int(np.ceil(0.7 * (FRAMES + STILL_FOR - 1)))   # the last 30% of the bag's time
    assert all(held_back.bag_frames.frames[t].raw_index >= start for t in held_back.targets)
    assert all(train.bag_frames.frames[t + 1].raw_index < start for t in train.targets)
    if kind == "odometry":  # the odometry motion between neighbours is the renderer's (0.8 m per frame)
        sample = train[0]
        assert sample["pose_valid"] == 1.0
        assert 0.5 < float(torch.linalg.norm(sample[("T", 1)][:3, 3])) < 1.2


def test_duplicate_stamps_are_dropped_and_stamp_gaps_split_the_sequence(tmp_path: Path) -> None:
    sequence = SynthSequence(SynthConfig(height=HEIGHT, width=WIDTH, seed=STREET, num_frames=12))
    stamps = [T0 + i * PERIOD for i in range(12)]
    stamps[9:] = [s + 10 * PERIOD for s in stamps[9:]]          # the recorder paused for a second
    with bagio.BagWriter(tmp_path / "bag") as bag:
        for i, stamp in enumerate(stamps):
            frame = sequence[i]
            bag.write("/camera/camera_info",
                      bagio.camera_info_msg(camera_info_fields(frame.K, WIDTH, HEIGHT), stamp, CAMERA), stamp)
            for _ in range(2 if i == 4 else 1):                   # frame 4 published twice
                bag.write("/camera/image_raw", bagio.image_msg(rgb_to_image_fields(frame.rgb), stamp, CAMERA), stamp)
    frames = RosbagDataset(tmp_path / "cache", "all", height=HEIGHT, width=WIDTH, bags=[str(tmp_path / "bag")],
                           progress=False)
    counts = frames.bag_frames.counts()
    assert counts["images"] == 13 and counts["duplicates"] == 1 and counts["gaps"] == 1 and counts["kept"] == 12
    assert [f.segment for f in frames.bag_frames.frames] == [1] * 9 + [2] * 3
    assert frames.targets == [1, 2, 3, 4, 5, 6, 7, 10]       # no sample spans the gap
    assert "duplicate or backward stamps" in frames.bag_frames.describe()


def test_min_baseline_sets_the_frame_stride_by_speed(bags: dict[str, Path], tmp_path: Path) -> None:
    wide = RosbagDataset(tmp_path / "cache", "all", height=HEIGHT, width=WIDTH, bags=[str(bags["odometry"])],
                         min_baseline=1.5, progress=False)
    counts = wide.bag_frames.counts()
    assert counts["stride"] > 0 and counts["kept"] < FRAMES // 1.5
    frames = wide.bag_frames.frames
    steps = [np.linalg.norm(np.subtract(b.pose, a.pose)[:3, 3]) for a, b in zip(frames[:-1], frames[1:])
             if a.segment == b.segment]  # neighbours; the stop starts a new segment
    assert len(steps) > 5 and min(steps) >= 1.5 - 1e-6


def test_a_folder_of_bags_demo_and_recorded_bags_and_compressed_images_are_inputs(
        tmp_path: Path, capsys: pytest.CaptureFixture, tiny_checkpoint: Path) -> None:
    folder = tmp_path / "bags"
    folder.mkdir()
    write_drive_bag_demo(folder / "a_demo", frames=8, height=HEIGHT, width=WIDTH, seed=1, start_ns=T0, rate_hz=10.0)
    assert main(["eval-bag", str(folder / "a_demo"), "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
                 "--depth-topic", DEPTH_TOPIC, "--out", str(tmp_path / "eval"),
                 "--record", str(folder / "b_recorded")]) == 0
    capsys.readouterr()
    sequence = SynthSequence(SynthConfig(height=HEIGHT, width=WIDTH, seed=2, num_frames=6))
    compressed = bagio.msg_class("sensor_msgs/msg/CompressedImage")
    with bagio.BagWriter(folder / "c_compressed", "sqlite3") as bag:
        for frame in sequence:
            stamp = T0 + frame.index * PERIOD
            jpeg = cv2.imencode(".jpg", frame.rgb[..., ::-1])[1]
            bag.write("/cam/image_raw/compressed", compressed(bagio.header(stamp, CAMERA), "jpeg", jpeg), stamp)
            bag.write("/cam/camera_info", bagio.camera_info_msg(camera_info_fields(frame.K, WIDTH, HEIGHT), stamp,
                                                                CAMERA), stamp)
    frames = RosbagDataset(tmp_path / "cache", "all", height=HEIGHT, width=WIDTH, bags=[str(folder)], progress=False)
    bags = frames.bag_frames.bags
    assert [Path(b.path).name for b in bags] == ["a_demo", "b_recorded", "c_compressed"]
    assert [b.image_topic for b in bags] == ["/camera/image_raw", "/camera/image_raw", "/cam/image_raw/compressed"]
    assert [b.counts["images"] for b in bags] == [8, 8, 6] and all(b.counts["kept"] > 0 for b in bags)
    # No sample pairs frames of different bags.
    assert len({f.segment for f in frames.bag_frames.frames}) >= 3
    for target in frames.targets:
        assert frames.bag_frames.frames[target - 1].bag == frames.bag_frames.frames[target + 1].bag


def test_bag_without_camera_info_and_without_yaml_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                    street_model: Path) -> None:
    bag = write_drive_bag(tmp_path / "no_info", odometry=False, camera_info=False)
    code, _, stderr = _adapt_cli(capsys, bag, street_model, tmp_path / "out")
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "camera_info" in lines[0] and "--intrinsics" in lines[0], stderr
    # With an intrinsics file the same bag is usable.
    sequence = SynthSequence(SynthConfig(height=HEIGHT, width=WIDTH, seed=STREET, num_frames=1))
    k = sequence.K
    yaml_file = tmp_path / "intrinsics.yaml"
    yaml_file.write_text(f"fx: {k[0, 0]}\nfy: {k[1, 1]}\ncx: {k[0, 2]}\ncy: {k[1, 2]}\nwidth: {WIDTH}\nheight: {HEIGHT}\n")
    frames = RosbagDataset(tmp_path / "cache", "all", height=HEIGHT, width=WIDTH, bags=[str(bag)],
                           intrinsics=str(yaml_file), progress=False)
    assert frames.bag_frames.counts()["kept"] == FRAMES
    assert np.allclose(frames.bag_frames.frames[0].K, k)


# --- adaptation -------------------------------------------------------------------------------

def _report(out: Path) -> dict:
    assert (out / "model.pt").is_file() and (out / "report.md").is_file() and (out / "montage.png").is_file()
    return json.loads((out / "report.json").read_text())


def test_adapt_with_odometry_lowers_errors_and_comes_out_metric(bags: dict[str, Path], street_model: Path,
                                                                tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "adapted"
    code, stdout, stderr = _adapt_cli(capsys, bags["odometry"], street_model, out)
    assert code == 0, stderr
    assert "6 stationary" in stdout and "ego-motion from the odometry" in stdout
    report = _report(out)
    before, after = report["before"], report["after"]
    assert after["photometric"]["best_motion"] < before["photometric"]["best_motion"]
    assert after["photometric"]["odometry"] < before["photometric"]["odometry"]
    (depth_before,), (depth_after,) = before["depth"], after["depth"]
    assert depth_after["abs_rel"] < depth_before["abs_rel"], (depth_before, depth_after)
    # Metric: the checkpoint's own factor puts the depth within 10% of the ground truth.
    assert abs(depth_after["gt_over_pred"] - 1.0) < 0.10, depth_after
    assert abs(depth_before["gt_over_pred"] - 1.0) > 0.5  # the starting checkpoint was relative (factor 1)
    meta = read_meta(out / "model.pt")
    assert meta.scale_source == "odometry" and meta.scale_factor == pytest.approx(report["scale"]["factor"])
    assert report["frames"]["counts"]["stationary"] == STILL_FOR
    text = (out / "report.md").read_text()
    assert "from **odometry**" in text and f"--frames {report['frames']['bags'][0]['held_back_from_image']}:" in text


def test_adapt_without_odometry_lowers_errors_and_says_relative(bags: dict[str, Path], street_model: Path,
                                                                tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "adapted"
    code, stdout, stderr = _adapt_cli(capsys, bags["plain"], street_model, out)
    assert code == 0, stderr
    assert "6 stationary" in stdout and "motion fitted with the initial network's depth" in stdout
    report = _report(out)
    before, after = report["before"], report["after"]
    assert after["photometric"]["best_motion"] < before["photometric"]["best_motion"]
    assert after["photometric"]["odometry"] is None
    assert after["depth"][0]["abs_rel"] < before["depth"][0]["abs_rel"]
    assert read_meta(out / "model.pt").scale_source == "none"
    assert "**RELATIVE depth**" in (out / "report.md").read_text()


def test_truncated_bag_adapts_on_what_it_read_and_resumes_after_ctrl_c(bags: dict[str, Path], street_model: Path,
                                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = tmp_path / "cut"
    bag.mkdir()
    source = next(bags["odometry"].glob("*.mcap"))
    data = source.read_bytes()
    (bag / "cut.mcap").write_bytes(data[:int(len(data) * 0.8)])   # the recorder was killed: no footer, no metadata
    options = AdaptOptions(bags=[str(bag)], out=str(tmp_path / "adapted"), init=str(street_model), steps=3,
                           batch_size=2, eval_frames=2, depth_topic=DEPTH_TOPIC, device="cpu")
    step = Trainer.train_step

    def step_then_ctrl_c(self: Trainer, batch: dict) -> object:
        result = step(self, batch)
        if self.step == 0:  # first step of the first session: a real SIGINT, as a user's Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(Trainer, "train_step", step_then_ctrl_c)
    first = adapt(options)
    assert first.stopped and not (tmp_path / "adapted" / "model.pt").exists()
    monkeypatch.setattr(Trainer, "train_step", step)
    resumed = adapt(dataclasses.replace(options, bags=[]), resume=True)
    assert not resumed.stopped and resumed.report["training"]["steps"] == 3
    frames = resumed.report["frames"]
    assert frames["bags"][0]["truncated"] and any("truncated" in note for note in frames["notes"])
    assert 0 < frames["counts"]["images"] < FRAMES + STILL_FOR
    assert "TRUNCATED" in (tmp_path / "adapted" / "report.md").read_text()
    load_checkpoint(tmp_path / "adapted" / "model.pt")  # a valid node checkpoint


def test_existing_output_needs_resume(tmp_path: Path) -> None:
    (tmp_path / "adapt.json").write_text("{}")
    with pytest.raises(RuntimeError, match="--resume"):
        adapt(AdaptOptions(bags=["x"], out=str(tmp_path)))


# --- pieces -----------------------------------------------------------------------------------

def test_odometry_loss_against_a_hand_computation() -> None:
    predicted = torch.tensor([[0.0, 0.0, 2.0], [3.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    odometry = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    valid = torch.tensor([1.0, 1.0, 1.0])
    # sample 1: |2/1 - 1| + (1 - cos 0) = 1; sample 2: |3/3 - 1| + (1 - cos 90 deg) = 1; sample 3 did not move.
    assert odometry_loss(predicted, odometry, valid).item() == pytest.approx(1.0)
    assert odometry_loss(predicted, odometry, torch.tensor([0.0, 1.0, 1.0])).item() == pytest.approx(1.0)
    assert odometry_loss(predicted, odometry, torch.zeros(3)).item() == 0.0
    t = predicted.clone().requires_grad_()
    odometry_loss(t, odometry, valid).backward()
    assert t.grad[0, 2] > 0  # too far: pulled back


def test_the_odometry_anchor_pulls_the_pose_net_towards_the_odometry(bags: dict[str, Path], tmp_path: Path) -> None:
    """pose.source network + pose.odometry_weight: the trainer adds the term, and it falls as the pose
    net learns the odometry's translations (network units = metres / pose.dataset_scale)."""
    torch.manual_seed(0)
    values = {"data.dataset": "rosbag", "data.path": str(bags["odometry"]), "data.height": HEIGHT, "data.width": WIDTH,
              "data.num_workers": 0, "data.eval_crop": None, "model.num_layers": 18, "model.semantic": False,
              "model.seem": False, "model.attention": False, "model.width": 0.25, "pose.source": "network",
              "pose.dataset_scale": 50.0, "pose.odometry_weight": 1.0, "optim.batch_size": 4,
              "optim.learning_rate": 1e-3, "run.device": "cpu", "run.validate": False}
    trainer = Trainer(load_config(values=values), tmp_path / "run")
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=4)))
    terms = [trainer.train_step(batch)[0].terms["odometry"].item() for _ in range(12)]
    assert all(np.isfinite(terms)) and terms[-1] < 0.5 * terms[0], terms


def test_pose_weights_from_a_checkpoint_payload_a_state_dict_or_none(tmp_path: Path, tiny_checkpoint: Path) -> None:
    pose = PoseNet(18)
    payload = torch.load(tiny_checkpoint, weights_only=True)
    payload["pose_net"] = pose.state_dict()
    torch.save(payload, tmp_path / "with_pose.pt")
    torch.save(pose.state_dict(), tmp_path / "pose_only.pt")
    for name in ("with_pose.pt", "pose_only.pt"):
        state = read_pose_state(tmp_path / name)
        assert state is not None and check_pose_state(state, name) == 18
        assert torch.equal(state["decoder.pose_out.weight"], pose.state_dict()["decoder.pose_out.weight"])
    assert read_pose_state(tiny_checkpoint) is None
    load_checkpoint(tmp_path / "with_pose.pt")  # the extra entry does not disturb the node's loader
    # A training checkpoint (save_checkpoint(pose_net=...), e.g. the synthetic pre-training's) stores
    # {config, state_dict}: the weights and their translation unit (metres) come with it.
    model, meta = load_checkpoint(tiny_checkpoint)
    metric = PoseNet(18, translation_scale=1.0)
    save_checkpoint(tmp_path / "trained.pt", model, meta, pose_net=metric)
    state = read_pose_state(tmp_path / "trained.pt")
    assert state is not None and check_pose_state(state, "trained.pt") == 18
    assert torch.equal(state["decoder.pose_out.weight"], metric.state_dict()["decoder.pose_out.weight"])
    assert pose_translation_scale(tmp_path / "trained.pt") == 1.0
    assert pose_translation_scale(tmp_path / "with_pose.pt") == 0.01
    broken = {k: v for k, v in pose.state_dict().items() if not k.startswith("decoder.conv1")}
    with pytest.raises(CheckpointError, match="pose-net weights do not fit"):
        check_pose_state(broken, "broken.pt")
