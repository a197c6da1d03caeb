"""Training configuration: one YAML file -> nested dataclasses, validated before anything is built.

Defaults are the regime of Semantic-Guided Representation Enhancement (Sec. 5.1, on Monodepth2):
ResNet-50 with semantic branch, SEEM and attention, 192x640 KITTI Eigen-Zhou triplets [0, -1, +1], batch
12, 19 epochs, Adam 1e-4 divided by 10 after 15 epochs, loss weights of Eq. 2 and 9. Unknown keys and
wrong types are errors that name the key: a typo silently falling back to a default would waste a
multi-day run.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from semdepth_ros.model import ModelConfig
from semdepth_training.datasets import DATASETS
from semdepth_training.datasets.base import check_size
from semdepth_training.losses import LossSettings
from semdepth_training.supervised_losses import MODES as LOSS_MODES

DEVICES = ("auto", "cpu", "cuda")
CROPS = ("garg", "eigen")
POSE_SOURCES = ("network", "dataset")


@dataclass
class DataConfig:
    """Which frames to train on. ``options`` / ``val_options`` go to the dataset constructor as is
    (e.g. KITTI ``ext``/``intrinsics``, folder ``stride``, synthetic generator settings)."""

    dataset: str = "kitti"                 # one of semdepth_training.datasets.DATASETS
    path: str | None = None                # KITTI raw root / image-folder root
    split: str = "eigen_zhou"              # KITTI: split name, or a folder with train_files.txt
    split_dir: str | None = None           # local folder holding <split>/; None downloads (needs internet)
    val_path: str | None = None            # image folders: a separate validation root (None: no validation)
    height: int = 192
    width: int = 640
    frame_ids: list[int] = field(default_factory=lambda: [0, -1, 1])
    num_workers: int = 4
    eval_crop: str | None = "garg"         # crop for the per-epoch AbsRel ("garg" for KITTI, None for dense GT)
    options: dict[str, Any] = field(default_factory=dict)
    val_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class PoseConfig:
    """Where ego-motion comes from. "network": the separate ResNet pose net on frame pairs (Monodepth2
    "separate_resnet", the papers' regime). "dataset": the recording's own camera poses (robot
    odometry, `poses.txt`, the synthetic world); depth is still learned from photometric
    self-supervision alone, and comes out in the poses' metric scale."""

    source: str = "network"
    # "dataset" poses: translations are divided by this so the motion suits the network's initial
    # depth (disparity 0.5 = 0.2 m, like the pose net's 0.01-scaled start); the checkpoint's metric
    # scale factor is set to it, so the node still outputs metres.
    dataset_scale: float = 50.0
    num_layers: int = 18
    pretrained_path: str | None = None
    # Metres (or depth units) per raw translation output of the pose decoder: null takes the --init
    # checkpoint's pose net's, else Monodepth2's 0.01; synthetic pre-training uses 1.0 (metric motion).
    translation_scale: float | None = None


@dataclass
class OptimConfig:
    """Semantic-Guided Representation Enhancement, Sec. 5.1: batch 12, 19 epochs, lr 1e-4 divided by 10
    after 15 epochs."""

    batch_size: int = 12
    num_epochs: int = 19
    learning_rate: float = 1e-4
    scheduler_step_size: int = 15
    scheduler_gamma: float = 0.1


@dataclass
class RunConfig:
    """Execution: seeds, device, AMP, logging cadence, and ``max_steps`` (total optimiser steps) for
    short runs."""

    seed: int = 0
    device: str = "auto"
    amp: bool = True                       # CUDA only; CPU always runs fp32
    max_steps: int | None = None
    log_every: int = 50
    image_every: int = 500
    validate: bool = True
    init: str | None = None                # checkpoint to start from (--init): e.g. the synthetic pre-training


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossSettings = field(default_factory=LossSettings)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML-friendly dict (tuples become lists)."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _build(cls, data, "")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                values: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML file (None: all defaults), then apply ``section.key=value`` overrides (values in
    YAML syntax, as typed on a command line) and ``values`` ({"section.key": python value})."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config not found: {path}")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a training config must be a YAML mapping of sections")
    for item in overrides or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} must look like section.key=value, e.g. optim.batch_size=4")
        _set(data, key.strip(), yaml.safe_load(text))
    for key, value in (values or {}).items():
        _set(data, key, value)
    return TrainConfig.from_dict(data)


def save_config(config: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"config key {key!r} must look like section.key, e.g. optim.batch_size")
    section = data.setdefault(parts[0], {})
    if not isinstance(section, dict):
        raise ValueError(f"config section {parts[0]!r} is not a mapping")
    section[parts[1]] = value


def _build(cls: type, data: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types."""
    label = where or "config"
    if not isinstance(data, dict):
        raise ValueError(f"{label} must be a mapping, not {data!r}")
    if cls is ModelConfig:
        return ModelConfig.from_dict(data)
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ValueError(f"unknown key(s) in {label}: {', '.join(unknown)}; known: {', '.join(hints)}")
    values = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        hint = hints[name]
        values[name] = (_build(hint, value, key) if dataclasses.is_dataclass(hint)
                        else _coerce(value, hint, key))
    return cls(**values)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check ``value`` against a simple type hint; ints are accepted for floats, and strings such as
    "1e-4" too (YAML 1.1 reads an exponent without a dot as a string)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key} must be a list, not {value!r}")
        items = [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be a mapping, not {value!r}")
        return dict(value)
    if hint is float and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    elif isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ValueError(f"{key} must be {hint.__name__}, not {value!r}")


def _validate(config: TrainConfig) -> None:
    data, optim, run, loss = config.data, config.optim, config.run, config.loss
    if data.dataset not in DATASETS:
        raise ValueError(f"data.dataset must be one of {', '.join(DATASETS)}, not {data.dataset!r}")
    check_size(data.height, data.width)
    if 0 not in data.frame_ids or len(set(data.frame_ids)) < 2:
        raise ValueError(f"data.frame_ids must hold the target 0 and at least one source, got {data.frame_ids}")
    if data.eval_crop is not None and data.eval_crop not in CROPS:
        raise ValueError(f"data.eval_crop must be one of {CROPS} or null, not {data.eval_crop!r}")
    if data.num_workers < 0:
        raise ValueError(f"data.num_workers must be >= 0, got {data.num_workers}")
    if config.pose.source not in POSE_SOURCES:
        raise ValueError(f"pose.source must be one of {', '.join(POSE_SOURCES)}, not {config.pose.source!r}")
    if config.pose.dataset_scale <= 0:
        raise ValueError(f"pose.dataset_scale must be > 0, got {config.pose.dataset_scale}")
    if config.pose.num_layers not in (18, 50):
        raise ValueError(f"pose.num_layers must be 18 or 50, got {config.pose.num_layers}")
    if config.pose.translation_scale is not None and config.pose.translation_scale <= 0:
        raise ValueError(f"pose.translation_scale must be > 0 or null, got {config.pose.translation_scale}")
    for name in ("batch_size", "num_epochs", "scheduler_step_size"):
        if getattr(optim, name) < 1:
            raise ValueError(f"optim.{name} must be >= 1, got {getattr(optim, name)}")
    if optim.learning_rate <= 0 or not 0 < optim.scheduler_gamma <= 1:
        raise ValueError("optim.learning_rate must be > 0 and optim.scheduler_gamma in (0, 1]")
    if not loss.scales or loss.scales[0] != 0 or not set(loss.scales) <= {0, 1, 2, 3} \
            or sorted(set(loss.scales)) != list(loss.scales):
        raise ValueError(f"loss.scales must be increasing values from 0..3 starting at 0, got {list(loss.scales)}")
    if not 0 < loss.min_depth < loss.max_depth:
        raise ValueError(f"need 0 < loss.min_depth < loss.max_depth, got {loss.min_depth}, {loss.max_depth}")
    if loss.mode not in LOSS_MODES:
        raise ValueError(f"loss.mode must be one of {', '.join(LOSS_MODES)}, not {loss.mode!r}")
    if not 0 <= loss.silog_lambda <= 1:
        raise ValueError(f"loss.silog_lambda must be in [0, 1], got {loss.silog_lambda}")
    for name in ("depth_weight", "pose_translation_weight", "pose_rotation_weight", "self_supervised_weight"):
        if getattr(loss, name) < 0:
            raise ValueError(f"loss.{name} must be >= 0, got {getattr(loss, name)}")
    if run.device not in DEVICES:
        raise ValueError(f"run.device must be one of {', '.join(DEVICES)}, not {run.device!r}")
    if run.max_steps is not None and run.max_steps < 1:
        raise ValueError(f"run.max_steps must be >= 1 or null, got {run.max_steps}")
    if run.log_every < 1 or run.image_every < 1:
        raise ValueError("run.log_every and run.image_every must be >= 1")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
