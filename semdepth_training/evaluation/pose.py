"""Ego-motion accuracy against known camera poses: does a pose net read the motion from the pixels?

Every (target, source) pair of a sample is scored in time order and, by default, reversed too (the
network sees the later frame first and must answer the inverse motion). Driving data moves forward
almost always, so in time order a network that ignores its input and always answers "forward" scores
a direction cosine near 1; over both orders it scores near 0, and only reading the motion scores high.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F

from semdepth_ros.geometry import pose_vec_to_matrix
from semdepth_ros.model import PoseNet
from semdepth_training.supervised_losses import rotation_error_vector

MIN_MOTION = 0.1  # metres between the frames: below it a pair has no reliable direction (stops, parked)

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def pose_net_predictor(pose_net: PoseNet) -> Predictor:
    """(frame_a, frame_b) -> T_ab [B,4,4], the transform from frame_a's to frame_b's camera coordinates."""
    def predict(frame_a: torch.Tensor, frame_b: torch.Tensor) -> torch.Tensor:
        axisangle, translation = pose_net(frame_a, frame_b)
        return pose_vec_to_matrix(axisangle.float(), translation.float())
    return predict


def frame_pairs(inputs: dict[Any, Any], both_directions: bool = True,
                key: str = "color") -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(frame_a, frame_b, true T_ab) for each source of a batch: in time order, then reversed.

    ("T", f) maps the target's coordinates to source f's, so the time-ordered pair (-1, 0) has
    T = inv(T(-1)) and (0, +1) has T = T(+1).
    """
    target = inputs[(key, 0, 0)]
    for f in sorted(k[1] for k in inputs if isinstance(k, tuple) and k[0] == "T"):
        source, transform = inputs[(key, f, 0)], inputs[("T", f)].float()
        pair = (source, target, torch.linalg.inv(transform)) if f < 0 else (target, source, transform)
        yield pair
        if both_directions:
            yield pair[1], pair[0], torch.linalg.inv(pair[2])


class PoseErrors:
    """Accumulates translation direction cosine, translation error (m) and rotation error (deg): the
    cosine over pairs that move at least ``min_motion`` metres, the errors over all pairs.

    ``sums`` (float64: cosine sum, moving pairs, translation error sum, rotation error sum, pairs)
    is all it keeps, so the sums of several processes add up to the whole set's (the trainer's
    distributed validation)."""

    def __init__(self, min_motion: float = MIN_MOTION) -> None:
        self.min_motion = min_motion
        self.sums = torch.zeros(5, dtype=torch.float64)

    @property
    def pairs(self) -> int:
        return int(self.sums[4].item())

    def add(self, predicted: torch.Tensor, truth: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        """``predicted``/``truth`` [B,4,4]; ``valid`` [B] (e.g. pose_valid) selects samples."""
        keep = torch.ones(len(truth), dtype=torch.bool) if valid is None else valid.reshape(-1).cpu() > 0
        predicted, truth = predicted.detach().double().cpu()[keep], truth.detach().double().cpu()[keep]
        t_pred, t_true = predicted[:, :3, 3], truth[:, :3, 3]
        moving = t_true.norm(dim=1) >= self.min_motion
        cosine = F.cosine_similarity(t_pred[moving], t_true[moving], dim=1)
        angle = rotation_error_vector(predicted[:, :3, :3], truth[:, :3, :3]).norm(dim=1).clamp(max=1).asin()
        self.sums += torch.stack([cosine.sum(), moving.sum().double(), (t_pred - t_true).norm(dim=1).sum(),
                                  torch.rad2deg(angle).sum(), torch.tensor(float(len(truth)), dtype=torch.float64)])

    def result(self) -> dict[str, float]:
        """pose_cosine (mean over moving pairs), pose_translation_error (mean metres), pose_rotation_error
        (mean degrees), pose_pairs (how many pairs moved)."""
        cosine, moving, translation, rotation, pairs = self.sums.tolist()
        return {"pose_cosine": cosine / moving if moving else math.nan,
                "pose_translation_error": translation / pairs if pairs else math.nan,
                "pose_rotation_error": rotation / pairs if pairs else math.nan, "pose_pairs": int(moving)}


@torch.no_grad()
def score_pairs(predict: Predictor, inputs: dict[Any, Any], errors: PoseErrors,
                both_directions: bool = True) -> None:
    """Add every frame pair of one batch (device tensors) to ``errors``."""
    for frame_a, frame_b, truth in frame_pairs(inputs, both_directions):
        errors.add(predict(frame_a, frame_b), truth, inputs.get("pose_valid"))
