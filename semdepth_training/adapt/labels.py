"""Labels for the semantic head while adapting: the initial network's own foreground masks.

A bag carries no segmentation labels. Without any, only the depth losses would shape the shared
encoder and the foreground head would drift from what it knew. The initial network's masks serve as
the pseudo labels that a segmentation network provides in training (Semantic-Guided Representation
Enhancement, Sec. 4.1: binary cross-entropy on pseudo labels), so adapting keeps the mask as it was.
"""
from __future__ import annotations

import numpy as np
import torch

from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.model import SemDepthNet
from semdepth_ros.predictor import Predictor
from semdepth_ros.scale import NO_SCALE
from semdepth_training.datasets.bag_cache import BagFrames


def foreground_labels(model: SemDepthNet, meta: CheckpointMeta, cache: BagFrames, device: torch.device,
                      batch_size: int = 16) -> np.ndarray:
    """uint8 {0, 1} masks [N, H, W] of every cached frame, as the node would output them."""
    predictor = Predictor(model, meta, device=device)
    masks = np.zeros((len(cache), cache.height, cache.width), np.uint8)
    for first in range(0, len(cache), batch_size):
        chunk = range(first, min(first + batch_size, len(cache)))
        predictions = predictor.predict_batch([cache.image(i) for i in chunk], scale=NO_SCALE, with_points=False)
        masks[first:first + len(chunk)] = [p.mask for p in predictions]
    return masks
