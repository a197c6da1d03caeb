"""Periodic saves survive kill -9: between saves and in the middle of one, the run resumes from the
newest complete state, loses at most one save period, and ends with the weights of an uninterrupted run."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semdepth_training.config import load_config
from semdepth_training.trainer import Trainer
from training_runs import Training, assert_same_state, load_state, run_training, train_command, write_config

SAVE_EVERY = 2
STEPS = 6  # one epoch of 6 batches: periodic saves at steps 2 and 4, the epoch's save at 6


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saves")
    return write_config(
        folder / "tiny.yaml",
        data={"dataset": "synthetic", "height": 64, "width": 192, "num_workers": 0, "eval_crop": None,
              "options": {"num_sequences": 1, "config": {"num_frames": 14}}},
        model={"num_layers": 18, "semantic": False, "seem": False, "attention": False},
        pose={"source": "dataset"},
        optim={"batch_size": 2, "num_epochs": 1},
        run={"device": "cpu", "validate": False, "log_every": 1000, "image_every": 1000,
             "save_every_steps": SAVE_EVERY, "save_every_minutes": None})


@pytest.fixture(scope="module")
def uninterrupted(config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    training = run_training(train_command("--config", str(config), "--out", str(out)))
    assert [f"saved step {s} " in training.output for s in (2, 4, 6)] == [True] * 3, training.output
    return load_state(out)


def test_kill_9_between_periodic_saves_loses_at_most_one_period(config: Path, uninterrupted: dict,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "run"
    training = Training(train_command("--config", str(config), "--out", str(out)))
    training.wait_for_line("saved step 2 ")
    training.kill()  # now in step 3: the save at step 4 has not begun
    assert training.wait() == -9
    assert load_state(out)["step"] == 2 and not list(out.rglob("*.tmp"))

    resumed = run_training(train_command("--out", str(out), "--resume"))
    assert "resuming " in resumed.output and "at step 2 " in resumed.output, resumed.output
    assert_same_state(uninterrupted, load_state(out))


def test_kill_9_during_saves_keeps_the_previous_state(config: Path, uninterrupted: dict, tmp_path: Path) -> None:
    """Killed while writing the first save: --resume starts the run afresh (nothing complete was
    saved). Killed while writing the second: --resume continues from the first. Stale .tmp files go."""
    out = tmp_path / "run"
    state_tmp = out / "resume.pt.tmp"
    first = Training(train_command("--config", str(config), "--out", str(out)))
    first.wait_for_file(state_tmp)
    first.kill()
    assert first.wait() == -9
    assert state_tmp.exists() and not (out / "resume.pt").exists(), "the kill missed the first save"

    second = Training(train_command("--out", str(out), "--resume"))
    second.wait_for_line("saved step 2 ")
    assert "holds no saved state yet" in second.output and "removed " in second.output, second.output
    second.wait_for_file(state_tmp)  # the save at step 4 is being written
    second.kill()
    assert second.wait() == -9
    assert state_tmp.exists() and load_state(out)["step"] == 2, "the kill missed the second save"

    third = run_training(train_command("--out", str(out), "--resume"))
    assert "at step 2 " in third.output, third.output
    assert not list(out.rglob("*.tmp"))
    assert_same_state(uninterrupted, load_state(out))


def test_non_finite_weights_are_never_saved(tmp_path: Path) -> None:
    config = load_config(values={
        "data.dataset": "synthetic", "data.height": 64, "data.width": 192, "data.num_workers": 0,
        "data.options": {"num_sequences": 1, "config": {"num_frames": 4}}, "model.num_layers": 18,
        "model.semantic": False, "model.seem": False, "model.attention": False, "pose.source": "dataset",
        "optim.batch_size": 2, "run.device": "cpu", "run.validate": False, "run.max_steps": 1})
    trainer = Trainer(config, tmp_path)
    trainer.train()
    saved = (tmp_path / "resume.pt").read_bytes()
    with torch.no_grad():
        trainer.model.depth_decoder.heads[0].conv.weight[0, 0, 0, 0] = float("nan")
    trainer.step += 1
    with pytest.raises(RuntimeError) as error:
        trainer.save()
    message = str(error.value)
    assert message.startswith("refusing to save step 2: 1 tensor(s) hold NaN or Inf (e.g. depth net "
                              "depth_decoder.heads.0.conv.weight)") and "still holds step 1" in message
    assert "\n" not in message
    assert (tmp_path / "resume.pt").read_bytes() == saved


def test_resume_with_a_config_starts_a_new_folder(config: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """What a scheduler that may restart a job runs every time: --config and --resume on an empty --out."""
    from semdepth_ros.cli.main import main as semdepth_main

    out = tmp_path / "new"
    assert semdepth_main(["train", "--config", str(config), "--out", str(out), "--resume", "--max-steps", "1"]) == 0
    assert "holds no saved state yet" in capsys.readouterr().out
    assert load_state(out)["step"] == 1
