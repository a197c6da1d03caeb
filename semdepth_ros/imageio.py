"""Image files in and out as RGB / binary masks, with errors that name the file."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB; errors name the file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"image file missing: {path}")
        raise ValueError(f"cannot decode image file: {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_train_ids(path: str | Path) -> np.ndarray:
    """HxW uint8 Cityscapes train ids from a single-channel PNG, as stored."""
    ids = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if ids is None:
        raise FileNotFoundError(f"train-id PNG missing or unreadable: {path}")
    return ids


def read_mask(path: str | Path) -> np.ndarray:
    """HxW uint8 {0, 1} from a 0/255 PNG."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"cannot read mask file: {path}")
    return (mask > 127).astype(np.uint8)
