"""The self-supervised training loop (seed 000 Sec. 3-5.1, on the Monodepth2 regime).

One :class:`Trainer` owns the depth/semantic network, the pose network, Adam + StepLR, the AMP
GradScaler and the run folder::

    run_dir/config.yaml           resolved configuration
    run_dir/models/epoch_NNN.pt   node-usable checkpoint after epoch NNN (1-based)
    run_dir/models/last.pt        newest node-usable checkpoint (also written on stop)
    run_dir/resume.pt             full training state for ``resume=True``
    run_dir/tensorboard/          scalars and images
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from semdepth_ros.checkpoint import CheckpointMeta, save_checkpoint
from semdepth_ros.geometry import pose_vec_to_matrix
from semdepth_ros.metrics import compute_depth_errors, prepare_eval_pixels
from semdepth_ros.model import PoseNet, SemDepthNet
from semdepth_ros.model.pose_net import POSE_SCALE
from semdepth_ros.predictor import resolve_device
from semdepth_ros.visualize import colorize_depth
from semdepth_training.config import TrainConfig, save_config
from semdepth_training.datasets import SampleDataset, build_train_val
from semdepth_training.evaluation.pose import PoseErrors, pose_net_predictor, score_pairs
from semdepth_training.init_weights import InitWeights
from semdepth_training.losses import LossResult, compute_losses
from semdepth_training.provenance import run_provenance
from semdepth_training.run_state import (EpochSampler, GracefulStop, ignore_stop_signals_in_worker, rng_state,
                                         seed_everything, set_rng_state)
from semdepth_training.supervised_losses import compute_objective

RESUME_FILE = "resume.pt"
CONFIG_FILE = "config.yaml"
MODELS_DIR = "models"
TENSORBOARD_DIR = "tensorboard"
DEPTH_METRICS = ("abs_rel", "sq_rel", "rmse", "a1")


def build_datasets(config: TrainConfig, run_dir: Path) -> tuple[SampleDataset, SampleDataset | None]:
    """Training set (augmented) and validation set (None when the source has none).

    KITTI reads ``<split>/train_files.txt`` and ``val_files.txt`` from ``data.split`` when it is a
    folder, else fetches split ``data.split`` into ``run_dir/splits`` (copied from ``data.split_dir``
    when given, downloaded otherwise). A synthetic validation set defaults to seed ``run.seed + 1``,
    i.e. different streets from the training ones. Each kind's rules live in the dataset registry.
    """
    return build_train_val(config.data, config.run.seed, run_dir, config.run.validate)


class Trainer:
    """Builds everything from a :class:`TrainConfig`; ``resume=True`` restores ``run_dir/resume.pt``
    so that the continued run ends with the same weights as an uninterrupted one (deterministic
    settings)."""

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike, resume: bool = False) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self._check_run_dir(resume)
        self.device = resolve_device(config.run.device)
        self.amp = config.run.amp and self.device.type == "cuda"
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        seed_everything(config.run.seed)
        self.train_set, self.val_set = build_datasets(config, self.run_dir)
        self.sampler = EpochSampler(len(self.train_set), config.optim.batch_size, config.run.seed)
        # --init (run.init): weights to start from, read before the pose net is built (it may set the
        # pose net's translation unit); a resumed run has its own weights.
        init = InitWeights.read(config.run.init) if config.run.init and not resume else None
        if config.pose.translation_scale is None:  # resolved once, then saved with the config
            config.pose.translation_scale = (init and init.translation_scale()) or POSE_SCALE
        self.model = SemDepthNet(config.model).to(self.device)
        self.pose_net = PoseNet(config.pose.num_layers, config.pose.pretrained_path,
                                config.pose.translation_scale).to(self.device)
        self.init_info = None if init is None else init.apply(self.model, self.pose_net, config)
        self.wall_time = 0.0      # seconds spent in this run so far (all sessions)
        self._session_start = time.monotonic()
        params = list(self.model.parameters()) + list(self.pose_net.parameters())
        self.optimizer = torch.optim.Adam(params, lr=config.optim.learning_rate)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.optim.scheduler_step_size,
                                                         config.optim.scheduler_gamma)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.epoch = 0            # epochs completed
        self.batch_in_epoch = 0   # batches of epoch ``self.epoch`` completed
        self.step = 0             # optimiser steps completed
        self.last_val: dict[str, float] | None = None
        self.history: list[dict[str, float]] = []  # per-epoch validation results (the learning curve)
        self._saved_step = -1
        if resume:
            self._load_resume_state()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, self.run_dir / CONFIG_FILE)

    def _check_run_dir(self, resume: bool) -> None:
        state = self.run_dir / RESUME_FILE
        if resume and not state.is_file():
            raise FileNotFoundError(f"cannot resume: {state} does not exist (start without --resume)")
        if not resume and state.is_file():
            raise ValueError(f"{self.run_dir} already holds a run ({RESUME_FILE}); pass --resume to "
                             "continue it or choose another --out")

    # ---------------------------------------------------------------- training
    def _finished(self) -> bool:
        max_steps = self.config.run.max_steps
        return self.epoch >= self.config.optim.num_epochs or (max_steps is not None and self.step >= max_steps)

    def train(self) -> dict[str, Any]:
        """Train until ``num_epochs`` or ``max_steps``, or a stop signal; always leaves a resumable state."""
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when training

        with GracefulStop() as stop, SummaryWriter(self.run_dir / TENSORBOARD_DIR,
                                                   purge_step=self.step or None) as writer:
            while not self._finished() and not stop.requested:
                self._train_epoch(writer, stop)
                if self.batch_in_epoch == self.sampler.batches_per_epoch:
                    self._end_epoch(writer)
            if self._saved_step != self.step:
                self._save()
        return {"epoch": self.epoch, "step": self.step, "stopped": stop.requested, "val": self.last_val}

    def _loader(self, dataset: SampleDataset, sampler: EpochSampler | None, generator_seed: int) -> DataLoader:
        return DataLoader(dataset, batch_size=self.config.optim.batch_size, sampler=sampler,
                          num_workers=self.config.data.num_workers, pin_memory=self.device.type == "cuda",
                          drop_last=sampler is not None, worker_init_fn=ignore_stop_signals_in_worker,
                          generator=torch.Generator().manual_seed(generator_seed))

    def _train_epoch(self, writer: Any, stop: GracefulStop) -> None:
        cfg = self.config
        self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        self.train_set.set_epoch(self.epoch)
        # A private generator: creating an iterator must not consume the global RNG, or a resumed run
        # (one more iterator) would drift from an uninterrupted one.
        loader = self._loader(self.train_set, self.sampler, cfg.run.seed * 1_000_003 + self.epoch)
        self.model.train()
        self.pose_net.train()
        progress = tqdm(loader, total=self.sampler.batches_per_epoch, initial=self.batch_in_epoch,
                        desc=f"epoch {self.epoch + 1}/{cfg.optim.num_epochs}", unit="batch", dynamic_ncols=True)
        start, images = time.perf_counter(), 0
        for batch in progress:
            result, outputs = self.train_step(batch)
            self.step += 1
            self.batch_in_epoch += 1
            images += cfg.optim.batch_size
            rate = images / (time.perf_counter() - start)
            loss = result.terms["total"].item()
            if not math.isfinite(loss):
                raise RuntimeError(f"loss became {loss} at step {self.step}; lower optim.learning_rate "
                                   "or check the data (resume continues from the last good checkpoint)")
            progress.set_postfix(loss=f"{loss:.4f}", img_s=f"{rate:.1f}")
            if self.step % cfg.run.log_every == 0:
                self._log_scalars(writer, result, rate)
            if self.step % cfg.run.image_every == 0:
                self._log_images(writer, batch, outputs, result)
            if self._finished() or stop.requested:
                break
        progress.close()

    def _to_device(self, batch: dict[Any, Any]) -> dict[Any, Any]:
        return {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}

    def predict_poses(self, inputs: dict[Any, Any]) -> dict[int, torch.Tensor]:
        """T (target -> source, 4x4) per source frame. Monodepth2 pairs frames in time order: source -1
        is fed as (-1, 0) and the result inverted, +1 as (0, +1); the pose net sees the jittered
        images like the depth net."""
        if self.config.pose.source == "dataset":
            if not bool(inputs["pose_valid"].all()):
                raise ValueError("pose.source is 'dataset' but this dataset has no camera poses "
                                 "(image folders need poses.txt; KITTI raw has none here)")
            return {f: _scale_translation(inputs[("T", f)], 1.0 / self.config.pose.dataset_scale)
                    for f in self.config.data.frame_ids if f != 0}
        poses = {}
        for f in self.config.data.frame_ids:
            if f == 0:
                continue
            pair = (inputs[("color_aug", f, 0)], inputs[("color_aug", 0, 0)])
            with torch.autocast(self.device.type, enabled=self.amp):
                axisangle, translation = self.pose_net(*(pair if f < 0 else pair[::-1]))
            poses[f] = pose_vec_to_matrix(axisangle.float(), translation.float(), invert=f < 0)
        return poses

    def train_step(self, batch: dict[Any, Any]) -> tuple[LossResult, dict[Any, torch.Tensor]]:
        """One optimiser step: networks on jittered colour, losses on the original colour."""
        inputs = self._to_device(batch)
        with torch.autocast(self.device.type, enabled=self.amp):
            outputs = self.model(inputs[("color_aug", 0, 0)])
        poses = self.predict_poses(inputs)
        # Losses in fp32 outside autocast: SSIM variances and BCE are not half-precision safe.
        outputs = {k: v.float() for k, v in outputs.items() if isinstance(k, tuple)}
        result = compute_objective(inputs, outputs, poses, self.config.loss)  # loss.mode picks it
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(result.total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return result, outputs

    def _end_epoch(self, writer: Any) -> None:
        self.scheduler.step()
        self.epoch += 1
        self.batch_in_epoch = 0
        self.last_val = self.validate()
        if self.last_val is not None:
            self.history.append({"epoch": self.epoch, "step": self.step, **self.last_val})
            for name, value in self.last_val.items():
                writer.add_scalar(f"val/{name}", value, self.step)
            tqdm.write(f"epoch {self.epoch}: validation " + ", ".join(f"{k} {v:.4g}" for k, v in self.last_val.items()))
        self._save(epoch_file=True)

    # ---------------------------------------------------------------- validation
    @torch.no_grad()
    def validate(self) -> dict[str, float] | None:
        """Held-out frames: ``photometric``, the loss Lp of the model's own depth and poses (needs no
        ground truth, so image folders get a validation signal too), and, where ``depth_valid``, the
        median-scaled depth metrics vs ``depth_gt`` averaged over images (seed 000 Table 1 protocol,
        via semdepth_ros.metrics). A run whose depth is metric (pre-training, dataset poses) adds
        ``metric_abs_rel`` (no median scaling); pre-training adds the pose net's errors against the
        true motion, pairs scored in both temporal directions (evaluation.pose). None without a
        validation set."""
        if self.val_set is None:
            return None
        self.model.eval()
        self.pose_net.eval()
        photometric, frames = 0.0, 0
        sums, images = dict.fromkeys(DEPTH_METRICS, 0.0), 0
        metric_scale, metric_abs_rel = self.metric_scale(), 0.0
        pose_errors = PoseErrors() if self.config.loss.mode == "supervised" and self.config.pose.source == "network" \
            else None
        for batch in self._loader(self.val_set, None, 0):
            inputs = self._to_device(batch)
            with torch.autocast(self.device.type, enabled=self.amp):
                outputs = self.model(inputs[("color", 0, 0)])
            outputs = {k: v.float() for k, v in outputs.items() if isinstance(k, tuple)}
            result = compute_losses(inputs, outputs, self.predict_poses(inputs), self.config.loss)
            if pose_errors is not None and bool(inputs["pose_valid"].any()):
                score_pairs(pose_net_predictor(self.pose_net), inputs, pose_errors)
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
        metrics = {"photometric": photometric / frames, "frames": frames}
        if images:
            metrics.update({k: v / images for k, v in sums.items()}, images=images)
            if metric_scale is not None:
                metrics["metric_abs_rel"] = metric_abs_rel / images
        if pose_errors is not None and pose_errors.translation:
            metrics.update(pose_errors.result())
        return metrics

    def metric_scale(self) -> float | None:
        """The factor that turns this run's depth into metres, None when it has no metric scale:
        pre-training learns metres (1), dataset poses fix the scale to ``pose.dataset_scale``."""
        if self.config.loss.mode == "supervised":
            return 1.0
        return self.config.pose.dataset_scale if self.config.pose.source == "dataset" else None

    # ---------------------------------------------------------------- logging
    def _log_scalars(self, writer: Any, result: LossResult, rate: float) -> None:
        for name, value in result.terms.items():
            writer.add_scalar(f"loss/{name}", value.item(), self.step)
        writer.add_scalar("lr", self.optimizer.param_groups[0]["lr"], self.step)
        writer.add_scalar("images_per_sec", rate, self.step)

    def _log_images(self, writer: Any, batch: dict[Any, Any], outputs: dict[Any, torch.Tensor],
                    result: LossResult) -> None:
        """First sample of the batch: target, depth, auto-mask, a warped source, foreground."""
        def rgb(t: torch.Tensor) -> np.ndarray:
            return (t[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)

        images = {"target": rgb(batch[("color", 0, 0)]), "warped": rgb(result.warped),
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
        scale = self.metric_scale()
        source = "none" if scale is None else ("synthetic metric depth" if cfg.loss.mode == "supervised"
                                               else "dataset poses")
        wall_time = self.wall_time + time.monotonic() - self._session_start
        return CheckpointMeta(model_config=cfg.model, input_height=cfg.data.height, input_width=cfg.data.width,
                              min_depth=cfg.loss.min_depth, max_depth=cfg.loss.max_depth,
                              scale_factor=1.0 if scale is None else scale, scale_source=source,
                              training={"epoch": self.epoch, "step": self.step, "val": self.last_val,
                                        "config": cfg.to_dict()},
                              provenance=run_provenance(cfg, self.run_dir, self.device, wall_time, self.init_info))

    def _save(self, epoch_file: bool = False) -> None:
        """Node checkpoint(s), then the resume state (each written atomically)."""
        models = self.run_dir / MODELS_DIR
        meta = self.checkpoint_meta()
        pose_net = self.pose_net if self.config.pose.source == "network" else None  # else untrained
        if epoch_file:
            save_checkpoint(models / f"epoch_{self.epoch:03d}.pt", self.model, meta, pose_net=pose_net)
        save_checkpoint(models / "last.pt", self.model, meta, pose_net=pose_net)
        state = {"model": self.model.state_dict(), "pose_net": self.pose_net.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "scaler": self.scaler.state_dict(), "epoch": self.epoch, "step": self.step,
                 "batch_in_epoch": self.batch_in_epoch, "last_val": self.last_val, "history": self.history,
                 "rng": rng_state(), "wall_time": meta.provenance["wall_time_s"], "init": self.init_info,
                 "data": self._data_signature(), "model_config": dataclasses.asdict(self.config.model),
                 "pose_config": self.pose_net.config()}
        path = self.run_dir / RESUME_FILE
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        self._saved_step = self.step
        tqdm.write(f"saved step {self.step} (epoch {self.epoch}, batch {self.batch_in_epoch}) to {self.run_dir}")

    def _data_signature(self) -> dict[str, int]:
        """What the saved batch position means; resuming with other values would skip the wrong data."""
        return {"num_samples": self.sampler.num_samples, "batch_size": self.sampler.batch_size,
                "seed": self.sampler.seed}

    def _load_resume_state(self) -> None:
        path = self.run_dir / RESUME_FILE
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["data"] != self._data_signature():
            raise ValueError(f"cannot resume {path}: it was saved for data {state['data']} but the config now "
                             f"gives {self._data_signature()}; resume with the run's own config.yaml")
        if state["model_config"] != dataclasses.asdict(self.config.model):
            raise ValueError(f"cannot resume {path}: model config changed since the run started")
        if state.get("pose_config", self.pose_net.config()) != self.pose_net.config():
            raise ValueError(f"cannot resume {path}: pose net {state['pose_config']} but the config now gives "
                             f"{self.pose_net.config()}; resume with the run's own config.yaml")
        self.model.load_state_dict(state["model"])
        self.pose_net.load_state_dict(state["pose_net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step, self.batch_in_epoch = state["epoch"], state["step"], state["batch_in_epoch"]
        self.last_val, self.history = state["last_val"], state["history"]
        self.wall_time, self.init_info = state.get("wall_time", 0.0), state.get("init")
        self._saved_step = self.step
        set_rng_state(state["rng"])


def _scale_translation(transform: torch.Tensor, factor: float) -> torch.Tensor:
    """[B,4,4] rigid transforms with their translation multiplied by ``factor``."""
    scaled = transform.clone()
    scaled[:, :3, 3] *= factor
    return scaled
