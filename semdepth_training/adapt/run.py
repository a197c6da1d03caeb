"""Adapting a node checkpoint to a robot's own recording, self-supervised (`semdepth adapt`).

Each step leaves its result in the output folder, so a stopped run resumes where it was:

1. frames: the bags' images chosen and cached (`datasets.bag_cache`), with the counts of what was
   skipped and why;
2. motion and labels: without odometry (and without pose-net weights), the camera motion measured with
   the initial network (`adapt.motion`); with a semantic head, the initial network's masks as its
   labels (`adapt.labels`);
3. scale: with odometry, the factor that turns the initial network's depth into metres (`adapt.scale`);
4. before: the initial network on the held-back part (the last ``val_fraction`` of each bag's time):
   photometric error (`adapt.photometric`) and, when the bag has a LiDAR or depth topic, depth Abs Rel
   through eval-bag's own evaluation of exactly those images;
5. training: the project's Trainer on the training part, one epoch of ``steps`` batches (tqdm with ETA;
   Ctrl-C saves, ``resume`` continues); ego-motion from the odometry, the measured motion, or the pose
   net (anchored to the odometry when there is one);
6. the adapted checkpoint ``model.pt``, metric from the odometry (its factor measured again on the
   adapted network), else from a known camera height over the ground plane, else relative
   (scale_source "none"), as its metadata, the log and the report say;
7. after: the same evaluation, then ``report.md``, ``report.json`` and ``montage.png``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semdepth_ros.bag.eval_bag import CheckpointScale, EvalOptions, EvalResult, evaluate_offline
from semdepth_ros.bag.report import write_report
from semdepth_ros.bag.selection import FrameSelection
from semdepth_ros.checkpoint import CheckpointMeta, describe_architecture, load_checkpoint, resolve_checkpoint, \
    save_checkpoint
from semdepth_ros.model import SemDepthNet
from semdepth_ros.predictor import Predictor, resolve_device
from semdepth_training.adapt.labels import foreground_labels
from semdepth_training.adapt.motion import fitted_poses
from semdepth_training.adapt.photometric import evenly_spaced, held_back_errors
from semdepth_training.adapt.report import describe_motion, write_adapt_report
from semdepth_training.adapt.scale import odometry_scale
from semdepth_training.adapt.weights import check_pose_state, pose_translation_scale, read_pose_state
from semdepth_training.config import TrainConfig, load_config
from semdepth_training.datasets.bag_cache import BagFrames, BagSource, SelectionRules
from semdepth_training.datasets.registry import BAG_CACHE_DIR
from semdepth_training.datasets.rosbag import RosbagDataset
from semdepth_training.export import scale_from_camera_height
from semdepth_training.trainer import RESUME_FILE, Trainer

STATE_FILE = "adapt.json"
RUN_DIR = "run"
MODEL_FILE = "model.pt"
POSE_MODES = ("auto", "odometry", "network", "fit")
FITTED_POSES = "fitted_poses.npy"
FOREGROUND_LABELS = "foreground_labels.npy"


class AdaptError(RuntimeError):
    """The recording or the options cannot be adapted on; the message says why in one line."""


@dataclasses.dataclass
class AdaptOptions:
    """Everything `semdepth adapt` takes (its --help describes each)."""

    bags: list[str]
    out: str
    init: str | None = None               # node checkpoint; None: the default model
    init_pose: str | None = None          # pose-net weights, when not in the init checkpoint
    # topics and where intrinsics / odometry come from
    image_topic: str | None = None
    info_topic: str | None = None
    intrinsics: str | None = None
    odometry: str = "auto"
    odom_topic: str | None = None
    fixed_frame: str | None = None
    camera_extrinsic: str | None = None
    # frame selection
    min_baseline: float = 0.1
    still_speed: float = 0.05
    min_change: float = 0.03
    still_change: float = 0.004
    max_gap: float = 3.0
    cache_mb: float = 2048.0
    # training
    pose: str = "auto"
    odometry_weight: float = 0.1
    steps: int = 300
    batch_size: int = 4
    learning_rate: float = 5e-5
    height: int | None = None
    width: int | None = None
    val_fraction: float = 0.3
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    # scale and evaluation
    camera_height: float | None = None
    eval_frames: int = 48
    lidar_topic: str | None = None
    depth_topic: str | None = None
    crop: str = "auto"                     # eval-bag's: garg for KITTI data, none otherwise
    max_eval_depth: float = 80.0

    def source(self) -> BagSource:
        return BagSource(tuple(self.bags), self.image_topic, self.info_topic, self.intrinsics, self.odometry,
                         self.odom_topic, self.fixed_frame, self.camera_extrinsic)

    def selection(self) -> SelectionRules:
        return SelectionRules(self.min_baseline, self.still_speed, self.min_change, self.still_change, self.max_gap,
                              self.cache_mb)

    def bag_options(self) -> dict[str, Any]:
        """The rosbag dataset's options (data.options of the training config)."""
        return {**dataclasses.asdict(self.source()), "bags": list(self.bags),
                **dataclasses.asdict(self.selection()), "val_fraction": self.val_fraction}


@dataclasses.dataclass
class AdaptResult:
    out: Path
    stopped: bool
    report: dict[str, Any]


def _say(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------------------- state on disk
def _state_path(out: Path) -> Path:
    return out / STATE_FILE


def _save_state(out: Path, state: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = _state_path(out).with_name(STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, _state_path(out))


def _load_state(out: Path, options: AdaptOptions, resume: bool) -> dict[str, Any] | None:
    path = _state_path(out)
    if not path.is_file():
        if resume:
            raise AdaptError(f"cannot resume: {out} holds no adapt run ({STATE_FILE} missing); start without --resume")
        if (out / RUN_DIR / RESUME_FILE).exists():
            raise AdaptError(f"{out / RUN_DIR} holds a training state of another run; choose another --out")
        return None
    if not resume:
        raise AdaptError(f"{out} already holds an adapt run; pass --resume to continue it or choose another --out")
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------- evaluation
def _part(options: AdaptOptions, frames_dir: Path, part: str, height: int, width: int) -> RosbagDataset:
    """The training or held-back part of the cached frames, unaugmented."""
    return RosbagDataset(frames_dir, part, height=height, width=width, **options.bag_options())


def _depth_eval(options: AdaptOptions, frames: BagFrames, predictor: Predictor, label: str,
                out: Path) -> list[dict[str, Any]]:
    """Abs Rel on each bag's held-back images through eval-bag's offline evaluation (its ground-truth
    choice, crop and protocol, median scaling); ``gt_over_pred`` is the median GT / prediction with the
    checkpoint's own factor applied (1 = the metric scale is right)."""
    results = []
    for number, bag in enumerate(frames.bags):
        start = frames.held_back_start(number, options.val_fraction)
        eval_options = EvalOptions(image_topic=bag.image_topic, info_topic=options.info_topic,
                                   lidar_topic=options.lidar_topic, depth_topic=options.depth_topic,
                                   scale="median", crop=options.crop, max_depth=options.max_eval_depth,
                                   frames=FrameSelection(start=start))
        result: EvalResult = evaluate_offline(bag.path, predictor, eval_options,
                                              checkpoint=CheckpointScale.of(predictor.meta))
        entry: dict[str, Any] = {"bag": bag.path, "frames": f"{start}:", "error": result.error}
        if result.summary.get("evaluated"):
            report_dir = out / f"eval_{label}_{Path(bag.path).name}"
            write_report(result, report_dir)
            metrics, scaling = result.summary["metrics"], result.summary["scaling"]
            entry.update(evaluated=result.summary["evaluated"], abs_rel=metrics["abs_rel"], rmse=metrics["rmse"],
                         a1=metrics["a1"], crop=result.crop, ground_truth=result.ground_truth,
                         gt_over_pred=scaling["gt_ratio_median"] / predictor.meta.scale_factor,
                         report=str(report_dir / "report.md"))
        results.append(entry)
    return results


def _evaluate(options: AdaptOptions, model: SemDepthNet, meta: CheckpointMeta, held_back: RosbagDataset,
              frames: BagFrames, label: str, out: Path, device: torch.device,
              motion_units: float | None) -> dict[str, Any]:
    _say(f"evaluating the {label} network on the held-back part ...")
    indices = evenly_spaced(len(held_back), options.eval_frames)
    errors = held_back_errors(model.to(device), meta.scale_factor, meta.min_depth, meta.max_depth, held_back,
                              indices, device, motion_units)
    depth = _depth_eval(options, frames, Predictor(model, meta, device=device), label, out)
    return {"photometric": errors.summary(), "depth": depth, "scale_factor": meta.scale_factor,
            "scale_source": meta.scale_source}


# ------------------------------------------------------------------------------- training
def _pose_mode(requested: str, has_odometry: bool, has_pose_weights: bool) -> str:
    """auto: the odometry when every bag has one, else a pretrained pose net, else motion fitted with
    the initial network (`adapt.motion`)."""
    if requested not in POSE_MODES:
        raise AdaptError(f"pose must be one of {', '.join(POSE_MODES)}, not {requested!r}")
    if requested == "odometry" and not has_odometry:
        raise AdaptError("--pose odometry needs odometry in every bag (nav_msgs/Odometry or /tf to the camera)")
    if requested == "auto":
        return "odometry" if has_odometry else "network" if has_pose_weights else "fit"
    return requested


def _train_config(options: AdaptOptions, meta: CheckpointMeta, height: int, width: int, pose_mode: str,
                  has_odometry: bool, metres_per_unit: float, pose_layers: int, poses: Path | None,
                  fg_labels: Path | None, pose_translation_scale: float | None) -> TrainConfig:
    data_options = {**options.bag_options(), "epoch_length": options.steps * options.batch_size}
    for key, path in (("poses", poses), ("fg_labels", fg_labels)):
        if path is not None:
            data_options[key] = str(path)
    values = {
        "data.dataset": "rosbag", "data.height": height, "data.width": width, "data.num_workers": options.num_workers,
        "data.eval_crop": None, "data.options": data_options,
        "pose.source": "network" if pose_mode == "network" else "dataset",
        "pose.dataset_scale": metres_per_unit,
        "pose.odometry_weight": options.odometry_weight if pose_mode == "network" and has_odometry else 0.0,
        "pose.num_layers": pose_layers, "pose.translation_scale": pose_translation_scale,
        "optim.batch_size": options.batch_size, "optim.num_epochs": 1, "optim.learning_rate": options.learning_rate,
        "loss.min_depth": meta.min_depth, "loss.max_depth": meta.max_depth,
        "run.seed": options.seed, "run.device": options.device, "run.max_steps": options.steps,
        "run.log_every": 10, "run.image_every": 100,
    }
    return dataclasses.replace(load_config(values=values), model=meta.model_config)


def _final_scale(options: AdaptOptions, pose_mode: str, has_odometry: bool, metres_per_unit: float,
                 model: SemDepthNet, meta: CheckpointMeta, train_part: RosbagDataset, held_back: RosbagDataset,
                 device: torch.device) -> tuple[float, str, dict[str, Any]]:
    """The adapted checkpoint's factor: odometry, else camera-height ground plane, else none (relative).

    With odometry the factor is measured again on the adapted network (training frames): training in
    odometry units pulls the depth towards metres, but a short run leaves part of the way to go."""
    if has_odometry:
        factor, details = odometry_scale(model.to(device), meta.min_depth, meta.max_depth, train_part, device=device)
        how = "the odometry was the motion" if pose_mode == "odometry" else "the pose net was anchored to the odometry"
        details["method"] = (f"odometry: photometric search on the adapted network over training frames ({how}; "
                             f"training units {metres_per_unit:.4g} m)")
        return factor, "odometry", details
    if options.camera_height is not None:
        relative = dataclasses.replace(meta, scale_factor=1.0, scale_source="none")
        factor, details = scale_from_camera_height(Predictor(model, relative, device=device), held_back,
                                                   options.camera_height, options.eval_frames)
        return factor, f"camera_height:{options.camera_height:g}m", details
    kept = metres_per_unit if pose_mode == "fit" else 1.0
    units = "keeps the initial network's units" if pose_mode == "fit" else "is a placeholder"
    return kept, "none", {"method": f"no odometry and no --camera-height, so the depth is known only up to one "
                                    f"unknown factor (the stored factor {kept:.4g} {units}); use the node's "
                                    "ground_plane scale mode, or adapt again with --camera-height"}


class Stopwatch:
    """Wall and process CPU seconds per stage (the CPU time stays meaningful on a shared machine)."""

    def __init__(self, timings: dict[str, dict[str, float]]) -> None:
        self.timings = timings

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.timings[name] = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


@dataclasses.dataclass
class _Setup:
    """What every session of a run needs: the options, the initial network, the frames."""

    options: AdaptOptions
    out: Path
    device: torch.device
    init_path: Path
    init_model: SemDepthNet
    init_meta: CheckpointMeta
    height: int
    width: int
    train_part: RosbagDataset
    held_back: RosbagDataset

    @property
    def run_dir(self) -> Path:
        return self.out / RUN_DIR

    @property
    def frames(self) -> BagFrames:
        return self.train_part.bag_frames


def _prepare(setup: _Setup, clock: Stopwatch) -> dict[str, Any]:
    """The first session's steps before training (motion, labels, scale, before); their state."""
    options, frames, run_dir = setup.options, setup.frames, setup.run_dir
    init_model, init_meta, device = setup.init_model, setup.init_meta, setup.device
    pose_state, pose_from = None, None
    for candidate in (options.init_pose, str(setup.init_path)):
        if candidate is not None and (pose_state := read_pose_state(candidate)) is not None:
            pose_from = candidate
            break
    if options.init_pose and pose_from is None:
        raise AdaptError(f"--init-pose {options.init_pose} holds no pose-net weights")
    pose_layers = check_pose_state(pose_state, pose_from) if pose_state is not None else 18
    pose_unit = pose_translation_scale(pose_from) if pose_from is not None else None  # None: the trainer's default
    has_odometry = frames.has_odometry
    pose_mode = _pose_mode(options.pose, has_odometry, pose_from is not None)
    if pose_mode == "network" and pose_from is None:
        _say("note: the pose net starts from scratch (no pose-net weights in --init or --init-pose); it needs many "
             "steps before its motion helps")
    run_dir.mkdir(parents=True, exist_ok=True)
    if pose_mode == "fit":
        _say("measuring the camera motion between kept frames with the initial network's depth ...")
        with clock.stage("motion"):
            np.save(run_dir / FITTED_POSES, fitted_poses(init_model, init_meta, frames, device))
    if init_meta.model_config.semantic:
        _say("keeping the semantic head: the initial network's foreground masks become its labels ...")
        with clock.stage("labels"):
            np.save(run_dir / FOREGROUND_LABELS, foreground_labels(init_model, init_meta, frames, device))
    metres_per_unit, scale_details = init_meta.scale_factor, {"method": "none (no odometry)"}
    if has_odometry:
        _say("measuring the initial network's metric scale against the odometry ...")
        with clock.stage("scale"):
            metres_per_unit, scale_details = odometry_scale(init_model.to(device), init_meta.min_depth,
                                                            init_meta.max_depth, setup.train_part, device=device)
        _say(f"odometry scale: {metres_per_unit:.4g} m per network unit (the checkpoint said "
             f"{init_meta.scale_factor:.4g}, {init_meta.scale_source})")
    with clock.stage("before"):
        before = _evaluate(options, init_model, init_meta, setup.held_back, frames, "before", setup.out, device,
                           metres_per_unit if has_odometry else None)
    return {"options": dataclasses.asdict(options), "init": str(setup.init_path), "pose_mode": pose_mode,
            "has_odometry": has_odometry, "pose_from": pose_from, "pose_layers": pose_layers,
            "pose_translation_scale": pose_unit,
            "metres_per_unit": metres_per_unit, "scale_search": scale_details, "before": before,
            "frames": _frames_summary(frames, options), "timings": clock.timings}


def _trainer(setup: _Setup, state: dict[str, Any]) -> Trainer:
    """The Trainer of the run, continuing its saved state or starting from the initial weights."""
    options, meta, run_dir = setup.options, setup.init_meta, setup.run_dir
    pose_mode = state["pose_mode"]
    config = _train_config(options, meta, setup.height, setup.width, pose_mode, state["has_odometry"],
                           state["metres_per_unit"], state["pose_layers"],
                           run_dir / FITTED_POSES if pose_mode == "fit" else None,
                           run_dir / FOREGROUND_LABELS if meta.model_config.semantic else None,
                           state.get("pose_translation_scale"))
    continuing = (run_dir / RESUME_FILE).is_file()
    trainer = Trainer(config, run_dir, resume=continuing)
    if not continuing:
        trainer.model.load_state_dict(setup.init_model.state_dict())
        if state["pose_from"] is not None:
            trainer.pose_net.load_state_dict(read_pose_state(state["pose_from"]))
    _say(f"training: {options.steps} steps of {options.batch_size} frames, ego-motion from "
         f"{describe_motion(pose_mode, state['has_odometry'])}"
         + (f" (continuing from step {trainer.step})" if continuing else ""))
    return trainer


def _setup(options: AdaptOptions, resume: bool) -> tuple[_Setup, dict[str, Any] | None]:
    out = Path(options.out)
    state = _load_state(out, options, resume)
    if state is not None:  # a run's options are its own; only where it runs may change
        options = dataclasses.replace(AdaptOptions(**state["options"]), device=options.device,
                                      num_workers=options.num_workers)
    init_path = resolve_checkpoint(options.init)
    init_model, init_meta = load_checkpoint(init_path)
    height, width = options.height or init_meta.input_height, options.width or init_meta.input_width
    _say(f"adapt: {describe_architecture(init_meta.model_config)} from {init_path} to {', '.join(options.bags)} "
         f"at {height}x{width}")
    frames_dir = out / RUN_DIR / BAG_CACHE_DIR
    train_part = _part(options, frames_dir, "train", height, width)
    held_back = _part(options, frames_dir, "val", height, width)
    setup = _Setup(options, out, resolve_device(options.device), init_path, init_model, init_meta, height, width,
                   train_part, held_back)
    _say(f"frames: {setup.frames.describe()}")
    for note in setup.frames.notes:
        _say(f"note: {note}")
    _say(f"training part: {len(train_part)} target frames; held back: {len(held_back)} (last "
         f"{options.val_fraction:.0%} of each bag's time)")
    return setup, state


def adapt(options: AdaptOptions, resume: bool = False) -> AdaptResult:
    """Run (or continue) an adaptation into ``options.out``; see the module docstring."""
    started = time.perf_counter()
    timings: dict[str, dict[str, float]] = {}
    clock = Stopwatch(timings)
    with clock.stage("frames"):
        setup, state = _setup(options, resume)
    if state is None:
        state = _prepare(setup, clock)
        _save_state(setup.out, state)
    options, out, device = setup.options, setup.out, setup.device
    trainer = _trainer(setup, state)
    step_start = trainer.step
    with clock.stage("training"):
        summary = trainer.train()
    if summary["stopped"]:
        _say(f"stopped at step {summary['step']} of {options.steps}; continue with: semdepth adapt --out {out} "
             "--resume")
        return AdaptResult(out, True, state)
    model = trainer.model.cpu().eval()
    has_odometry, metres_per_unit = state["has_odometry"], state["metres_per_unit"]
    sized_meta = dataclasses.replace(setup.init_meta, input_height=setup.height, input_width=setup.width)
    with clock.stage("scale_after"):
        factor, source, details = _final_scale(options, state["pose_mode"], has_odometry, metres_per_unit, model,
                                               sized_meta, setup.train_part, setup.held_back, device)
    meta = _adapted_meta(sized_meta, factor, source, details, state, options, summary)
    save_checkpoint(out / MODEL_FILE, model, meta)
    adapted_model, adapted_meta = load_checkpoint(out / MODEL_FILE)
    with clock.stage("after"):
        after = _evaluate(options, adapted_model, adapted_meta, setup.held_back, setup.frames, "after", out, device,
                          metres_per_unit if has_odometry else None)
    train_seconds = timings["training"]["wall_s"]
    images = (summary["step"] - step_start) * options.batch_size
    report = {**state, "after": after, "model": str(out / MODEL_FILE),
              "scale": {"factor": factor, "source": source, **details},
              "training": {"steps": summary["step"], "batch_size": options.batch_size, "device": str(device),
                           "images_this_session": images, "seconds_this_session": train_seconds,
                           "images_per_second": round(images / train_seconds, 3) if train_seconds > 0 else None,
                           "last_validation": summary["val"]},
              "timings": {**state.get("timings", {}), **timings}}
    report["wall_seconds_this_session"] = round(time.perf_counter() - started, 1)  # up to the report
    write_adapt_report(out, report, (setup.init_model, setup.init_meta), (adapted_model, adapted_meta),
                       setup.held_back, device)
    _say(f"wrote {out / MODEL_FILE} (scale {factor:.4g}, {source}) and {out / 'report.md'}")
    return AdaptResult(out, False, report)


def _frames_summary(frames: BagFrames, options: AdaptOptions) -> dict[str, Any]:
    return {"counts": frames.counts(), "description": frames.describe(), "notes": frames.notes,
            "bags": [{"path": b.path, "image_topic": b.image_topic, "odometry": b.odometry, "images": len(b.stamps),
                      "truncated": b.truncated, "held_back_from_image": frames.held_back_start(i, options.val_fraction),
                      "counts": b.counts, "gaps": b.gaps} for i, b in enumerate(frames.bags)]}


def _adapted_meta(init_meta: CheckpointMeta, factor: float, source: str, details: dict[str, Any],
                  state: dict[str, Any], options: AdaptOptions, summary: dict[str, Any]) -> CheckpointMeta:
    training = {"adapted_from": state["init"], "bags": options.bags, "steps": summary["step"],
                "pose_mode": state["pose_mode"], "frames": state["frames"]["counts"], "val": summary["val"]}
    provenance = {**init_meta.provenance, "adapted": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "command": "semdepth adapt", "scale": details}
    bags = ", ".join(Path(b).name for b in options.bags)
    domain = {"odometry": f"the odometry of {bags} (adapt, training part)",
              "none": "not measured (relative depth)"}.get(source, f"{bags} (adapt, held-back part, ground plane)")
    return dataclasses.replace(init_meta, scale_factor=float(factor), scale_source=source, scale_domain=domain,
                               training=training, provenance=provenance)
