"""The fast training path gives the numbers of the old one: augmentation batched on the device vs the
per-sample CPU path it replaced, losses of both, the resized-frame cache vs decoding, precision
settings, and (where CUDA is) the GPU path vs the CPU one."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from semdepth_training.config import load_config
from semdepth_training.datasets import RawSample, build_dataset
from semdepth_training.datasets import frame_cache as frame_cache_module
from semdepth_training.datasets.augment import JitterParams
from semdepth_training.datasets.base import compact_sample
from semdepth_training.datasets.batch import expand_batch
from semdepth_training.datasets.frame_cache import FrameCache
from semdepth_training.losses import LossSettings, compute_losses
from semdepth_training.run_state import LossReadings, seed_step
from semdepth_training.trainer import Trainer, autocast_dtype

HEIGHT, WIDTH = 64, 128
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# ---------------------------------------------------------------------------------------------------
# The per-sample CPU path as it was before the device path (written out here, from the repository's
# history, as the reference): flip the full-resolution frame, cv2.INTER_AREA to every scale, /255,
# then torchvision-style jitter of every scale with Python-float factors.

def _old_jitter(image: torch.Tensor, p: JitterParams) -> torch.Tensor:
    def blend(x: torch.Tensor, other: torch.Tensor, factor: float) -> torch.Tensor:
        return (factor * x + (1.0 - factor) * other).clamp(0.0, 1.0)

    def gray(x: torch.Tensor) -> torch.Tensor:
        r, g, b = x.unbind(0)
        return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(0)

    def hue(x: torch.Tensor, shift: float) -> torch.Tensor:
        r, g, b = x.unbind(0)
        maxc, minc = x.max(0)[0], x.min(0)[0]
        delta = maxc - minc
        chroma = delta > 0
        safe = torch.where(chroma, delta, torch.ones_like(delta))
        sat = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
        rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
        h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
        h = (torch.where(chroma, (h / 6.0) % 1.0, torch.zeros_like(h)) + shift) % 1.0
        sector = torch.floor(h * 6.0)
        f = h * 6.0 - sector
        v, s = maxc, sat
        pp, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
        choices = torch.stack([torch.stack(c) for c in ((v, t, pp), (q, v, pp), (pp, v, t),
                                                        (pp, q, v), (t, pp, v), (v, pp, q))])
        return choices.gather(0, (sector.long() % 6).expand(1, 3, *sector.shape)).squeeze(0)

    ops = (lambda x: blend(x, torch.zeros_like(x), p.brightness), lambda x: blend(x, gray(x).mean(), p.contrast),
           lambda x: blend(x, gray(x), p.saturation), lambda x: hue(x, p.hue))
    for i in p.order:
        image = ops[i](image)
    return image


def _old_colour(raw: RawSample, flip: bool, jitter: JitterParams | None) -> dict:
    out = {}
    for f, image in raw.images.items():
        if flip:
            image = np.ascontiguousarray(image[:, ::-1])
        for s in range(4):
            resized = cv2.resize(image, (WIDTH >> s, HEIGHT >> s), interpolation=cv2.INTER_AREA)
            color = torch.from_numpy(resized).permute(2, 0, 1).float().div_(255.0)
            out[("color", f, s)] = color
            out[("color_aug", f, s)] = color if jitter is None else _old_jitter(color, jitter)
    return out


def _raw(seed: int) -> RawSample:
    """Frames at twice the training size (so the old per-scale resizes were exact area means)."""
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (2 * HEIGHT, 2 * WIDTH, 3), dtype=np.uint8), (5, 5), 2)
    images = {f: np.roll(smooth, 3 * f, axis=1) for f in (0, -1, 1)}
    mask = (rng.random((2 * HEIGHT, 2 * WIDTH)) > 0.7).astype(np.uint8)
    K = np.array([[150.0, 0.0, 120.0], [0.0, 140.0, 60.0], [0.0, 0.0, 1.0]])
    return RawSample(images, K, fg_mask=mask)


# Every op at every position, hue both ways, and samples without jitter, flipped or not.
_JITTERS = [JitterParams(1.15, 0.85, 1.2, 0.07, (0, 1, 2, 3)), None,
            JitterParams(0.83, 1.18, 0.9, -0.09, (3, 2, 1, 0)), JitterParams(1.05, 1.1, 0.8, 0.02, (2, 3, 0, 1)),
            JitterParams(0.9, 0.95, 1.1, -0.04, (1, 0, 3, 2)), None]
_FLIPS = [False, True, True, False, True, False]


def _batches() -> tuple[list[RawSample], dict, dict]:
    """Old per-sample colour dicts and the new batched expansion of the same samples."""
    raws = [_raw(i) for i in range(len(_JITTERS))]
    old = [_old_colour(raw, flip, jitter) for raw, flip, jitter in zip(raws, _FLIPS, _JITTERS)]
    compact = default_collate([compact_sample(raw, i, HEIGHT, WIDTH, flip, jitter)
                               for i, (raw, flip, jitter) in enumerate(zip(raws, _FLIPS, _JITTERS))])
    return raws, default_collate(old), expand_batch(compact)


def test_batched_augmentation_matches_the_old_per_sample_path() -> None:
    """Scale 0 (what the networks and the photometric loss read) and its jitter: float tolerance.
    Scales 1-3 (the smoothness loss's images): the old path resized the full frame to each scale and
    rounded to uint8, the new one takes exact area means of scale 0, so they differ by at most one
    grey level (half for each rounding)."""
    _, old, new = _batches()
    for f in (0, -1, 1):
        torch.testing.assert_close(new[("color", f, 0)], old[("color", f, 0)], rtol=0, atol=0)
        torch.testing.assert_close(new[("color_aug", f, 0)], old[("color_aug", f, 0)], rtol=0, atol=2e-6)
        for s in (1, 2, 3):
            assert (new[("color", f, s)] - old[("color", f, s)]).abs().max() <= 1 / 255 + 1e-6
    changed = [not torch.equal(new[("color_aug", 0, 0)][i], new[("color", 0, 0)][i]) for i in range(len(_JITTERS))]
    assert changed == [j is not None for j in _JITTERS]


def test_losses_of_the_new_path_equal_the_old_ones() -> None:
    """Eq. 9 and each term on fixed network outputs and poses, from the old and the new inputs."""
    raws, old, new = _batches()
    labels = default_collate([compact_sample(raw, i, HEIGHT, WIDTH, flip, None)
                              for i, (raw, flip) in enumerate(zip(raws, _FLIPS))])
    for key in [("K", 0), ("inv_K", 0), "fg_mask", "fg_valid"]:
        old[key] = new[key] = labels[key]
    generator = torch.Generator().manual_seed(5)
    b = len(raws)
    outputs = {}
    for s in range(4):
        outputs[("disp", s)] = 0.05 + 0.5 * torch.rand(b, 1, HEIGHT >> s, WIDTH >> s, generator=generator)
        outputs[("fg", s)] = 0.1 + 0.8 * torch.rand(b, 1, HEIGHT >> s, WIDTH >> s, generator=generator)
    poses = {f: torch.eye(4).repeat(b, 1, 1) for f in (-1, 1)}
    poses[1][:, 0, 3], poses[-1][:, 2, 3] = 0.05, -0.1
    results = []
    for inputs in (old, new):
        torch.manual_seed(0)  # the automask tie-break noise
        results.append(compute_losses(inputs, outputs, poses, LossSettings()).terms)
    old_terms, new_terms = results
    for name in ("photometric", "semantic"):
        assert new_terms[name].item() == pytest.approx(old_terms[name].item(), rel=1e-6)
    # Smoothness reads scales 1-3 too (up to a grey level apart, above); its weight is 1e-3.
    assert new_terms["smoothness"].item() == pytest.approx(old_terms["smoothness"].item(), rel=2e-3)
    assert new_terms["total"].item() == pytest.approx(old_terms["total"].item(), rel=1e-6)


TINY = {"data.dataset": "synthetic", "data.height": HEIGHT, "data.width": WIDTH, "data.num_workers": 0,
        "data.eval_crop": None, "data.options": {"num_sequences": 1, "config": {"num_frames": 6}},
        "model.num_layers": 18, "model.semantic": True, "model.seem": True, "model.attention": True,
        "optim.batch_size": 3, "run.device": "cpu", "run.validate": False, "run.log_every": 1000,
        "run.image_every": 1000, "run.save_every_minutes": None}


def _first_step_terms(trainer: Trainer, batch: dict) -> dict[str, float]:
    seed_step(0, 0, 0)
    result, _ = trainer.compute_loss(trainer.prepare_batch(batch))
    return {k: v.item() for k, v in result.terms.items()}


def test_trainer_loss_is_the_same_on_either_path(tmp_path: Path) -> None:
    """The trainer's objective from the workers' CPU expansion (naive settings) and from its own
    batched expansion with channels_last networks (fast settings): same weights, same batch."""
    torch.set_num_threads(1)
    naive = Trainer(load_config(values={**TINY, "data.augment_on": "loader", "run.channels_last": False}),
                    tmp_path / "naive")
    fast = Trainer(load_config(values={**TINY, "data.augment_on": "device", "run.channels_last": True}),
                   tmp_path / "fast")
    fast.model.load_state_dict(naive.model.state_dict())
    fast.pose_net.load_state_dict(naive.pose_net.state_dict())
    assert fast.model.encoder.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    indices = [0, 1, 2]
    for dataset in (naive.train_set, fast.train_set):
        dataset.set_epoch(1)
    batch_naive = naive._loader(naive.train_set, indices, 0).__iter__().__next__()
    batch_fast = fast._loader(fast.train_set, indices, 0).__iter__().__next__()
    assert batch_naive[("color", 0, 0)].dtype == torch.float32 and batch_fast[("image", 0)].dtype == torch.uint8
    expected, actual = _first_step_terms(naive, batch_naive), _first_step_terms(fast, batch_fast)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert actual[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-7), name


# ---------------------------------------------------------------------------------------------------
# Resized-frame cache

def _write_folder(root: Path, frames: int = 5, size: tuple[int, int] = (2 * WIDTH, 2 * HEIGHT)) -> Path:
    sequence = root / "seq_a"
    (sequence / "images").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(frames):
        image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        assert cv2.imwrite(str(sequence / "images" / f"{i:06d}.png"), image)
    (root / "intrinsics.yaml").write_text(f"fx: 100\nfy: 100\ncx: {size[0] / 2}\ncy: {size[1] / 2}\n")
    return root


class _CountingDecodes:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        original = frame_cache_module.read_rgb

        def counted(path: Path) -> np.ndarray:
            self.paths.append(Path(path).name)
            return original(path)

        monkeypatch.setattr(frame_cache_module, "read_rgb", counted)


def test_cached_frames_equal_decoded_ones_and_are_decoded_once(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = _write_folder(tmp_path / "data")
    plain = build_dataset("folder", root=root, height=HEIGHT, width=WIDTH, augment=True, seed=3)
    cached = build_dataset("folder", root=root, height=HEIGHT, width=WIDTH, augment=True, seed=3)
    decodes = _CountingDecodes(monkeypatch)
    cache = FrameCache(tmp_path / "cache", WIDTH, HEIGHT, max_bytes=10 ** 9)
    cache.prepare(cached.image_files(), workers=2)
    cached.use_cache(cache)
    assert sorted(decodes.paths) == [f"{i:06d}.png" for i in range(5)]
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    for index in range(len(plain)):
        a, b = plain[index], cached[index]
        assert a.keys() == b.keys()
        assert all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)  # frames, K, labels
    # Another process (a new cache object) finds everything valid: nothing is decoded again.
    decodes.paths.clear()
    FrameCache(tmp_path / "cache", WIDTH, HEIGHT, max_bytes=10 ** 9).prepare(cached.image_files())
    assert decodes.paths == []


def test_a_changed_source_file_is_decoded_again_and_rows_stay(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = _write_folder(tmp_path / "data", frames=4)
    images = sorted((root / "seq_a" / "images").iterdir())
    FrameCache(tmp_path / "cache", WIDTH, HEIGHT, 10 ** 9).prepare(images[:3])
    first = FrameCache(tmp_path / "cache", WIDTH, HEIGHT, 10 ** 9)
    first.prepare(images[:3])
    before = first.get(images[0])[0]
    # Rewrite one file (new content, new modification time) and ask for one more.
    new_content = np.full((2 * HEIGHT, 2 * WIDTH, 3), 77, np.uint8)
    assert cv2.imwrite(str(images[1]), new_content)
    os.utime(images[1], ns=(1, 1))
    decodes = _CountingDecodes(monkeypatch)
    second = FrameCache(tmp_path / "cache", WIDTH, HEIGHT, 10 ** 9)
    second.prepare(images)
    assert sorted(decodes.paths) == [images[1].name, images[3].name]
    assert (second.get(images[1])[0] == 77).all()
    # The first reader's row index is still right after the file was extended and replaced.
    first._arrays.clear()
    assert np.array_equal(first.get(images[0])[0], before)
    assert second.get(images[0])[1] == (2 * WIDTH, 2 * HEIGHT)
    # A change without new files rewrites the row in place.
    assert cv2.imwrite(str(images[2]), new_content // 7)
    os.utime(images[2], ns=(2, 2))
    decodes.paths.clear()
    third = FrameCache(tmp_path / "cache", WIDTH, HEIGHT, 10 ** 9)
    third.prepare(images)
    assert decodes.paths == [images[2].name] and (third.get(images[2])[0] == 11).all()
    assert np.array_equal(third.get(images[0])[0], before)


def test_a_cache_over_its_size_bound_reads_the_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _write_folder(tmp_path / "data", frames=3)
    images = sorted((root / "seq_a" / "images").iterdir())
    cache = FrameCache(tmp_path / "cache", WIDTH, HEIGHT, max_bytes=2 * WIDTH * HEIGHT * 3)  # 2 of 3 frames
    cache.prepare(images)
    assert cache.get(images[0]) is None and not list((tmp_path / "cache").glob("*.npy"))
    assert "is full" in caplog.text


def test_training_reads_through_the_cache(tmp_path: Path) -> None:
    """data.cache_dir end to end: the trainer builds the cache and trains from it."""
    root = _write_folder(tmp_path / "data", frames=6)
    config = load_config(values={**TINY, "data.dataset": "folder", "data.path": str(root), "data.options": {},
                                 "data.cache_dir": str(tmp_path / "cache"), "model.semantic": False,
                                 "model.seem": False, "model.attention": False, "optim.batch_size": 2,
                                 "run.max_steps": 1})
    trainer = Trainer(config, tmp_path / "run")
    assert trainer.train_set.cache is not None and trainer.train()["step"] == 1
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    with pytest.raises(ValueError, match="data.cache_dir applies to image files"):
        load_config(values={**TINY, "data.cache_dir": str(tmp_path / "cache")})


# ---------------------------------------------------------------------------------------------------
# Precision

def test_precision_settings() -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) == torch.bfloat16 and autocast_dtype("fp16", cpu) == torch.float16
    with pytest.raises(ValueError, match="run.precision must be one of auto, fp32, fp16, bf16"):
        load_config(values={"run.precision": "fp8"})
    # Run folders written before run.precision: run.amp still loads.
    assert load_config(values={"run.amp": True}).run.precision == "auto"
    assert load_config(values={"run.amp": False}).run.precision == "fp32"


def test_a_bf16_step_trains(tmp_path: Path) -> None:
    """bf16 autocast runs the networks in bf16 and the losses in fp32; one step on the CPU."""
    torch.set_num_threads(1)
    trainer = Trainer(load_config(values={**TINY, "run.precision": "bf16", "run.max_steps": 1}), tmp_path)
    assert not trainer.scaler.is_enabled()
    before = trainer.model.depth_decoder.heads[0].conv.weight.clone()
    summary = trainer.train()
    assert summary["step"] == 1 and not torch.equal(before, trainer.model.depth_decoder.heads[0].conv.weight)


def test_loss_readings_on_the_cpu_are_immediate() -> None:
    readings = LossReadings(torch.device("cpu"))
    readings.put(1, torch.tensor(0.5))
    assert readings.take(keep_newest=True) == [(1, 0.5)] and readings.take(keep_newest=False) == []


# ---------------------------------------------------------------------------------------------------
# CUDA (the GPU check runs these)

@CUDA
def test_cuda_expansion_equals_the_cpu_one() -> None:
    raws = [_raw(i) for i in range(len(_JITTERS))]
    compact = default_collate([compact_sample(raw, i, HEIGHT, WIDTH, flip, jitter)
                               for i, (raw, flip, jitter) in enumerate(zip(raws, _FLIPS, _JITTERS))])
    on_cpu, on_gpu = expand_batch(compact), expand_batch(compact, "cuda")
    for key, value in on_cpu.items():
        if torch.is_tensor(value):
            torch.testing.assert_close(on_gpu[key].cpu(), value, rtol=0, atol=1e-5, msg=str(key))


@CUDA
def test_cuda_fast_step_matches_fp32(tmp_path: Path) -> None:
    """bf16 + channels_last + device augmentation vs fp32 contiguous, same weights and batch: the
    loss terms agree to bf16 precision, and a step trains."""
    values = {**TINY, "run.device": "cuda", "data.height": 192, "data.width": 640}
    reference = Trainer(load_config(values={**values, "run.precision": "fp32", "run.channels_last": False}),
                        tmp_path / "fp32")
    fast = Trainer(load_config(values={**values, "run.precision": "auto"}), tmp_path / "fast")
    assert fast.autocast_dtype == torch.bfloat16 and fast.channels_last
    fast.model.load_state_dict(reference.model.state_dict())
    fast.pose_net.load_state_dict(reference.pose_net.state_dict())
    batch = next(iter(fast._loader(fast.train_set, [0, 1, 2], 0)))
    expected, actual = _first_step_terms(reference, batch), _first_step_terms(fast, batch)
    for name in ("photometric", "total"):
        assert actual[name] == pytest.approx(expected[name], rel=2e-2), name
    fast.train_step(batch)
    assert all(torch.isfinite(p).all() for p in fast.model.parameters())


@CUDA
def test_cuda_loss_readings_lag_one_step() -> None:
    readings = LossReadings(torch.device("cuda"))
    readings.put(1, torch.tensor(0.25, device="cuda"))
    readings.put(2, torch.tensor(float("nan"), device="cuda"))
    assert readings.take(keep_newest=True) == [(1, 0.25)]
    (step, value), = readings.take(keep_newest=False)
    assert step == 2 and value != value
