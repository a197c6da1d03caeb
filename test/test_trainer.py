"""Trainer: exact resume after a stop, real learning on the synthetic world, clear start-up errors."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from semdepth_ros.checkpoint import load_checkpoint
from semdepth_ros.cli.main import main as semdepth_main
from semdepth_training.config import TrainConfig, load_config
from semdepth_training.evaluation.pose import PoseErrors, frame_pairs, pose_net_predictor, score_pairs
from semdepth_training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
TINY = {"data.dataset": "synthetic", "data.height": 64, "data.width": 192, "data.num_workers": 0,
        "data.eval_crop": None, "model.num_layers": 18, "run.device": "cpu", "run.log_every": 1,
        "run.image_every": 2}


def tiny_config(**values: object) -> TrainConfig:
    return load_config(values={**TINY, **{k.replace("__", "."): v for k, v in values.items()}})


@pytest.fixture
def deterministic(one_thread: None) -> None:
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(was_deterministic)


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {**{f"depth.{k}": v for k, v in trainer.model.state_dict().items()},
            **{f"pose.{k}": v for k, v in trainer.pose_net.state_dict().items()}}


def test_resume_after_ctrl_c_matches_uninterrupted_run(tmp_path: Path, deterministic: None) -> None:
    """3 batches per epoch, 5 steps: interrupt by a real SIGINT after step 2 (mid epoch 1), resume to
    step 4 (across the epoch end, scheduler step and epoch checkpoint), resume to step 5."""
    config = dict(data__options={"num_sequences": 1, "config": {"num_frames": 8}}, optim__batch_size=2,
                  optim__num_epochs=2, optim__scheduler_step_size=1, run__validate=False)
    reference = Trainer(tiny_config(**config, run__max_steps=5), tmp_path / "a")
    assert reference.sampler.batches_per_epoch == 3
    reference.train()

    interrupted = Trainer(tiny_config(**config), tmp_path / "b")
    step = interrupted.train_step

    def step_then_ctrl_c(batch: dict) -> object:
        result = step(batch)
        if interrupted.step == 1:  # the counter is incremented after the step returns
            os.kill(os.getpid(), signal.SIGINT)
        return result

    interrupted.train_step = step_then_ctrl_c
    summary = interrupted.train()
    assert summary["stopped"] and summary["step"] == 2 and summary["epoch"] == 0
    assert (tmp_path / "b" / "models" / "last.pt").is_file()

    Trainer(tiny_config(**config, run__max_steps=4), tmp_path / "b", resume=True).train()
    assert (tmp_path / "b" / "models" / "epoch_001.pt").is_file()
    resumed = Trainer(tiny_config(**config, run__max_steps=5), tmp_path / "b", resume=True)
    resumed.train()

    assert (resumed.step, resumed.epoch, resumed.batch_in_epoch) == (reference.step, reference.epoch, 2)
    assert resumed.optimizer.param_groups[0]["lr"] == reference.optimizer.param_groups[0]["lr"] == 1e-5
    expected, actual = _weights(reference), _weights(resumed)
    assert expected.keys() == actual.keys()
    different = [k for k in expected if not torch.equal(expected[k], actual[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    model, meta = load_checkpoint(tmp_path / "b" / "models" / "last.pt")
    assert meta.training["step"] == 5 and (meta.input_height, meta.input_width) == (64, 192)
    saved = resumed.model.state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_joint_training_explains_held_out_frames(tmp_path: Path, one_thread: None) -> None:
    """The papers' regime end to end (depth net + pose net, pose.source: network): 40 steps lower the
    photometric error Lp of the model's own depth and motion on streets it never saw.

    Measured (1 thread, 64x192, R18 from random init, seeds 0-2): after/before = 0.79 / 0.73 / 0.75
    at 40 steps (0.74 / 0.68 / 0.70 at 60); 0.88 leaves >= 0.09. AbsRel is not asserted: on the
    synthetic world the regime from scratch settles on a sideways motion, as Monodepth2's own code does
    (docs/training.md); test_learning.py shows each network learning geometry alone.
    """
    values = {"data__options": {"num_sequences": 4, "config": {"num_frames": 12}},
              "data__val_options": {"num_sequences": 2, "config": {"num_frames": 6}},
              "model__semantic": False, "model__seem": False, "model__attention": False,
              "optim__batch_size": 4, "optim__num_epochs": 100, "run__max_steps": 40,
              "run__log_every": 1000, "run__image_every": 1000}
    trainer = Trainer(tiny_config(**values), tmp_path)
    before = trainer.validate()["photometric"]
    after = trainer.train()["val"]["photometric"]
    assert after < 0.88 * before, (before, after)


class ConstantForwardPose(torch.nn.Module):
    """A pose "net" that ignores its frames and always answers one metre forward (points move -z)."""

    def forward(self, frame_a: torch.Tensor, frame_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        translation = torch.tensor([0.0, 0.0, -1.0]).expand(len(frame_a), 1, 3)
        return torch.zeros(len(frame_a), 1, 3), translation


def test_validation_scores_the_pose_net_in_both_temporal_orders(tmp_path: Path, one_thread: None) -> None:
    """The trainer's validation scores the pose net through evaluation.pose: every pair in time order
    and reversed, so a net that always answers "forward" (what driving data rewards in time order)
    scores a direction cosine ~0, not ~1; absent when the poses come from the dataset, and no
    translation error in metres for a self-supervised (unit-less) pose net."""
    values = {"data__options": {"num_sequences": 1, "config": {"num_frames": 6}},
              "data__val_options": {"num_sequences": 1, "config": {"num_frames": 6}},
              "model__semantic": False, "model__seem": False, "model__attention": False,
              "optim__batch_size": 2}
    trainer = Trainer(tiny_config(**values), tmp_path / "network")
    val = trainer.validate()
    assert -1.0 <= val["pose_cosine"] <= 1.0 and val["pose_pairs"] == 4 * 2 * 2, val  # 4 targets, 2 sources, 2 orders
    assert val["pose_rotation_error"] >= 0 and "pose_translation_error" not in val
    trainer.pose_net = ConstantForwardPose()
    assert abs(trainer.validate()["pose_cosine"]) < 0.05
    inputs = trainer.prepare_batch(next(iter(torch.utils.data.DataLoader(trainer.val_set, batch_size=4))))
    in_time_order = PoseErrors()
    score_pairs(pose_net_predictor(trainer.pose_net), inputs, in_time_order, both_directions=False)
    assert in_time_order.result()["pose_cosine"] > 0.95  # the flattering score both orders avoid
    known = Trainer(tiny_config(**values, pose__source="dataset"), tmp_path / "dataset")
    assert "pose_cosine" not in known.validate()


def test_pose_errors_of_the_true_and_the_reversed_motion(tmp_path: Path) -> None:
    """PoseErrors on synthetic frames with known poses: the true transforms score cosine 1 and no
    error; their inverses (the motion backwards) cosine ~-1 and twice each translation."""
    values = {"data__options": {"num_sequences": 1, "config": {"num_frames": 5}}, "model__semantic": False,
              "model__seem": False, "model__attention": False}
    trainer = Trainer(tiny_config(**values, optim__batch_size=3, run__validate=False), tmp_path)
    inputs = trainer.prepare_batch(next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=3))))
    truths = [t for _, _, t in frame_pairs(inputs)]
    exact, backwards = PoseErrors(), PoseErrors()
    answers = iter(truths)
    score_pairs(lambda a, b: next(answers), inputs, exact)
    answers = iter(torch.linalg.inv(t) for t in truths)
    score_pairs(lambda a, b: next(answers), inputs, backwards)
    assert exact.result()["pose_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert exact.result()["pose_translation_error"] == pytest.approx(0.0, abs=1e-5)
    assert exact.result()["pose_rotation_error"] == pytest.approx(0.0, abs=1e-2)
    assert backwards.result()["pose_cosine"] < -0.99
    motion = torch.stack([t[:, :3, 3].norm(dim=1) for t in truths]).mean().item()
    assert backwards.result()["pose_translation_error"] == pytest.approx(2 * motion, rel=0.05)


@pytest.mark.parametrize("case, message", [
    ("wrong_path", "image folder root not found"),
    ("empty_split", "has no entries"),
    ("too_few_samples", "fewer than one batch"),
    ("bad_size", "multiples of 32"),
    ("unknown_key", "unknown key(s) in optim: batch"),
    ("resume_without_run", "cannot resume"),
])
def test_cli_start_up_errors_are_one_clear_line(case: str, message: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    kitti = tmp_path / "kitti"
    (kitti / "split").mkdir(parents=True)
    (kitti / "split" / "train_files.txt").write_text("")
    args = {
        "wrong_path": ["--set", "data.dataset=folder", "--data", str(tmp_path / "missing")],
        "empty_split": ["--data", str(kitti), "--set", f"data.split={kitti / 'split'}"],
        "too_few_samples": ["--set", "data.dataset=synthetic", "--set", "data.height=64", "--set", "data.width=192",
                            "--set", "data.options={num_sequences: 1, config: {num_frames: 4}}"],
        "bad_size": ["--set", "data.height=100"],
        "unknown_key": ["--set", "optim.batch=3"],
        "resume_without_run": ["--resume"],
    }[case]
    assert semdepth_main(["train", "--out", str(tmp_path / "run"), "--device", "cpu", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("semdepth train: error:") and message in err and "\n" not in err, err


@pytest.mark.parametrize("name", ["kitti_r50_semdepth", "kitti_r18_monodepth2", "synthetic_r18", "default_model"])
def test_shipped_configs_load_and_round_trip(name: str) -> None:
    config = load_config(REPO / "config" / "train" / f"{name}.yaml")
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_seed_000_config_is_the_paper_regime() -> None:
    """Seed 000 Sec. 5.1 and Eq. 2/9: R50 + semantic + SEEM + attention, 192x640, batch 12, 19 epochs,
    lr 1e-4 / 10 after 15 epochs, alpha 0.85, smoothness 1e-3, frames [0, -1, 1]."""
    c = load_config(REPO / "config" / "train" / "kitti_r50_semdepth.yaml")
    assert (c.model.num_layers, c.model.semantic, c.model.seem, c.model.attention) == (50, True, True, True)
    assert (c.data.height, c.data.width, c.data.frame_ids, c.data.split) == (192, 640, [0, -1, 1], "eigen_zhou")
    assert (c.optim.batch_size, c.optim.num_epochs, c.optim.learning_rate) == (12, 19, 1e-4)
    assert (c.optim.scheduler_step_size, c.optim.scheduler_gamma) == (15, 0.1)
    assert (c.loss.ssim_alpha, c.loss.smoothness_weight, c.loss.scales) == (0.85, 1e-3, (0, 1, 2, 3))


def test_cli_trains_and_resumes_from_the_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text("data: {dataset: synthetic, height: 64, width: 192, num_workers: 0, eval_crop: null,\n"
                      "       options: {num_sequences: 1, config: {num_frames: 5}},\n"
                      "       val_options: {num_sequences: 1, config: {num_frames: 3}}}\n"
                      "model: {num_layers: 18, semantic: false, seem: false, attention: false}\n"
                      "optim: {batch_size: 2, num_epochs: 2}\n")
    out = tmp_path / "run"
    assert semdepth_main(["train", "--config", str(config), "--out", str(out), "--device", "cpu"]
                         + ["--max-steps", "1"]) == 0
    assert semdepth_main(["train", "--out", str(out), "--resume"]) == 0  # config from out/config.yaml
    assert "finished at step 2 (epoch 2); last validation photometric" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "models").iterdir()) == ["epoch_001.pt", "epoch_002.pt", "last.pt"]
    assert load_config(out / "config.yaml").optim.num_epochs == 2  # the resolved config is saved
