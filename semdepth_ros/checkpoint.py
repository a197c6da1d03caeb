"""One file = network weights + everything needed to run them (the node's only model input).

Loading validates the file before building anything so a user gets one sentence saying what is
wrong (missing, a directory, not a checkpoint, damaged, another architecture, mismatched shapes,
non-finite weights, newer format) instead of a PyTorch stack trace deep inside ``load_state_dict``.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from semdepth_ros import __version__
from semdepth_ros.classes import FOREGROUND_CLASSES
from semdepth_ros.model import ModelConfig, PoseNet, SemDepthNet
from semdepth_ros.model.semdepth_net import NEEDS_CLASS_MAPS

FORMAT_NAME = "semdepth_ros.checkpoint"
FORMAT_VERSION = 1
DEFAULT_MODEL_ENV = "SEMDEPTH_DEFAULT_MODEL"
_BUNDLED_MODEL = Path(__file__).parent / "data" / "default_model.pt"
NO_CHECKPOINT = ("no checkpoint: set the 'checkpoint' parameter (node) or --checkpoint (semdepth commands) to "
                 "a file from `semdepth train` / `semdepth export`, or point $SEMDEPTH_DEFAULT_MODEL at one; "
                 "this install has no bundled default model")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message says why and what to do."""


@dataclasses.dataclass
class CheckpointMeta:
    """What a consumer needs besides the weights."""

    model_config: ModelConfig
    input_height: int = 192
    input_width: int = 640
    min_depth: float = 0.1
    max_depth: float = 100.0
    scale_factor: float = 1.0
    scale_source: str = "none"
    scale_domain: str = "unknown (not recorded)"   # the data the scale was measured on (older files: unknown)
    foreground_classes: list[str] = dataclasses.field(default_factory=lambda: list(FOREGROUND_CLASSES))
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    package_version: str = __version__
    format_version: int = FORMAT_VERSION

    def describe_scale(self) -> str:
        """The metric scale with where it came from, for logs and reports."""
        return f"x{self.scale_factor:g} ({self.scale_source}; measured on {self.scale_domain})"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model_config"] = self.model_config.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckpointMeta":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["model_config"] = ModelConfig.from_dict(data["model_config"])
        return cls(**values)


def _tensors(module: torch.nn.Module, half: bool) -> dict[str, torch.Tensor]:
    return {k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
            for k, v in module.state_dict().items()}


def save_checkpoint(path: str | os.PathLike, model: SemDepthNet, meta: CheckpointMeta,
                    half: bool = False, pose_net: PoseNet | None = None) -> Path:
    """Write weights + metadata atomically (a killed write never leaves a half file behind).

    ``half`` stores floating-point tensors as fp16 (the bundled model uses it to stay small);
    loading always restores fp32. ``pose_net`` (optional) is stored beside the network for training
    to start from (:func:`load_pose_net`); the node ignores it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = dataclasses.replace(meta, model_config=meta.model_config.for_checkpoint())
    payload = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
               "meta": stored.to_dict(), "state_dict": _tensors(model, half)}
    if pose_net is not None:
        payload["pose_net"] = {"config": pose_net.config(), "state_dict": _tensors(pose_net, half)}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _read_payload(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        found = sorted(p.relative_to(path).as_posix() for p in (*path.glob("*.pt"), *path.glob("models/*.pt")))
        hint = f" (it holds {', '.join(found[:4])})" if found else ""
        raise CheckpointError(f"{path} is a directory, not a checkpoint file{hint}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (train one with `semdepth train`, "
                              "or export one with `semdepth export`)")
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path} is not a semdepth_ros checkpoint (a raw state_dict or another "
                              "project's file?); convert it with `semdepth export`")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {version}, newer than this package "
                              f"supports ({FORMAT_VERSION}); upgrade semdepth_ros")
    return payload


def _torch_load(path: Path) -> Any:
    """torch.load restricted to tensors and plain data (weights_only). torch's own messages are not
    passed on: for a file holding other Python objects they suggest loading it unrestricted, which
    runs code from the file, and that advice must not reach users."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise CheckpointError(f"{path} is empty, not a checkpoint file")
    if head != b"PK\x03\x04" and not (head[0] == 0x80 and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        # neither torch's zip container nor a (legacy) pickle
        raise CheckpointError(f"{path} is not a checkpoint file (not a PyTorch file at all)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. pickle-protocol notes: the outcome is all that matters
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path} is not a semdepth_ros checkpoint: it holds more than tensors and plain "
                              "data (other Python objects, or damage), and such files are never loaded "
                              "unrestricted because that could run code from them") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged files
        raise CheckpointError(f"{path} is damaged or truncated, not a readable checkpoint file "
                              f"({type(exc).__name__})") from exc


def _meta(payload: dict[str, Any], path: str | os.PathLike) -> CheckpointMeta:
    try:
        return CheckpointMeta.from_dict(payload["meta"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has invalid metadata: {exc}") from exc


def read_meta(path: str | os.PathLike) -> CheckpointMeta:
    """Metadata only (for listing runs and for the demo's report)."""
    return _meta(_read_payload(path), path)


def describe_architecture(config: ModelConfig) -> str:
    """Short human-readable architecture name for logs and errors, e.g. 'R50+sem+SEEM+attn'."""
    parts = [f"R{config.num_layers}"]
    parts += [name for name, on in (("sem", config.semantic), ("SEEM", config.seem),
                                    ("attn", config.attention), ("PAC", config.pac),
                                    ("lateral", config.lateral_sharing),
                                    (f"{config.semantic_input}-input", config.semantic_input != "none")) if on]
    return "+".join(parts)


def load_checkpoint(path: str | os.PathLike,
                    map_location: str | torch.device = "cpu") -> tuple[SemDepthNet, CheckpointMeta]:
    """Build the network the file describes and load its weights, validating every tensor."""
    payload = _read_payload(path)
    meta = _meta(payload, path)
    try:
        model = SemDepthNet(meta.model_config)
    except (FileNotFoundError, ValueError) as exc:  # e.g. a TorchScript guide that is not where it was
        raise CheckpointError(f"{path}: cannot build its network: {exc}") from exc
    if model.requires_class_maps:
        raise CheckpointError(f"{path}: {NEEDS_CLASS_MAPS}")
    expected = model.state_dict()
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no weights")
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path} was saved for another architecture than its metadata describes "
            f"({describe_architecture(meta.model_config)}): {len(missing)} missing tensors (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
             for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise CheckpointError(f"{path}: {len(wrong)} tensor shapes do not match the architecture, "
                              f"e.g. {wrong[:3]}")
    bad = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        count = int((~torch.isfinite(state[bad])).sum())
        raise CheckpointError(f"{path} has non-finite weights (NaN or Inf): {count} of {state[bad].numel()} "
                              f"values of '{bad}' (a diverged training run?); refusing to load it")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.to(map_location).eval()
    return model, meta


def load_pose_net(path: str | os.PathLike) -> PoseNet | None:
    """The pose net stored with the network (training checkpoints), or None when there is none."""
    stored = _read_payload(path).get("pose_net")
    if stored is None:
        return None
    try:
        pose_net = PoseNet(**stored["config"])
        pose_net.load_state_dict({k: v.float() if v.is_floating_point() else v
                                  for k, v in stored["state_dict"].items()})
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path} holds an unusable pose net: {str(exc).splitlines()[0]}") from exc
    return pose_net.eval()


def with_branch_guide(config: ModelConfig) -> ModelConfig:
    """``config`` with guide_layers / guide_width read from its "branch" guide checkpoint (guide_path),
    so a user names only the file; other configs come back unchanged."""
    if config.guide != "branch" or config.guide_path is None:
        return config
    guide = read_meta(config.guide_path).model_config
    if not guide.semantic:
        raise CheckpointError(f"{config.guide_path} has no semantic branch to guide with ({describe_architecture(guide)})")
    return dataclasses.replace(config, guide_layers=guide.num_layers, guide_width=guide.width)


def load_guide_weights(model: SemDepthNet) -> None:
    """Copy the encoder and semantic decoder of the "branch" guide checkpoint (config.guide_path) into
    the model's frozen guide; nothing for other guides."""
    config = model.config
    if config.guide != "branch" or config.guide_path is None:
        return
    payload = _read_payload(config.guide_path)
    parts = ("encoder.", "semantic_decoder.")
    state = {k: v for k, v in payload["state_dict"].items() if k.startswith(parts)}
    target = model.guide.net.state_dict()
    if set(state) != set(target) or any(state[k].shape != target[k].shape for k in target):
        raise CheckpointError(f"{config.guide_path} does not match guide_layers={config.guide_layers}, "
                              f"guide_width={config.guide_width} (see with_branch_guide)")
    model.guide.net.load_state_dict({k: v.to(target[k].dtype) for k, v in state.items()})


def default_checkpoint_path() -> Path | None:
    """The model used when none is given: $SEMDEPTH_DEFAULT_MODEL, else the bundled model."""
    override = os.environ.get(DEFAULT_MODEL_ENV)
    if override:
        return Path(override)
    return _BUNDLED_MODEL if _BUNDLED_MODEL.is_file() else None


def resolve_checkpoint(path: str | os.PathLike | None) -> Path:
    """The checkpoint to use: ``path``, else the default model; the one place that decides it.

    The node (parameter 'checkpoint'), `semdepth predict/bench/demo/eval-bag/evaluate` (--checkpoint)
    and the Predictor all come here, so a missing model reads the same everywhere.
    """
    chosen = path or default_checkpoint_path()
    if chosen is None:
        raise CheckpointError(NO_CHECKPOINT)
    return Path(chosen)
