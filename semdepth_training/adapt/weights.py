"""The weights adapting starts from: the node checkpoint's depth network and, when some file carries
them, pose-network weights (else the pose net starts from scratch)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from semdepth_ros.checkpoint import CheckpointError
from semdepth_ros.model import PoseNet
from semdepth_ros.model.pose_net import POSE_SCALE

POSE_KEY = "pose_net"  # where checkpoints and the trainer's resume state keep the pose net


def _read(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"pose weights file not found: {path}") from None
    except Exception as exc:  # torch raises many types for garbage input
        raise CheckpointError(f"{path} is not a readable weights file ({type(exc).__name__})") from exc


def _stored_pose_net(payload: Any) -> dict[str, Any] | None:
    """The ``{config, state_dict}`` entry a training checkpoint stores its pose net in
    (:func:`semdepth_ros.checkpoint.save_checkpoint`), else None."""
    entry = payload.get(POSE_KEY) if isinstance(payload, dict) else None
    return entry if isinstance(entry, dict) and isinstance(entry.get("state_dict"), dict) else None


def read_pose_state(path: str | os.PathLike) -> dict[str, torch.Tensor] | None:
    """Pose-net weights in ``path``: a training checkpoint's pose net, a payload (or training resume
    state) with a ``pose_net`` state_dict, or a bare PoseNet state_dict; None when the file holds none."""
    payload = _read(Path(path))
    if not isinstance(payload, dict):
        return None
    stored = _stored_pose_net(payload)
    if stored is not None:
        return stored["state_dict"]
    if isinstance(payload.get(POSE_KEY), dict):
        return payload[POSE_KEY]
    if payload and all(torch.is_tensor(v) for v in payload.values()) and any(k.startswith("decoder.pose_out")
                                                                              for k in payload):
        return payload
    return None


def pose_translation_scale(path: str | os.PathLike) -> float:
    """The unit of the pose-net weights in ``path``: what a training checkpoint records with them (1.0,
    metres, after synthetic pre-training), else Monodepth2's 0.01 (resume states, bare state_dicts)."""
    stored = _stored_pose_net(_read(Path(path)))
    return float(stored.get("config", {}).get("translation_scale", POSE_SCALE)) if stored is not None else POSE_SCALE


def pose_layers(state: dict[str, torch.Tensor]) -> int:
    """ResNet depth of a pose-net state_dict (bottleneck blocks, with a third conv, mean ResNet-50)."""
    return 50 if any(".conv3." in k for k in state) else 18


def check_pose_state(state: dict[str, torch.Tensor], path: str | os.PathLike) -> int:
    """The state's ResNet depth, after checking it loads into a PoseNet (CheckpointError if not)."""
    layers = pose_layers(state)
    try:
        PoseNet(layers).load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: its pose-net weights do not fit a ResNet-{layers} pose net ({first})") from exc
    return layers
