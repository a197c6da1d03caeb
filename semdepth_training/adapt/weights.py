"""The weights adapting starts from: the node checkpoint's depth network and, when some file carries
them, pose-network weights (else the pose net starts from scratch)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from semdepth_ros.checkpoint import CheckpointError
from semdepth_ros.model import PoseNet

POSE_KEY = "pose_net"  # where checkpoints and the trainer's resume state keep the pose net's state_dict


def _read(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"pose weights file not found: {path}") from None
    except Exception as exc:  # torch raises many types for garbage input
        raise CheckpointError(f"{path} is not a readable weights file ({type(exc).__name__})") from exc


def read_pose_state(path: str | os.PathLike) -> dict[str, torch.Tensor] | None:
    """Pose-net weights in ``path``: a checkpoint payload (or training resume state) with a
    ``pose_net`` entry, or a bare PoseNet state_dict; None when the file holds none."""
    payload = _read(Path(path))
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get(POSE_KEY), dict):
        return payload[POSE_KEY]
    if payload and all(torch.is_tensor(v) for v in payload.values()) and any(k.startswith("decoder.pose_out")
                                                                              for k in payload):
        return payload
    return None


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
