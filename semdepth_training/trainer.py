"""The training loop: self-supervised (Semantic-Guided Representation Enhancement, Sec. 3-5.1, on the
Monodepth2 regime), or the synthetic pre-training on exact labels (``loss.mode: supervised``).

One :class:`Trainer` owns the depth/semantic network, the pose network, Adam + StepLR, the AMP
GradScaler and the run folder::

    run_dir/config.yaml           resolved configuration
    run_dir/models/epoch_NNN.pt   node-usable checkpoint after epoch NNN (1-based)
    run_dir/models/last.pt        newest node-usable checkpoint (every save: periodic, epoch end, stop)
    run_dir/resume.pt             full training state for ``resume=True`` (same cadence)
    run_dir/tensorboard/          scalars and images

Under ``torchrun`` one Trainer runs per process (:mod:`semdepth_training.distributed`); rank 0
alone writes that folder.

Speed (docs/training.md): the loader workers return uint8 frames at the training size and the
augmentation parameters, and :meth:`Trainer.prepare_batch` builds the flipped, jittered image pyramid
batched on the device (``data.augment_on``); the networks run under autocast (``run.precision``) in
channels_last; the step never waits for the device (the loss is read one step late,
:class:`LossReadings`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from semdepth_ros.checkpoint import CheckpointMeta, load_guide_weights, save_checkpoint, with_branch_guide
from semdepth_ros.geometry import pose_vec_to_matrix
from semdepth_ros.metrics import compute_depth_errors, prepare_eval_pixels
from semdepth_ros.model import PoseNet, SemDepthNet
from semdepth_ros.model.guide import foreground_ids
from semdepth_ros.model.pose_net import POSE_SCALE
from semdepth_ros.predictor import resolve_device
from semdepth_ros.visualize import colorize_depth
from semdepth_training.config import OptimConfig, TrainConfig, save_config
from semdepth_training.datasets import SampleDataset, build_train_val
from semdepth_training.datasets.augment import upload
from semdepth_training.datasets.base import FrameSubset, read_excluded
from semdepth_training.datasets.batch import collate_expanded, expand_batch, is_compact
from semdepth_training.distributed import World
from semdepth_training.evaluation.pose import PoseErrors, pose_net_predictor, score_pairs
from semdepth_training.init_weights import InitWeights
from semdepth_training.losses import LossResult, compute_losses, with_odometry_term
from semdepth_training.provenance import run_provenance
from semdepth_training.run_state import (EpochSampler, GracefulStop, LossReadings, atomic_save,
                                         ignore_stop_signals_in_worker, non_finite, remove_stale_tmp, seed_everything,
                                         seed_step)
from semdepth_training.supervised_losses import compute_objective
from semdepth_training.sync_batchnorm import convert_sync_batchnorm

RESUME_FILE = "resume.pt"
CONFIG_FILE = "config.yaml"
MODELS_DIR = "models"
TENSORBOARD_DIR = "tensorboard"
DEPTH_METRICS = ("abs_rel", "sq_rel", "rmse", "a1")


def build_datasets(config: TrainConfig, run_dir: Path,
                   progress: bool = True) -> tuple[SampleDataset, SampleDataset | None]:
    """Training set (augmented) and validation set (None when the source has none).

    KITTI reads ``<split>/train_files.txt`` and ``val_files.txt`` from ``data.split`` when it is a
    folder, else fetches split ``data.split`` into ``run_dir/splits`` (copied from ``data.split_dir``
    when given, downloaded otherwise). A synthetic validation set defaults to seed ``run.seed + 1``,
    i.e. different streets from the training ones. Each kind's rules live in the dataset registry.
    With ``data.cache_dir`` the frame cache is built here (``progress``: its progress bar).
    ``data.exclude`` leaves training samples out (two-stage training, semdepth_training.two_stage).
    """
    train, val = build_train_val(config.data, config.run.seed, run_dir, config.run.validate, progress)
    if config.data.exclude is not None:
        train = FrameSubset.excluding(train, read_excluded(config.data.exclude))
    return train, val


class DepthBranch(nn.Module):
    """The depth/semantic net returning only the scales the loss reads (``loss.scales``): the heads of
    other scales then lie outside the returned graph, and DDP learns once that they get no gradient
    (a returned but unused output would make it wait for their gradients for ever)."""

    def __init__(self, model: SemDepthNet, scales: Iterable[int]) -> None:
        super().__init__()
        self.model = model
        self.scales = tuple(scales)

    def forward(self, images: torch.Tensor, classes: torch.Tensor | None = None) -> dict[Any, torch.Tensor]:
        outputs = self.model(images, classes)
        return {k: v for k, v in outputs.items() if isinstance(k, tuple) and k[1] in self.scales}


class PoseBranch(nn.Module):
    """The pose net over all of a step's frame pairs in one call, so that its DDP wrapper sees one
    forward per step (the static graph it is built for) although the net runs once per pair."""

    def __init__(self, pose_net: PoseNet) -> None:
        super().__init__()
        self.pose_net = pose_net

    def forward(self, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [self.pose_net(frame_a, frame_b) for frame_a, frame_b in pairs]


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The networks' autocast dtype for ``run.precision`` (None: fp32). "auto": bf16 on a CUDA device
    that has it (the range of fp32, so no loss scaling), fp16 on older GPUs, fp32 on the CPU."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def scaled_learning_rate(optim: OptimConfig, world_size: int) -> float:
    """``optim.learning_rate`` for a batch ``world_size`` times larger, per ``optim.lr_scaling``."""
    factor = {"none": 1.0, "linear": float(world_size), "sqrt": math.sqrt(world_size)}[optim.lr_scaling]
    return optim.learning_rate * factor


class Trainer:
    """Builds everything from a :class:`TrainConfig`; ``resume=True`` restores ``run_dir/resume.pt``
    so that the continued run ends with the same weights as an uninterrupted one (deterministic
    settings).

    ``world`` places this process among the ranks of a torchrun job (default: one process on
    ``run.device``). Each rank trains on its own slice of every global batch; the depth net and,
    when it is trained, the pose net run inside DistributedDataParallel; rank 0 alone writes files.
    """

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False,
                 world: World | None = None) -> None:
        # A "branch" guide's architecture comes from its checkpoint file, so users name only the file.
        self.config = config = dataclasses.replace(config, model=with_branch_guide(config.model))
        self.run_dir = Path(run_dir)
        self.world = world or World(resolve_device(config.run.device))
        self.device = self.world.device
        self.autocast_dtype = autocast_dtype(config.run.precision, self.device)
        self.channels_last = (config.run.channels_last if config.run.channels_last is not None
                              else self.device.type == "cuda")
        self.augment_on_device = config.data.augment_on == "device" or (
            config.data.augment_on == "auto" and self.device.type == "cuda")
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        has_state = self._check_run_dir(resume)
        if self.world.is_main:
            for path in remove_stale_tmp([self.run_dir, self.run_dir / MODELS_DIR]):
                self._say(f"removed {path} (left by a save that was killed)")
        seed_everything(config.run.seed)
        self.train_set, self.val_set = build_datasets(config, self.run_dir, progress=self.world.is_main)
        self.sampler = EpochSampler(len(self.train_set), config.optim.batch_size, config.run.seed,
                                    self.world.rank, self.world.size)
        # --init (run.init): weights to start from, read before the pose net is built (it may set the
        # pose net's translation unit); a resumed run has its own weights.
        init = InitWeights.read(config.run.init) if config.run.init and not has_state else None
        if config.pose.translation_scale is None:  # resolved once, then saved with the config
            config.pose.translation_scale = (init and init.translation_scale()) or POSE_SCALE
        self.model = SemDepthNet(config.model)
        self.pose_net = PoseNet(config.pose.num_layers, config.pose.pretrained_path, config.pose.translation_scale)
        self.init_info = None if init is None else init.apply(self.model, self.pose_net, config, say=self._say)
        load_guide_weights(self.model)  # after --init: the guide the config names wins
        self.wall_time = 0.0      # seconds spent in this run so far (all sessions)
        self._session_start = time.monotonic()
        if config.run.sync_batchnorm and self.world.distributed:
            self.model = convert_sync_batchnorm(self.model, self.device)
            self.pose_net = convert_sync_batchnorm(self.pose_net, self.device)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model.to(self.device, memory_format=memory_format)
        self.pose_net.to(self.device, memory_format=memory_format)
        params = list(self.model.parameters()) + list(self.pose_net.parameters())
        # fused: one kernel for the whole update instead of a few per parameter group (CUDA only).
        self.optimizer = torch.optim.Adam(params, lr=scaled_learning_rate(config.optim, self.world.size),
                                          fused=self.device.type == "cuda")
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.optim.scheduler_step_size,
                                                         config.optim.scheduler_gamma)
        # Loss scaling only for fp16, whose range gradients underflow; bf16 has fp32's range.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)
        self.epoch = 0            # epochs completed
        self.batch_in_epoch = 0   # global batches of epoch ``self.epoch`` completed
        self.step = 0             # optimiser steps completed
        self.last_val: dict[str, float] | None = None
        self.history: list[dict[str, float]] = []  # per-epoch validation results (the learning curve)
        self._saved_step = -1
        self._last_save_time = time.monotonic()
        self._stopping = False
        if has_state:
            self._load_resume_state()
        # What forward passes go through: the DDP wrappers under torchrun, else the networks themselves.
        # The pose net is left out when ``pose.source`` is "dataset": it gets no gradient there.
        self.pose_branch = PoseBranch(self.pose_net)
        self.depth_module = self.world.wrap(DepthBranch(self.model, config.loss.scales))
        self.pose_module = self.world.wrap(self.pose_branch) if config.pose.source == "network" else self.pose_branch
        self.losses = compute_objective  # loss.mode picks it
        if config.run.compile:
            self.depth_module = torch.compile(self.depth_module)
            self.pose_module = torch.compile(self.pose_module)
            self.losses = torch.compile(compute_objective)
        if self.world.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.run_dir / CONFIG_FILE)

    def _check_run_dir(self, resume: bool) -> bool:
        """Whether there is a saved state to load."""
        state = self.run_dir / RESUME_FILE
        if resume and not state.is_file():
            self._say(f"{self.run_dir} holds no saved state yet (stopped before its first save): "
                      "starting the run from step 0")
            return False
        if not resume and state.is_file():
            raise ValueError(f"{self.run_dir} already holds a run ({RESUME_FILE}); pass --resume to "
                             "continue it or choose another --out")
        return resume

    def _say(self, message: str) -> None:
        if self.world.is_main:
            tqdm.write(message)

    # ---------------------------------------------------------------- training
    def _finished(self) -> bool:
        max_steps = self.config.run.max_steps
        return self.epoch >= self.config.optim.num_epochs or (max_steps is not None and self.step >= max_steps)

    def train(self) -> dict[str, Any]:
        """Train until ``num_epochs`` or ``max_steps``, or a stop signal; always leaves a resumable state."""
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when training

        tensorboard = (SummaryWriter(self.run_dir / TENSORBOARD_DIR, purge_step=self.step or None)
                       if self.world.is_main else contextlib.nullcontext())  # None on the other ranks
        self._stopping = False
        self._last_save_time = time.monotonic()
        with GracefulStop(announce=self.world.is_main) as stop, tensorboard as writer:
            while not self._finished() and not self._stopping:
                self._train_epoch(writer, stop)
                if self.batch_in_epoch == self.sampler.batches_per_epoch:
                    self._end_epoch(writer)
            if self._saved_step != self.step:
                self.save()
        return {"epoch": self.epoch, "step": self.step, "stopped": self._stopping, "val": self.last_val}

    def _loader(self, dataset: SampleDataset, sampler: Iterable[int], generator_seed: int) -> DataLoader:
        """Workers return compact batches (uint8 frames, augmentation parameters) to expand on the
        device, or batches they expanded themselves on the CPU (``data.augment_on``)."""
        collate = None if self.augment_on_device else collate_expanded
        return DataLoader(dataset, batch_size=self.config.optim.batch_size, sampler=sampler,
                          num_workers=self.config.data.num_workers, pin_memory=self.device.type == "cuda",
                          worker_init_fn=ignore_stop_signals_in_worker, collate_fn=collate,
                          generator=torch.Generator().manual_seed(generator_seed))

    def _train_epoch(self, writer: Any, stop: GracefulStop) -> None:
        cfg = self.config
        self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        self.train_set.set_epoch(self.epoch)
        # A private generator: creating an iterator must not consume the global RNG.
        loader = self._loader(self.train_set, self.sampler, cfg.run.seed * 1_000_003 + self.epoch)
        self.depth_module.train()
        self.pose_module.train()
        progress = tqdm(loader, total=self.sampler.batches_per_epoch, initial=self.batch_in_epoch,
                        desc=f"epoch {self.epoch + 1}/{cfg.optim.num_epochs}", unit="batch", dynamic_ncols=True,
                        disable=not self.world.is_main)
        start, images = time.perf_counter(), 0
        losses = LossReadings(self.device)
        for batch in progress:
            seed_step(cfg.run.seed, self.world.rank, self.step)
            result, outputs = self.train_step(batch)
            self.step += 1
            self.batch_in_epoch += 1
            images += cfg.optim.batch_size * self.world.size
            rate = images / (time.perf_counter() - start)
            losses.put(self.step, result.terms["total"])
            last = self._finished() or self.batch_in_epoch == self.sampler.batches_per_epoch
            # Every rank must take the same decision at the same step, or the others would wait in
            # the next collective for one that left.
            self._stopping, loss = self._check_losses(losses, stop, keep_newest=not last)
            if loss is not None:
                progress.set_postfix(loss=f"{loss:.4f}", img_s=f"{rate:.1f}")
            if self.step % cfg.run.log_every == 0:
                self._log_scalars(writer, result, rate)
            if self.step % cfg.run.image_every == 0 and self.world.is_main:
                self._log_images(writer, batch, outputs, result)
            if self._finished() or self._stopping:
                break
            if self.batch_in_epoch < self.sampler.batches_per_epoch and self._save_due():
                self.save()  # the epoch's end saves anyway
        self._check_losses(losses, stop, keep_newest=False)
        progress.close()

    def _check_losses(self, losses: LossReadings, stop: GracefulStop,
                      keep_newest: bool) -> tuple[bool, float | None]:
        """(stop now, newest loss read) after checking the losses read so far; raises at a
        non-finite one. Every rank takes part (its decision must be every rank's)."""
        readings = losses.take(keep_newest)
        bad = [step for step, value in readings if not math.isfinite(value)]
        stopping, diverged = self.world.any(stop.requested or self._stopping, bool(bad))
        if diverged:
            step = f"step {bad[0]}" if bad else "a step of another process"
            raise RuntimeError(f"the loss became non-finite (NaN/Inf) at {step}; lower "
                               "optim.learning_rate or check the data (--resume continues from the last "
                               f"saved state, step {max(self._saved_step, 0)})")
        return stopping, readings[-1][1] if readings else None

    def _save_due(self) -> bool:
        run = self.config.run
        if run.save_every_steps is not None and self.step % run.save_every_steps == 0:
            return True
        return (run.save_every_minutes is not None
                and time.monotonic() - self._last_save_time >= 60 * run.save_every_minutes)

    def prepare_batch(self, batch: dict[Any, Any]) -> dict[Any, Any]:
        """A loader batch as the inputs of :meth:`compute_loss`, on this device: compact batches are
        expanded here (flips, image pyramid, jitter, batched), network inputs made channels_last."""
        if is_compact(batch):
            inputs = expand_batch(batch, self.device)
        else:
            inputs = {k: upload(v, self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        if self.channels_last:
            for f in self.config.data.frame_ids:
                inputs[("color_aug", f, 0)] = inputs[("color_aug", f, 0)].contiguous(memory_format=torch.channels_last)
        return inputs

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)

    def predict_poses(self, inputs: dict[Any, Any], pose_module: nn.Module) -> dict[int, torch.Tensor]:
        """T (target -> source, 4x4) per source frame. Monodepth2 pairs frames in time order: source -1
        is fed as (-1, 0) and the result inverted, +1 as (0, +1); the pose net sees the jittered
        images like the depth net. ``pose_module`` is a :class:`PoseBranch` (or its DDP wrapper)."""
        sources = [f for f in self.config.data.frame_ids if f != 0]
        if self.config.pose.source == "dataset":
            if not bool(inputs["pose_valid"].all()):
                raise ValueError("pose.source is 'dataset' but this dataset has no camera poses "
                                 "(image folders need poses.txt; KITTI raw has none here)")
            return {f: _scale_translation(inputs[("T", f)], 1.0 / self.config.pose.dataset_scale) for f in sources}
        target = inputs[("color_aug", 0, 0)]
        pairs = [(inputs[("color_aug", f, 0)], target) if f < 0 else (target, inputs[("color_aug", f, 0)])
                 for f in sources]
        with self._autocast():
            vectors = pose_module(pairs)
        return {f: pose_vec_to_matrix(axisangle.float(), translation.float(), invert=f < 0)
                for f, (axisangle, translation) in zip(sources, vectors)}

    def compute_loss(self, inputs: dict[Any, Any]) -> tuple[LossResult, dict[Any, torch.Tensor]]:
        """The objective of one step, on device inputs: networks on jittered colour, losses on the
        original colour (the place for another training stage to change what is minimised)."""
        with self._autocast():
            outputs = self.depth_module(inputs[("color_aug", 0, 0)], self.input_classes(inputs))
        poses = self.predict_poses(inputs, self.pose_module)
        # Losses in fp32 outside autocast: SSIM variances and BCE are not half-precision safe.
        outputs = {k: v.float() for k, v in outputs.items()}
        result = self.losses(inputs, outputs, poses, self.config.loss, self.metric_scale)
        pose = self.config.pose
        if pose.odometry_weight > 0:  # the pose net anchored to the recording's odometry (semdepth adapt)
            result = with_odometry_term(result, poses, inputs, 1.0 / pose.dataset_scale, pose.odometry_weight)
        return result, outputs

    def train_step(self, batch: dict[Any, Any]) -> tuple[LossResult, dict[Any, torch.Tensor]]:
        """One optimiser step on this rank's slice of the batch (DDP averages the gradients)."""
        result, outputs = self.compute_loss(self.prepare_batch(batch))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(result.total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return result, outputs

    def input_classes(self, inputs: dict[Any, Any]) -> torch.Tensor | None:
        """SIGNet's input class maps from the data (train ids, or foreground for the 2-class set) when
        the network takes them and every sample of the batch has them; else None (the guide's)."""
        model = self.config.model
        if model.semantic_input == "none" or not bool(inputs["classes_valid"].all()):
            return None
        ids = inputs[("classes", 0)]
        return foreground_ids(ids) if model.semantic_input_classes == "foreground" else ids

    @property
    def metric_scale(self) -> float | None:
        """The factor that turns this run's depth into metres, None when it has no metric scale:
        pre-training learns metres (1), dataset poses fix the scale to ``pose.dataset_scale``."""
        if self.config.loss.mode == "supervised":
            return 1.0
        return self.config.pose.dataset_scale if self.config.pose.source == "dataset" else None

    def _end_epoch(self, writer: Any) -> None:
        self.scheduler.step()
        self.epoch += 1
        self.batch_in_epoch = 0
        self.last_val = self.validate()
        if self.last_val is not None:
            self.history.append({"epoch": self.epoch, "step": self.step, **self.last_val})
            if self.world.is_main:
                for name, value in self.last_val.items():
                    writer.add_scalar(f"val/{name}", value, self.step)
            self._say(f"epoch {self.epoch}: validation " + ", ".join(f"{k} {v:.4g}" for k, v in self.last_val.items()))
        self.save(epoch_file=True)

    # ---------------------------------------------------------------- validation
    @torch.no_grad()
    def validate(self) -> dict[str, float] | None:
        """Held-out frames: ``photometric``, the loss Lp of the model's own depth and poses (needs no
        ground truth, so image folders get a validation signal too), where ``depth_valid`` the
        median-scaled depth metrics vs ``depth_gt`` averaged over images (the protocol of
        Semantic-Guided Representation Enhancement, Table 1, via semdepth_ros.metrics). A run whose
        depth is metric (pre-training, dataset poses) adds ``metric_abs_rel`` (no median scaling). Where
        the frames have camera poses and the pose net is trained, its errors against the true motion,
        every pair scored in both temporal orders (:mod:`semdepth_training.evaluation.pose`):
        ``pose_cosine`` (translation direction, pairs moving >= 0.1 m), ``pose_rotation_error``
        (degrees), ``pose_pairs`` and, when the pose net is metric (pre-training),
        ``pose_translation_error`` (metres). None without a validation set.

        Distributed, each rank scores every world_size-th frame with rank 0's BatchNorm statistics
        and the sums are added up, so every rank returns the metrics of the whole set.
        """
        if self.val_set is None:
            return None
        self.world.broadcast_buffers(self.model)
        self.world.broadcast_buffers(self.pose_net)
        seed_step(self.config.run.seed, self.world.rank, self.step, stream=1)
        self.model.eval()
        self.pose_net.eval()
        photometric, frames = 0.0, 0
        sums, images = dict.fromkeys(DEPTH_METRICS, 0.0), 0
        metric_scale, metric_abs_rel = self.metric_scale, 0.0
        pose_errors = PoseErrors() if self.config.pose.source == "network" else None
        predict = pose_net_predictor(self.pose_net)
        shard = range(self.world.rank, len(self.val_set), self.world.size)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        for batch in self._loader(self.val_set, shard, 0):
            inputs = self.prepare_batch(batch)
            with self._autocast():
                outputs = self.model(inputs[("color", 0, 0)].contiguous(memory_format=memory_format),
                                     self.input_classes(inputs))
            if pose_errors is not None and bool(inputs["pose_valid"].any()):
                score_pairs(predict, inputs, pose_errors)  # fp32
            outputs = {k: v.float() for k, v in outputs.items() if isinstance(k, tuple)}
            result = compute_losses(inputs, outputs, self.predict_poses(inputs, self.pose_branch), self.config.loss,
                                    metric_scale)
            photometric += result.terms["photometric"].item() * len(batch["index"])
            frames += len(batch["index"])
            depth = result.depth[:, 0].cpu().numpy()
            for i in np.flatnonzero(batch["depth_valid"].numpy() > 0):
                pixels = prepare_eval_pixels(batch["depth_gt"][i, 0].numpy(), depth[i], self.config.data.eval_crop)
                if pixels.gt.size:
                    errors = compute_depth_errors(pixels.gt, pixels.pred)
                    sums = {k: sums[k] + errors[k] for k in sums}
                    images += 1
                    if metric_scale is not None:
                        metric = prepare_eval_pixels(batch["depth_gt"][i, 0].numpy(), depth[i],
                                                     self.config.data.eval_crop, scale=metric_scale)
                        metric_abs_rel += compute_depth_errors(metric.gt, metric.pred)["abs_rel"]
        self.model.train()
        self.pose_net.train()
        local = torch.tensor([photometric, frames, images, metric_abs_rel, *sums.values()], dtype=torch.float64)
        if pose_errors is not None:
            local = torch.cat([local, pose_errors.sums])
        totals = self.world.sum(local)
        photometric, frames, images, metric_abs_rel = totals[:4].tolist()
        metric_sums = totals[4:4 + len(DEPTH_METRICS)].tolist()
        if pose_errors is not None:
            pose_errors.sums = totals[4 + len(DEPTH_METRICS):].cpu()
        metrics = {"photometric": photometric / frames, "frames": int(frames)}
        if images:
            metrics.update({k: v / images for k, v in zip(DEPTH_METRICS, metric_sums)}, images=int(images))
            if metric_scale is not None:
                metrics["metric_abs_rel"] = metric_abs_rel / images
        if pose_errors is not None and pose_errors.pairs:
            pose = pose_errors.result()
            if metric_scale is None:  # a self-supervised pose net's translation has no unit
                del pose["pose_translation_error"]
            metrics.update(pose)
        return metrics

    # ---------------------------------------------------------------- logging
    def _log_scalars(self, writer: Any, result: LossResult, rate: float) -> None:
        """Loss terms averaged over ranks (every rank takes part), written by rank 0."""
        names = list(result.terms)
        values = self.world.sum(torch.stack([result.terms[n].float() for n in names])) / self.world.size
        if not self.world.is_main:
            return
        for name, value in zip(names, values.tolist()):
            writer.add_scalar(f"loss/{name}", value, self.step)
        writer.add_scalar("lr", self.optimizer.param_groups[0]["lr"], self.step)
        writer.add_scalar("images_per_sec", rate, self.step)

    def _log_images(self, writer: Any, batch: dict[Any, Any], outputs: dict[Any, torch.Tensor],
                    result: LossResult) -> None:
        """First sample of the batch: target, depth, auto-mask, a warped source, foreground."""
        def rgb(t: torch.Tensor) -> np.ndarray:
            return (t[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)

        first = {k: v[:1] if torch.is_tensor(v) else v for k, v in batch.items()}
        target = (expand_batch(first) if is_compact(first) else first)[("color", 0, 0)]
        images = {"target": rgb(target), "warped": rgb(result.warped),
                  "depth": colorize_depth(result.depth[0, 0].cpu().numpy())}
        if result.automask is not None:
            images["automask"] = rgb(result.automask.float().expand(-1, 3, -1, -1))
        if ("fg", 0) in outputs:
            images["foreground"] = rgb(outputs[("fg", 0)].expand(-1, 3, -1, -1))
        for name, image in images.items():
            writer.add_image(f"images/{name}", image, self.step, dataformats="HWC")

    # ---------------------------------------------------------------- checkpoints
    def checkpoint_meta(self) -> CheckpointMeta:
        cfg = self.config
        scale = self.metric_scale
        source = "none" if scale is None else ("synthetic metric depth" if cfg.loss.mode == "supervised"
                                               else "dataset poses")
        wall_time = self.wall_time + time.monotonic() - self._session_start
        return CheckpointMeta(model_config=cfg.model, input_height=cfg.data.height, input_width=cfg.data.width,
                              min_depth=cfg.loss.min_depth, max_depth=cfg.loss.max_depth,
                              scale_factor=1.0 if scale is None else scale, scale_source=source,
                              scale_domain=self.scale_domain() if scale is not None else "none (no metric scale)",
                              training={"epoch": self.epoch, "step": self.step, "val": self.last_val,
                                        "processes": self.world.size, "config": cfg.to_dict()},
                              provenance=run_provenance(cfg, self.run_dir, self.device, wall_time, self.init_info))

    def scale_domain(self) -> str:
        """The data that set the metric scale (the checkpoint's metres hold there)."""
        data = self.config.data
        where = "the synthetic street world" if data.dataset == "synthetic" else f"{data.dataset} data at {data.path}"
        if self.config.loss.mode == "supervised":
            return f"{where} (exact depth labels, metres)"
        return f"{where} (training poses, x{self.config.pose.dataset_scale:g})"

    def save(self, epoch_file: bool = False) -> None:
        """Node checkpoint(s), then the resume state, each written atomically, by rank 0 only (the
        weights and optimiser state are the same on every rank). Refuses non-finite state, keeping
        the previous one. The node checkpoints carry the pose net when the run trains it (``--init``
        of a later run starts from it)."""
        if self.world.is_main:
            meta = self.checkpoint_meta()
            state = {"model": self.model.state_dict(), "pose_net": self.pose_net.state_dict(),
                     "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                     "scaler": self.scaler.state_dict(), "epoch": self.epoch, "step": self.step,
                     "batch_in_epoch": self.batch_in_epoch, "last_val": self.last_val, "history": self.history,
                     "wall_time": meta.provenance["wall_time_s"], "init": self.init_info,
                     "data": self._data_signature(), "model_config": dataclasses.asdict(self.config.model),
                     "pose_config": self.pose_net.config()}
            bad = non_finite(_named_tensors(state))
            if bad:
                kept = (f"{self.run_dir / RESUME_FILE} still holds step {self._saved_step}"
                        if self._saved_step >= 0 else "nothing was saved")
                raise RuntimeError(f"refusing to save step {self.step}: {len(bad)} tensor(s) hold NaN or Inf "
                                   f"(e.g. {bad[0]}); {kept}; lower optim.learning_rate or check the data")
            models = self.run_dir / MODELS_DIR
            pose_net = self.pose_net if self.config.pose.source == "network" else None  # else untrained
            if epoch_file:
                save_checkpoint(models / f"epoch_{self.epoch:03d}.pt", self.model, meta, pose_net=pose_net)
            save_checkpoint(models / "last.pt", self.model, meta, pose_net=pose_net)
            atomic_save(state, self.run_dir / RESUME_FILE)
            self._say(f"saved step {self.step} (epoch {self.epoch}, batch {self.batch_in_epoch}) to {self.run_dir}")
        self._saved_step = self.step
        self._last_save_time = time.monotonic()

    def _data_signature(self) -> dict[str, int]:
        """What the saved batch position means; resuming with other values would skip the wrong data."""
        return {"num_samples": self.sampler.num_samples, "batch_size": self.sampler.batch_size,
                "seed": self.sampler.seed, "world_size": self.sampler.world_size}

    def _load_resume_state(self) -> None:
        path = self.run_dir / RESUME_FILE
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = {"world_size": 1, **state["data"]}
        if saved != self._data_signature():
            raise ValueError(f"cannot resume {path}: it was saved for data {saved} but now gives "
                             f"{self._data_signature()}; resume with the run's own config.yaml and as many "
                             "processes (torchrun --nproc_per_node x nodes) as it had")
        if state["model_config"] != dataclasses.asdict(self.config.model):
            raise ValueError(f"cannot resume {path}: model config changed since the run started")
        if state.get("pose_config", self.pose_net.config()) != self.pose_net.config():
            raise ValueError(f"cannot resume {path}: pose net {state['pose_config']} but the config now gives "
                             f"{self.pose_net.config()}; resume with the run's own config.yaml")
        self.model.load_state_dict(state["model"])
        self.pose_net.load_state_dict(state["pose_net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"] and self.scaler.is_enabled():  # empty when saved without fp16 loss scaling
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step, self.batch_in_epoch = state["epoch"], state["step"], state["batch_in_epoch"]
        self.last_val, self.history = state["last_val"], state["history"]
        self.wall_time, self.init_info = state.get("wall_time", 0.0), state.get("init")
        self._saved_step = self.step
        self._say(f"resuming {self.run_dir} at step {self.step} (epoch {self.epoch}, batch {self.batch_in_epoch})")


def _named_tensors(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights and optimiser moments of a resume state, flat and named for error messages."""
    named = {f"depth net {k}": v for k, v in state["model"].items()}
    named.update({f"pose net {k}": v for k, v in state["pose_net"].items()})
    for index, moments in state["optimizer"]["state"].items():
        named.update({f"optimizer state {index} {k}": v for k, v in moments.items()})
    return named


def _scale_translation(transform: torch.Tensor, factor: float) -> torch.Tensor:
    """[B,4,4] rigid transforms with their translation multiplied by ``factor``."""
    scaled = transform.clone()
    scaled[:, :3, 3] *= factor
    return scaled
