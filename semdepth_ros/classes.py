"""Cityscapes train-id classes and the binary foreground split the network learns.

One list shared by the runtime (overlays, per-class evaluation) and the training side (pseudo
labels, the synthetic world), so a class id means the same thing everywhere.
"""
from __future__ import annotations

import numpy as np

# The 19 Cityscapes evaluation classes in train-id order (id = index); 255 marks "ignore".
CITYSCAPES_TRAIN_IDS: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
    "bicycle",
)
IGNORE_ID = 255
TRAIN_ID: dict[str, int] = {name: i for i, name in enumerate(CITYSCAPES_TRAIN_IDS)}

# Semantic-Guided Representation Enhancement, Appendix C.2 / Table 7: "traffic sign, person, rider, car,
# truck, bus, train, motorcycle, bicycle, traffic light" are foreground (1); road, sidewalk, building,
# wall, fence, pole, vegetation, terrain and sky are background (0).
FOREGROUND_CLASSES: tuple[str, ...] = (
    "traffic sign", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
    "traffic light",
)
FOREGROUND_TRAIN_IDS: tuple[int, ...] = tuple(sorted(TRAIN_ID[name] for name in FOREGROUND_CLASSES))

# The usual Cityscapes colours (RGB) per train id, for label previews.
CITYSCAPES_PALETTE = np.array([
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
], dtype=np.uint8)


def foreground_from_train_ids(ids: np.ndarray) -> np.ndarray:
    """Binary foreground mask (uint8 {0,1}) from a train-id map; ignore (255) and unknown ids -> 0."""
    return np.isin(np.asarray(ids), FOREGROUND_TRAIN_IDS).astype(np.uint8)


def colorize_train_ids(ids: np.ndarray) -> np.ndarray:
    """RGB preview [H,W,3] uint8 of a train-id map; ignore and unknown ids are black."""
    ids = np.asarray(ids)
    known = (ids >= 0) & (ids < len(CITYSCAPES_TRAIN_IDS))
    out = np.zeros(ids.shape + (3,), dtype=np.uint8)
    out[known] = CITYSCAPES_PALETTE[ids[known].astype(np.intp)]
    return out
