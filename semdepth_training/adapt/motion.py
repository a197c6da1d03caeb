"""Camera motion of a recording without odometry, measured with the initial network's depth.

For each pair of consecutive kept frames of a segment, the rigid motion that best rebuilds the first
from the second with the initial network's depth of the first (direct photometric alignment,
`photometric.fit_motion`); chained into camera poses per segment, these motions take the odometry's
place during training (``pose.source: dataset``). Why not the pose net: from scratch it needs far
more steps than a CPU adaptation has (docs/training.md), and until it has learnt, its random motion
teaches the depth net nonsense. The motions are in the initial network's depth units times its scale
factor, so the adapted network keeps the initial one's units; they are not metric unless that was.
"""
from __future__ import annotations

import numpy as np
import torch

from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.model import SemDepthNet
from semdepth_training.adapt.photometric import FIT_SCHEDULE, fit_motion, network_depth
from semdepth_training.datasets.bag_cache import BagFrames
from semdepth_training.datasets.base import RawSample, build_sample

TRAJECTORY_SCHEDULE = FIT_SCHEDULE[:2]  # quarter and half resolution: enough for the motion itself


def _pairs(cache: BagFrames, starts: list[int], device: torch.device) -> dict:
    samples = [build_sample(RawSample({0: cache.image(i), 1: cache.image(i + 1)}, np.asarray(cache.frames[i].K)), i,
                            cache.height, cache.width) for i in starts]
    return {k: torch.stack([s[k] for s in samples]).to(device) for k in samples[0] if torch.is_tensor(samples[0][k])}


def fitted_poses(model: SemDepthNet, meta: CheckpointMeta, cache: BagFrames, device: torch.device,
                 batch_size: int = 8) -> np.ndarray:
    """Camera-to-world poses [N,4,4] of every cached frame (each segment starts at the identity)."""
    frames = cache.frames
    starts = [i for i in range(len(frames) - 1) if frames[i].segment == frames[i + 1].segment]
    steps: dict[int, np.ndarray] = {}
    model = model.to(device)
    for first in range(0, len(starts), batch_size):
        chunk = starts[first:first + batch_size]
        inputs = _pairs(cache, chunk, device)
        depth = network_depth(model, inputs[("color", 0, 0)], meta.min_depth, meta.max_depth)
        _, motion = fit_motion(inputs, depth, 1, None, TRAJECTORY_SCHEDULE)
        motion = motion.double().cpu().numpy()
        motion[:, :3, 3] *= meta.scale_factor
        steps.update(zip(chunk, motion))
    poses = np.tile(np.eye(4), (len(frames), 1, 1))
    for i in range(1, len(frames)):
        if frames[i].segment == frames[i - 1].segment:
            poses[i] = poses[i - 1] @ np.linalg.inv(steps[i - 1])  # T (i -> i+1) = inv(P_{i+1}) P_i
    return poses
