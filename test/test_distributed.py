"""Distributed training under torchrun (gloo, 2 CPU processes): the same steps as one process with
twice the batch, exact resume after one rank is killed, and no hang on parameters without gradient."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from semdepth_training.config import OptimConfig, load_config
from semdepth_training.run_state import EpochSampler
from semdepth_training.trainer import Trainer, scaled_learning_rate
from training_runs import Training, assert_same_state, load_state, run_training, train_command, write_config

STEPS = 4  # 3 global batches per epoch: crosses an epoch end (validation, scheduler step, epoch save)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Batch 1 per rank. Synchronised BatchNorm makes 2 x 1 normalise like one batch of 2. SEEM
    points and the automask tie-break noise are drawn per rank by design (different samples get
    different draws), so they are off here; loss.scales [0] leaves the heads of scales 1-3 without
    gradient, which DDP must accept."""
    folder = tmp_path_factory.mktemp("ddp")
    return write_config(
        folder / "tiny.yaml",
        data={"dataset": "synthetic", "height": 64, "width": 192, "num_workers": 0, "eval_crop": None,
              "options": {"num_sequences": 1, "config": {"num_frames": 8}},
              "val_options": {"num_sequences": 1, "config": {"num_frames": 7}}},
        model={"num_layers": 18, "semantic": True, "seem": False, "attention": True},
        loss={"automask": False, "scales": [0]},
        optim={"batch_size": 1, "num_epochs": 2, "scheduler_step_size": 1},
        run={"device": "cpu", "sync_batchnorm": True, "log_every": 1, "image_every": 1000,
             "save_every_steps": 2, "save_every_minutes": None})


@pytest.fixture(scope="module")
def two_ranks(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("two_ranks") / "run"
    run_training(train_command("--config", str(config), "--out", str(out), "--max-steps", str(STEPS), processes=2))
    return out


def _losses(run_dir: Path) -> np.ndarray:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return np.array([e.value for e in events.Scalars("loss/total")])


def _relative_differences(expected: dict[str, torch.Tensor], actual: dict[str, torch.Tensor]) -> np.ndarray:
    return np.array([((actual[k].double() - v.double()).norm() / v.double().norm().clamp(min=1e-12)).item()
                     for k, v in expected.items() if v.is_floating_point()])


def test_two_ranks_with_batch_b_take_the_steps_of_one_process_with_batch_2b(config: Path, two_ranks: Path,
                                                                             tmp_path: Path) -> None:
    """Measured after 4 steps (relative differences): losses < 1e-6, validation AbsRel 4e-8, Adam first
    moments per tensor median 4e-5, weights and BatchNorm statistics median 2e-7 / max 4e-3 (Adam
    turns float noise in near-zero gradients into whole lr-sized steps). The same two ranks without
    synchronised BatchNorm: losses 1e-3, moments median 0.29, weights median 6e-3 / max 2.2."""
    one = tmp_path / "one"
    run_training(train_command("--config", str(config), "--out", str(one), "--max-steps", str(STEPS),
                               "--set", "optim.batch_size=2"))
    distributed, single = load_state(two_ranks), load_state(one)
    assert distributed["data"]["world_size"] == 2 and single["data"]["world_size"] == 1
    # Same samples and the same computation at every step: the logged losses (averaged over ranks).
    np.testing.assert_allclose(_losses(two_ranks), _losses(one), rtol=2e-5)
    assert len(_losses(one)) == STEPS
    # Validation, sharded over the ranks, scores the whole held-out set like one process.
    (val_2,), (val_1,) = distributed["history"], single["history"]
    assert val_2["frames"] == val_1["frames"] == 5
    assert val_2["abs_rel"] == pytest.approx(val_1["abs_rel"], rel=1e-5)
    assert val_2["photometric"] == pytest.approx(val_1["photometric"], rel=1e-5)
    # Gradients (Adam's first moments), weights and BatchNorm statistics agree to float precision.
    moments = {f"{i}": s["exp_avg"] for i, s in single["optimizer"]["state"].items()}
    moments_2 = {f"{i}": s["exp_avg"] for i, s in distributed["optimizer"]["state"].items()}
    gradient_error = _relative_differences(moments, moments_2)
    weight_error = np.concatenate([_relative_differences(single[n], distributed[n]) for n in ("model", "pose_net")])
    print(f"relative difference per tensor: gradients median {np.median(gradient_error):.2g} max "
          f"{gradient_error.max():.2g}; weights and buffers median {np.median(weight_error):.2g} max "
          f"{weight_error.max():.2g}")
    assert np.median(gradient_error) < 2e-3
    assert np.median(weight_error) < 1e-5 and weight_error.max() < 2e-2


def test_a_killed_rank_stops_the_job_and_resume_continues_exactly(config: Path, two_ranks: Path,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = ["--out", str(out), "--max-steps", str(STEPS)]
    killed = Training(train_command("--config", str(config), *command, processes=2))
    killed.wait_for_line("saved step 2 ")
    killed.kill(killed.rank_pid(1))
    assert killed.wait(timeout=60) != 0  # torchrun tears the job down; nobody waits for the dead rank
    assert load_state(out)["step"] == 2

    resumed = run_training(train_command(*command, "--resume", processes=2))
    assert "at step 2 " in resumed.output, resumed.output
    assert_same_state(load_state(two_ranks), load_state(out))


def test_dataset_poses_leave_the_pose_net_out_of_ddp(config: Path, tmp_path: Path) -> None:
    """pose.source: dataset gives the pose net no gradient: it is not wrapped, trains through, stays unchanged."""
    out = tmp_path / "run"
    run_training(train_command("--config", str(config), "--out", str(out), "--max-steps", "2",
                               "--set", "pose.source=dataset", "--set", "run.validate=false", processes=2),
                 timeout=120)
    state = load_state(out)
    assert state["step"] == 2
    fresh = Trainer(load_config(config, values={"pose.source": "dataset", "run.validate": False}), tmp_path / "fresh")
    assert all(torch.equal(v, state["pose_net"][k]) for k, v in fresh.pose_net.state_dict().items())


def test_ranks_split_each_global_batch_of_the_one_process_order() -> None:
    single = list(EpochSampler(13, 4, seed=3))
    ranks = [list(EpochSampler(13, 2, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert len(single) == 12 and all(len(r) == 6 for r in ranks)
    for step in range(3):
        assert single[4 * step:4 * step + 4] == ranks[0][2 * step:2 * step + 2] + ranks[1][2 * step:2 * step + 2]
    resumed = EpochSampler(13, 2, seed=3, rank=1, world_size=2)
    resumed.set_epoch(0, start_batch=2)
    assert list(resumed) == ranks[1][4:]


def test_learning_rate_scaling_with_the_number_of_processes() -> None:
    assert scaled_learning_rate(OptimConfig(learning_rate=1e-4), 4) == 1e-4
    assert scaled_learning_rate(OptimConfig(learning_rate=1e-4, lr_scaling="linear"), 4) == pytest.approx(4e-4)
    assert scaled_learning_rate(OptimConfig(learning_rate=1e-4, lr_scaling="sqrt"), 4) == pytest.approx(2e-4)
