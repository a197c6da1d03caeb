"""Synthetic pre-training (the ImageNet substitute) and `--init`: the losses against hand-computed
values, the data it reads, that it teaches metric depth and ego-motion on streets it never saw, and
that a fine-tune starts from all three of its networks."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from semdepth_ros.checkpoint import CheckpointError, load_checkpoint, load_pose_net, read_meta
from semdepth_ros.cli.main import main as semdepth_main
from semdepth_ros.classes import TRAIN_ID
from semdepth_synth import SynthConfig, write_dataset
from semdepth_training.config import TrainConfig, load_config
from semdepth_training.datasets import ImageFolderDataset, SyntheticDataset, build_sample
from semdepth_training.datasets.batch import collate_expanded, expand_batch
from semdepth_training.evaluation.pose import PoseErrors, frame_pairs, pose_net_predictor, score_pairs
from semdepth_training.losses import LossSettings
from semdepth_training.supervised_losses import (compute_supervised_losses, depth_target, pose_l1,
                                                 rotation_error_vector, scale_invariant_log_loss)
from semdepth_training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
H, W = 64, 192


# ---------------------------------------------------------------- losses vs hand computation
def test_scale_invariant_log_loss_is_eigen_eq_4() -> None:
    """Eigen, Puhrsch & Fergus, "Depth Map Prediction from a Single Image using a Multi-Scale Deep
    Network", Eq. 4: (1/n) sum d^2 - (lambda/n^2)(sum d)^2, d = log pred - log gt, valid pixels only.

    Image 1: pred (1, 2, 8, 5), gt (1, 1, 1, 7) with the last pixel invalid: d = (0, ln 2, ln 8),
    sum d^2 = ln(2)^2 + ln(8)^2 = 10 ln(2)^2, sum d = 4 ln 2, n = 3. Image 2 has no valid pixel and
    does not count."""
    pred = torch.tensor([1.0, 2.0, 8.0, 5.0, 3.0, 3.0, 3.0, 3.0]).reshape(2, 1, 2, 2)
    gt = torch.tensor([1.0, 1.0, 1.0, 7.0, 1.0, 1.0, 1.0, 1.0]).reshape(2, 1, 2, 2)
    valid = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0], dtype=torch.bool).reshape(2, 1, 2, 2)
    ln2 = math.log(2.0)
    for lam in (0.0, 0.5, 0.85, 1.0):
        expected = 10 * ln2 ** 2 / 3 - lam * (4 * ln2) ** 2 / 9
        assert scale_invariant_log_loss(pred, gt, valid, lam).item() == pytest.approx(expected, rel=1e-5)
    # lambda = 1 is blind to a global scale, lambda < 1 is not (the metric scale stays learnt).
    assert scale_invariant_log_loss(3 * pred, gt, valid, 1.0).item() == pytest.approx(
        scale_invariant_log_loss(pred, gt, valid, 1.0).item(), rel=1e-5)
    assert scale_invariant_log_loss(3 * pred, gt, valid, 0.85).item() > scale_invariant_log_loss(pred, gt, valid, 0.85).item()
    none = torch.zeros_like(valid)
    assert scale_invariant_log_loss(pred, gt, none, 0.85).item() == 0.0


def test_depth_target_teaches_the_sky_as_far_and_clips_to_the_range() -> None:
    depth = torch.tensor([0.05, 3.0, 150.0, 0.0, 0.0]).reshape(1, 1, 1, 5)
    sky = torch.tensor([0, 0, 0, 1, 0], dtype=torch.float32).reshape(1, 1, 1, 5)
    target, valid = depth_target(depth, sky, 0.1, 100.0, sky_as_far=True)
    assert target.flatten().tolist() == pytest.approx([0.1, 3.0, 100.0, 100.0, 0.1])
    assert valid.flatten().tolist() == [True, True, True, True, False]
    _, valid = depth_target(depth, sky, 0.1, 100.0, sky_as_far=False)
    assert valid.flatten().tolist() == [True, True, True, False, False]


def _transform(angle_z: float, translation: tuple[float, float, float]) -> torch.Tensor:
    c, s = math.cos(angle_z), math.sin(angle_z)
    t = torch.eye(4)
    t[:2, :2] = torch.tensor([[c, -s], [s, c]])
    t[:3, 3] = torch.tensor(translation)
    return t[None]


def test_pose_l1_by_hand() -> None:
    """Translation: mean |(0.1, -0.2, 1.0) - (0, 0, 1)| = 0.1 m. Rotation: the vee of the
    antisymmetric part of R_pred R_true^T, here a 0.1 rad turn about z: (0, 0, sin 0.1), L1 mean
    sin(0.1) / 3 (to first order the axis-angle error in radians). The invalid second sample
    does not count."""
    predicted = torch.cat([_transform(0.1, (0.1, -0.2, 1.0)), _transform(1.0, (5.0, 5.0, 5.0))])
    truth = torch.cat([_transform(0.0, (0.0, 0.0, 1.0)), _transform(0.0, (0.0, 0.0, 0.0))])
    translation, rotation = pose_l1(predicted, truth, torch.tensor([1.0, 0.0]))
    assert translation.item() == pytest.approx(0.1, rel=1e-5)
    assert rotation.item() == pytest.approx(math.sin(0.1) / 3, rel=1e-5)
    vector = rotation_error_vector(_transform(0.3, (0, 0, 0))[:, :3, :3], _transform(0.1, (0, 0, 0))[:, :3, :3])
    assert vector[0].tolist() == pytest.approx([0.0, 0.0, math.sin(0.2)], abs=1e-6)


def test_supervised_objective_is_the_weighted_sum_and_zero_for_the_truth() -> None:
    """L = w_d SILog + w_s BCE + w_t L1_t + w_r L1_r: the true depth (sky taught as max_depth) and
    poses give 0 for those terms, so the total is the BCE of an uninformed 0.5 foreground (ln 2) times
    its weight; a pose off by 0.3 m in x adds w_t * 0.1 for that source, averaged over 2 sources."""
    depth = torch.full((1, 1, 8, 16), 4.0)
    depth[..., :4, :] = 0.0
    sky = torch.zeros_like(depth)
    sky[..., :4, :] = 1.0
    disp = 1 / torch.where(sky > 0, torch.tensor(100.0), depth)  # depth = 1 / (scaled disp) for range (0.01, 100)
    settings = LossSettings(scales=(0,), mode="supervised", min_depth=0.01, max_depth=100.0, semantic_weight=2.0,
                            pose_translation_weight=3.0, pose_rotation_weight=10.0)
    scaled = (disp - 1 / settings.max_depth) / (1 / settings.min_depth - 1 / settings.max_depth)
    outputs = {("disp", 0): scaled, ("fg", 0): torch.full((1, 1, 8, 16), 0.5)}
    truth = {f: _transform(0.02 * f, (0.0, 0.0, -1.0 * f)) for f in (-1, 1)}
    inputs = {("color", 0, 0): torch.rand(1, 3, 8, 16), ("color", -1, 0): torch.rand(1, 3, 8, 16),
              ("K", 0): torch.eye(4)[None], ("inv_K", 0): torch.eye(4)[None],
              "depth_gt": depth, "sky_mask": sky, "depth_valid": torch.ones(1), "fg_mask": torch.zeros(1, 1, 8, 16),
              "fg_valid": torch.ones(1), "pose_valid": torch.ones(1), **{("T", f): t for f, t in truth.items()}}
    result = compute_supervised_losses(inputs, outputs, truth, settings)
    assert result.terms["depth"].item() == pytest.approx(0.0, abs=1e-6)
    assert result.terms["translation"].item() == pytest.approx(0.0, abs=1e-6)
    assert result.total.item() == pytest.approx(2.0 * math.log(2.0), rel=1e-4)
    shifted = {f: t.clone() for f, t in truth.items()}
    shifted[1][:, 0, 3] += 0.3
    result = compute_supervised_losses(inputs, outputs, shifted, settings)
    assert result.terms["translation"].item() == pytest.approx(0.1 / 2, rel=1e-4)  # mean over 2 sources
    assert result.total.item() == pytest.approx(2.0 * math.log(2.0) + 3.0 * 0.05, rel=1e-4)


# ---------------------------------------------------------------- data
def test_time_reversal_swaps_frames_and_motion_consistently() -> None:
    """A reversed sample is the same triplet played backwards: frame -1 is the old +1 with the old
    motion to it; in training, about half of the samples are reversed."""
    config = SynthConfig(height=H, width=W, num_frames=3, realism="fast")
    raw = SyntheticDataset(1, config, H, W).load(0)
    forward, backward = build_sample(raw, 0, H, W), build_sample(raw, 0, H, W, reverse=True)
    for f in (-1, 1):
        assert torch.equal(backward[("color", f, 0)], forward[("color", -f, 0)])
        assert torch.allclose(backward[("T", f)], forward[("T", -f)])
    assert torch.equal(backward[("color", 0, 0)], forward[("color", 0, 0)])
    assert torch.equal(backward["depth_gt"], forward["depth_gt"])
    # forward driving: the camera moves along +z, so points move along -z in the next frame's coordinates
    assert forward[("T", 1)][2, 3] < -0.05
    reversing = SyntheticDataset(1, config, H, W, augment=True, reverse_time=True)
    reversed_flags = []
    for epoch in range(12):
        reversing.set_epoch(epoch)
        reversed_flags.append(reversing[0][("T", 1)][2, 3].item() > 0)  # a mirror flip keeps z
    assert 2 <= sum(reversed_flags) <= 10, reversed_flags
    with pytest.raises(ValueError, match="symmetric frame_ids"):
        SyntheticDataset(1, config, H, W, frame_ids=(0, 1), reverse_time=True)


def test_labels_travel_through_the_compact_format_and_the_batched_expansion() -> None:
    """What the loader workers return (compact samples) expanded batched as on the GPU: each sample's
    depth, sky, foreground, K and relative poses are its own labels, flipped with its image and
    time-reversed with its frames (class maps too); colour jitter changes the network input and nothing
    else."""
    config = SynthConfig(height=H, width=W, num_frames=4, realism="fast")
    dataset = SyntheticDataset(2, config, H, W, augment=True, reverse_time=True)
    draws = {}
    for epoch in range(12):  # until flipped, reversed and jittered samples all occurred
        dataset.set_epoch(epoch)
        draws = {i: dataset.augmentation(i) for i in range(len(dataset))}
        if all(any(draw[k] for draw in draws.values()) for k in range(3)):
            break
    assert all(any(draw[k] for draw in draws.values()) for k in range(3)), draws
    batch = expand_batch(default_collate([dataset[i] for i in range(len(dataset))]))
    for i, (flip, jitter, reverse) in draws.items():
        raw = dataset.load(i)
        mirror = (lambda a: a[:, ::-1]) if flip else (lambda a: a)
        assert np.array_equal(batch["depth_gt"][i, 0].numpy(), mirror(raw.depth))
        assert np.array_equal(batch["sky_mask"][i, 0].numpy(), mirror(raw.sky).astype(np.float32))
        assert raw.sky.any() and np.array_equal(batch["fg_mask"][i, 0].numpy(), mirror(raw.fg_mask).astype(np.float32))
        for f in (-1, 0, 1):
            source = -f if reverse else f
            image = torch.from_numpy(np.ascontiguousarray(mirror(raw.images[source]))).permute(2, 0, 1) / 255.0
            assert torch.equal(batch[("color", f, 0)][i], image)
            classes = torch.from_numpy(np.ascontiguousarray(mirror(raw.classes[source]))).long()
            assert torch.equal(batch[("classes", f)][i], classes)  # SIGNet's class maps travel with their frame
            if f:
                truth = np.linalg.inv(raw.poses[source]) @ raw.poses[0]
                if flip:
                    truth = np.diag([-1.0, 1, 1, 1]) @ truth @ np.diag([-1.0, 1, 1, 1])
                assert np.allclose(batch[("T", f)][i].numpy(), truth, atol=1e-5)
        k = raw.K.copy()
        if flip:
            k[0, 2] = W - k[0, 2]  # the Monodepth2 convention of base.scaled_intrinsics
        assert np.allclose(batch[("K", 0)][i, :3, :3].numpy(), k, atol=1e-4)
        jittered = not torch.equal(batch[("color_aug", 0, 0)][i], batch[("color", 0, 0)][i])
        assert jittered == (jitter is not None)


def test_fresh_worlds_render_new_streets_each_epoch_and_each_sample_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """One street per sample: loading a sample renders its own 3 frames and nothing else (so a
    DataLoader worker never repeats another's work), nothing accumulates beyond the cache bound,
    and every epoch brings new streets, reproducibly."""
    from semdepth_synth.sequence import SynthSequence
    rendered: list[tuple[int, int]] = []
    original = SynthSequence.__getitem__

    def counting(self: SynthSequence, index: int) -> object:
        rendered.append((self.config.seed, index))
        return original(self, index)

    monkeypatch.setattr(SynthSequence, "__getitem__", counting)
    config = SynthConfig(height=H, width=W, num_frames=3, realism="fast")
    dataset = SyntheticDataset(4, config, H, W, fresh_worlds=True, cache_frames=2)
    first = dataset[1][("image", 0)]
    assert len(rendered) == 3 and len({seed for seed, _ in rendered}) == 1 and len(dataset._frames) <= 2
    dataset.set_epoch(1)
    assert not torch.equal(dataset[1][("image", 0)], first)
    dataset.set_epoch(0)
    assert torch.equal(dataset[1][("image", 0)], first)
    assert dataset.sequence_seed(1) != dataset.sequence_seed(2)
    held_out = SyntheticDataset(4, config, H, W, seed=1)
    assert {held_out.sequence_seed(i) for i in range(4)}.isdisjoint({dataset.sequence_seed(i) for i in range(4)})


def test_folder_of_rendered_drives_gives_every_pretraining_label(tmp_path: Path) -> None:
    """`semdepth synth` output stored at twice the training size: depth is the min-pool of each 2x2
    block (never a blend across an edge), the sky comes from classes/, and the mask and the
    relative poses are there."""
    config = SynthConfig(height=2 * H, width=2 * W, num_frames=3, realism="fast", seed=5)
    write_dataset(tmp_path, 1, config, show_progress=False)
    dataset = ImageFolderDataset(tmp_path, H, W)
    sample = dataset[0]
    folder = tmp_path / "seq_0005"
    stored = np.load(folder / "depth" / "000001.npy")
    blocks = np.where(stored > 0, stored, np.inf).reshape(H, 2, W, 2).min(axis=(1, 3))
    expected = np.where(np.isfinite(blocks), blocks, 0.0)
    assert np.array_equal(sample["depth_gt"][0].numpy(), expected.astype(np.float32))
    import cv2
    classes = cv2.imread(str(folder / "classes" / "000001.png"), cv2.IMREAD_UNCHANGED)
    sky = (classes == TRAIN_ID["sky"]).reshape(H, 2, W, 2).any(axis=(1, 3)) & (expected == 0)
    assert sky.any() and np.array_equal(sample["sky_mask"][0].numpy() > 0, sky)
    assert sample["depth_valid"] == 1 and sample["fg_valid"] == 1 and sample["pose_valid"] == 1
    poses = np.loadtxt(folder / "poses.txt").reshape(-1, 3, 4)
    to_world = [np.vstack([p, [0, 0, 0, 1]]) for p in poses]
    assert np.allclose(sample[("T", 1)].numpy(), np.linalg.inv(to_world[2]) @ to_world[1], atol=1e-5)


# ---------------------------------------------------------------- pre-training end to end
# The basic street at 64x192 (cheap to render), a quarter-width depth net beside the full pose net:
# the pose net is what takes steps to learn. Measured (1 thread): reading the direction in both
# temporal orders starts after ~150 steps at lr 3e-4 and holds from ~200; lr / 10 after 210 steps
# steadies it.
PRETRAIN = {"data.dataset": "synthetic", "data.height": H, "data.width": W, "data.num_workers": 0,
            "data.eval_crop": None,
            "data.options": {"num_sequences": 24, "reverse_time": True, "config": {"num_frames": 12}},
            "data.val_options": {"num_sequences": 4, "config": {"num_frames": 6}},
            "model.num_layers": 18, "model.width": 0.25, "model.semantic": True, "model.seem": False,
            "model.attention": False, "pose.translation_scale": 1.0, "loss.mode": "supervised",
            "optim.batch_size": 8, "optim.learning_rate": 3e-4, "optim.num_epochs": 100,
            "optim.scheduler_step_size": 7, "run.device": "cpu", "run.log_every": 1000, "run.image_every": 1000}
PRETRAIN_STEPS = 270


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One short pre-training run shared by the tests below (1 thread, 64x192, R18)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    run_dir = tmp_path_factory.mktemp("pretrain") / "run"
    trainer = Trainer(load_config(values={**PRETRAIN, "run.max_steps": PRETRAIN_STEPS}), run_dir)
    before = trainer.validate()
    trainer.train()
    after = trainer.validate()
    torch.set_num_threads(threads)
    return {"trainer": trainer, "before": before, "after": after, "run_dir": run_dir}


def test_pretraining_lowers_synthetic_validation_error(pretrained: dict) -> None:
    """Held-out streets (seed + 1), exact depth: metric AbsRel (no median scaling: pre-training
    learns metres) and median-scaled AbsRel both fall.

    Measured (1 thread, 150 steps): see the assertion message."""
    before, after = pretrained["before"], pretrained["after"]
    message = {k: (round(before[k], 3), round(after[k], 3)) for k in ("metric_abs_rel", "abs_rel")}
    assert after["metric_abs_rel"] < 0.5 * before["metric_abs_rel"], message
    assert after["abs_rel"] < before["abs_rel"], message


def test_pose_net_pretrained_on_synthetic_poses_reads_the_motion(pretrained: dict, one_thread: None) -> None:
    """Translation direction cosine > 0.9 on held-out streets, every pair scored in both temporal
    directions; a constant predictor (the training set's mean motion) scores ~0 on the same pairs."""
    trainer = pretrained["trainer"]
    val = SyntheticDataset(6, SynthConfig(height=H, width=W, num_frames=6), H, W, seed=11)
    loader = torch.utils.data.DataLoader(val, batch_size=8, collate_fn=collate_expanded)  # expanded, as in training
    # The best constant in time order: the mean true motion of these very pairs (an oracle baseline).
    motion = torch.cat([t[:, :3, 3] for batch in loader for _, _, t in frame_pairs(batch, both_directions=False)])
    constant = torch.eye(4)
    constant[:3, 3] = motion.mean(0)
    network, baseline = PoseErrors(), PoseErrors()
    trainer.pose_net.eval()
    for batch in loader:
        score_pairs(pose_net_predictor(trainer.pose_net), batch, network)
        score_pairs(lambda a, b: constant.expand(len(a), 4, 4), batch, baseline)
    ours, constant_score = network.result(), baseline.result()
    message = (f"pose net cosine {ours['pose_cosine']:.3f} over {ours['pose_pairs']} moving pairs (both "
               f"directions), translation error {ours['pose_translation_error']:.3f} m; constant predictor "
               f"{constant_score['pose_cosine']:.3f}")
    print(message)
    assert ours["pose_pairs"] >= 40 and abs(constant_score["pose_cosine"]) < 0.3, message
    assert ours["pose_cosine"] > 0.9, message
    # the trainer's own validation scores the same way
    assert pretrained["after"]["pose_cosine"] > 0.8, pretrained["after"]


def test_checkpoint_records_the_pretraining_and_carries_the_pose_net(pretrained: dict) -> None:
    last = pretrained["run_dir"] / "models" / "last.pt"
    model, meta = load_checkpoint(last)  # the node's loading: the pose net is ignored
    assert meta.provenance["stage"] == "synthetic pre-training (ImageNet substitute)"
    assert meta.scale_factor == 1.0 and meta.scale_source == "synthetic metric depth"
    assert meta.provenance["seed"] == 0 and meta.provenance["wall_time_s"] > 0
    assert meta.provenance["data"]["dataset"] == "synthetic" and "hardware" in meta.provenance
    assert meta.training["step"] == PRETRAIN_STEPS
    pose_net = load_pose_net(last)
    assert pose_net is not None and pose_net.config() == {"num_layers": 18, "translation_scale": 1.0}


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def test_init_loads_encoder_both_decoders_and_the_pose_net(pretrained: dict, tmp_path: Path) -> None:
    source = pretrained["trainer"]
    values = {**PRETRAIN, "loss.mode": "self_supervised", "pose.translation_scale": None,
              "run.init": str(pretrained["run_dir"] / "models" / "last.pt")}
    fine_tune = Trainer(load_config(values=values), tmp_path / "fine")
    assert fine_tune.config.pose.translation_scale == 1.0  # the unit comes with the pose net
    for name, a, b in (("depth", source.model, fine_tune.model), ("pose", source.pose_net, fine_tune.pose_net)):
        expected, actual = _tensors(a), _tensors(b)
        assert expected.keys() == actual.keys()
        assert all(torch.equal(expected[k], actual[k]) for k in expected), name
    prefixes = {k.split(".")[0] for k in _tensors(fine_tune.model)}
    assert {"encoder", "depth_decoder", "semantic_decoder"} <= prefixes, prefixes
    fresh = Trainer(load_config(values={**values, "run.init": None}), tmp_path / "fresh")
    assert not torch.equal(_tensors(fresh.pose_net)["decoder.pose_out.weight"],
                           _tensors(fine_tune.pose_net)["decoder.pose_out.weight"])


def test_init_from_the_cli_and_its_errors(pretrained: dict, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    last = pretrained["run_dir"] / "models" / "last.pt"
    config = tmp_path / "fine.yaml"
    config.write_text("data: {dataset: synthetic, height: 64, width: 192, num_workers: 0, eval_crop: null,\n"
                      "       options: {num_sequences: 1, config: {num_frames: 4}}}\n"
                      "model: {num_layers: 18, width: 0.25, semantic: true, seem: false, attention: false}\n"
                      "optim: {batch_size: 2, num_epochs: 1}\nrun: {validate: false}\n")
    out = tmp_path / "run"
    assert semdepth_main(["train", "--config", str(config), "--out", str(out), "--device", "cpu",
                          "--init", str(last), "--max-steps", "1"]) == 0
    meta = read_meta(out / "models" / "last.pt")
    assert meta.provenance["stage"] == "self-supervised training"
    assert meta.provenance["init"]["path"] == str(last.resolve()) and meta.provenance["init"]["pose_net"]
    assert meta.provenance["init"]["stage"] == "synthetic pre-training (ImageNet substitute)"
    assert load_config(out / "config.yaml").pose.translation_scale == 1.0
    capsys.readouterr()
    for args, message in ((["--set", "model.width=0.5"], "another architecture"),
                          (["--set", "loss.max_depth=80"], "disparity maps to depth"),
                          (["--set", "pose.translation_scale=0.01"], "pose.translation_scale to match")):
        assert semdepth_main(["train", "--config", str(config), "--out", str(tmp_path / args[1]), "--device",
                              "cpu", "--init", str(last), *args]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("semdepth train: error: --init") and message in err and "\n" not in err, err
    assert semdepth_main(["train", "--out", str(out), "--resume", "--init", str(last)]) == 1
    assert "give one of them" in capsys.readouterr().err


def test_pretrain_command_is_train_in_supervised_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["pretrain", "--out", str(out), "--device", "cpu", "--max-steps", "1",
            "--set", "data.height=64", "--set", "data.width=192", "--set", "data.num_workers=0",
            "--set", "data.options={num_sequences: 2, fresh_worlds: true, reverse_time: true, "
                     "config: {num_frames: 3, realism: fast}}",
            "--set", "data.val_options={num_sequences: 1, config: {num_frames: 3, realism: fast}}",
            "--set", "optim.batch_size=2", "--set", "loss.mode=self_supervised"]
    assert semdepth_main(args) == 0
    saved = load_config(out / "config.yaml")
    assert saved.loss.mode == "supervised" and saved.model.width == 0.5  # the shipped config, stage forced
    assert "metric_abs_rel" in capsys.readouterr().out
    assert read_meta(out / "models" / "last.pt").provenance["stage"] == "synthetic pre-training (ImageNet substitute)"


def test_pretraining_takes_the_model_variants_and_refuses_the_self_supervised_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Model switches of docs/variants.md pre-train too (SIGNet's class-map input from the synthetic
    labels, lateral sharing); the variants' self-supervised loss terms and two-stage training are a
    one-line config error in supervised mode."""
    out = tmp_path / "run"
    args = ["pretrain", "--out", str(out), "--device", "cpu", "--max-steps", "1",
            "--set", "data.height=64", "--set", "data.width=192", "--set", "data.num_workers=0",
            "--set", "data.options={num_sequences: 2, config: {num_frames: 3, realism: fast}}",
            "--set", "run.validate=false", "--set", "optim.batch_size=2", "--set", "model.width=0.25"]
    variant = ["--set", "model.semantic_input=onehot", "--set", "model.semantic_input_edges=true",
               "--set", "model.lateral_sharing=true"]
    assert semdepth_main(args + variant) == 0
    saved = load_config(out / "config.yaml")
    assert saved.loss.mode == "supervised" and saved.model.semantic_input == "onehot" and saved.model.lateral_sharing
    assert (out / "models" / "last.pt").is_file()
    capsys.readouterr()
    for switch in ("loss.depth_aware_weight=0.1", "loss.semantic_warp_weight=0.1", "loss.masked_reconstruction=true",
                   "loss.semantic_smoothness=true", "two_stage.enabled=true"):
        assert semdepth_main(args + ["--out", str(tmp_path / "refused"), "--set", switch]) == 1
        err = capsys.readouterr().err.strip()
        assert "loss.mode supervised" in err and switch.split("=")[0] in err and "\n" not in err, err


@pytest.mark.parametrize("name", ["pretrain_synthetic_r18", "pretrain_synthetic_r18_192x640"])
def test_pretraining_configs_load_and_round_trip(name: str) -> None:
    config = load_config(REPO / "config" / "train" / f"{name}.yaml")
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.loss.mode == "supervised" and config.loss.silog_lambda < 1
    assert config.pose.source == "network" and config.pose.translation_scale == 1.0


def test_checkpoints_without_a_pose_net_still_load(tmp_path: Path) -> None:
    """Older files and exports have no pose net: the node loads them as before, training gets None."""
    from semdepth_ros.checkpoint import CheckpointMeta, save_checkpoint
    from semdepth_ros.model import ModelConfig, SemDepthNet
    config = ModelConfig(num_layers=18, semantic=False, seem=False, attention=False, width=0.25)
    path = save_checkpoint(tmp_path / "m.pt", SemDepthNet(config), CheckpointMeta(config))
    assert load_pose_net(path) is None
    load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_pose_net(tmp_path / "missing.pt")
