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
from semdepth_training.distributed import BACKENDS as DIST_BACKENDS
from semdepth_training.losses import LossSettings
from semdepth_training.supervised_losses import MODES as LOSS_MODES

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
AUGMENT_PLACES = ("auto", "device", "loader")
LR_SCALINGS = ("none", "linear", "sqrt")
CROPS = ("garg", "eigen")
POSE_SOURCES = ("network", "dataset")


@dataclass
class DataConfig:
    """Which frames to train on. ``options`` / ``val_options`` go to the dataset constructor as is
    (e.g. KITTI ``ext``/``intrinsics``, folder ``stride``, synthetic generator settings).

    ``augment_on``: where flips, colour jitter and the image pyramid run: "device" (batched on the
    training device after upload; the loader workers only decode and resize), "loader" (in the
    workers, on the CPU) or "auto" (the device on CUDA, the workers on the CPU, where they work in
    parallel with the step). ``cache_dir``: decoded frames at the training size are kept there (memory-
    mapped .npy per source folder, built on first use, rebuilt for files that change), so epochs
    after the first decode nothing; at most ``cache_max_gb`` (docs/training.md)."""

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
    exclude: str | None = None             # JSON {"excluded": [sample indices]} left out of training
    augment_on: str = "auto"
    cache_dir: str | None = None
    cache_max_gb: float = 100.0


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
    # "network" with odometry in the data: weight of the term pulling the pose net's translations to
    # the odometry's (losses.odometry_loss), in network units (metres / dataset_scale); 0 = off.
    odometry_weight: float = 0.0
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
    # With N processes (torchrun) the batch per step is batch_size * N: "linear" multiplies the
    # learning rate by N, "sqrt" by sqrt(N), "none" keeps it (docs/training.md).
    lr_scaling: str = "none"


@dataclass
class RunConfig:
    """Execution: seeds, device, precision, logging and saving cadence, ``max_steps`` (total optimiser
    steps) for short runs, and the distributed settings used under torchrun.

    ``precision``: the networks' autocast dtype; "auto" is bf16 on CUDA where the GPU has it (else
    fp16, with loss scaling) and fp32 on the CPU. The losses run in fp32 whatever it is.
    ``channels_last`` (null: on CUDA) stores the networks' weights and inputs NHWC, the layout of the
    tensor-core convolution kernels. ``compile`` runs the networks and the loss through torch.compile.
    """

    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    max_steps: int | None = None
    log_every: int = 50
    image_every: int = 500
    validate: bool = True
    init: str | None = None                # checkpoint to start from (--init): e.g. the synthetic pre-training
    # The resume state is saved at every epoch end and also every N steps and/or M minutes, so a
    # kill loses at most that much work (null turns a cadence off).
    save_every_steps: int | None = None
    save_every_minutes: float | None = 10.0
    sync_batchnorm: bool = False           # distributed: BatchNorm statistics over all processes' samples
    dist_backend: str = "auto"             # auto (NCCL on CUDA, gloo on CPU), nccl or gloo
    dist_timeout_minutes: float = 30.0     # a collective waiting longer (a dead or stuck rank) fails


@dataclass
class TwoStageConfig:
    """Semantically-Guided Representation Learning, Sec. 4.3 (semdepth_training.two_stage): train, drop
    the frames whose foreground the first network put below the RANSAC ground plane, train again."""

    enabled: bool = False
    threshold: float = 10.0                # pixels at 640x192 (the paper's), scaled to data.height x width
    below_ground_margin: float = 0.5       # "below" = beyond the plane by this times the camera height


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossSettings = field(default_factory=LossSettings)
    run: RunConfig = field(default_factory=RunConfig)
    two_stage: TwoStageConfig = field(default_factory=TwoStageConfig)

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
    run = data.get("run")
    if isinstance(run, dict) and "amp" in run:  # written before run.precision replaced run.amp
        run.setdefault("precision", "auto" if run.pop("amp") else "fp32")
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


SELF_SUPERVISED_ONLY = ("depth_aware_weight", "joint_gradient_weight", "semantic_warp_weight",
                        "masked_reconstruction", "semantic_smoothness")


def _check_supervised(config: TrainConfig) -> None:
    """Pre-training (loss.mode supervised) has exact labels: the variants' loss terms and two-stage
    training address self-supervision's weaknesses and are not part of its objective."""
    on = [f"loss.{name}" for name in SELF_SUPERVISED_ONLY if getattr(config.loss, name)]
    if config.two_stage.enabled:
        on.append("two_stage.enabled")
    if on:
        raise ValueError(f"loss.mode supervised (pre-training) does not support {', '.join(on)}: these are "
                         "self-supervised variants; switch them off or use loss.mode self_supervised")


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
    if data.augment_on not in AUGMENT_PLACES:
        raise ValueError(f"data.augment_on must be one of {', '.join(AUGMENT_PLACES)}, not {data.augment_on!r}")
    if data.cache_max_gb <= 0:
        raise ValueError(f"data.cache_max_gb must be > 0, got {data.cache_max_gb}")
    if data.cache_dir is not None and data.dataset == "synthetic":
        raise ValueError("data.cache_dir applies to image files (kitti, folder); synthetic frames are rendered "
                         "in memory")
    if config.pose.source not in POSE_SOURCES:
        raise ValueError(f"pose.source must be one of {', '.join(POSE_SOURCES)}, not {config.pose.source!r}")
    if config.pose.dataset_scale <= 0:
        raise ValueError(f"pose.dataset_scale must be > 0, got {config.pose.dataset_scale}")
    if config.pose.odometry_weight < 0 or (config.pose.odometry_weight > 0 and config.pose.source != "network"):
        raise ValueError(f"pose.odometry_weight must be >= 0 and only set with pose.source 'network' (with 'dataset' "
                         f"the odometry is the motion itself), got {config.pose.odometry_weight}")
    if config.pose.num_layers not in (18, 50):
        raise ValueError(f"pose.num_layers must be 18 or 50, got {config.pose.num_layers}")
    if config.pose.translation_scale is not None and config.pose.translation_scale <= 0:
        raise ValueError(f"pose.translation_scale must be > 0 or null, got {config.pose.translation_scale}")
    for name in ("batch_size", "num_epochs", "scheduler_step_size"):
        if getattr(optim, name) < 1:
            raise ValueError(f"optim.{name} must be >= 1, got {getattr(optim, name)}")
    if optim.learning_rate <= 0 or not 0 < optim.scheduler_gamma <= 1:
        raise ValueError("optim.learning_rate must be > 0 and optim.scheduler_gamma in (0, 1]")
    if optim.lr_scaling not in LR_SCALINGS:
        raise ValueError(f"optim.lr_scaling must be one of {', '.join(LR_SCALINGS)}, not {optim.lr_scaling!r}")
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
    if run.precision not in PRECISIONS:
        raise ValueError(f"run.precision must be one of {', '.join(PRECISIONS)}, not {run.precision!r}")
    if run.max_steps is not None and run.max_steps < 1:
        raise ValueError(f"run.max_steps must be >= 1 or null, got {run.max_steps}")
    if run.log_every < 1 or run.image_every < 1:
        raise ValueError("run.log_every and run.image_every must be >= 1")
    if config.two_stage.threshold < 0 or config.two_stage.below_ground_margin < 0:
        raise ValueError("two_stage.threshold and two_stage.below_ground_margin must be >= 0")
    for name in ("depth_aware_weight", "joint_gradient_weight", "semantic_warp_weight"):
        if getattr(loss, name) < 0:
            raise ValueError(f"loss.{name} must be >= 0, got {getattr(loss, name)}")
    if loss.mode == "supervised":
        _check_supervised(config)
    if run.save_every_steps is not None and run.save_every_steps < 1:
        raise ValueError(f"run.save_every_steps must be >= 1 or null, got {run.save_every_steps}")
    if run.save_every_minutes is not None and run.save_every_minutes <= 0:
        raise ValueError(f"run.save_every_minutes must be > 0 or null, got {run.save_every_minutes}")
    if run.dist_backend not in DIST_BACKENDS:
        raise ValueError(f"run.dist_backend must be one of {', '.join(DIST_BACKENDS)}, not {run.dist_backend!r}")
    if run.dist_timeout_minutes <= 0:
        raise ValueError(f"run.dist_timeout_minutes must be > 0, got {run.dist_timeout_minutes}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
