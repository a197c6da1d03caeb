"""Image files in and out as RGB / binary masks, with errors that name the file."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from semdepth_ros.image_size import MAX_INPUT_PIXELS, HeaderError, encoded_size, pixel_limit_error


def _read_bytes(path: str | Path) -> np.ndarray:
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an image file")
    if not path.is_file():
        raise FileNotFoundError(f"image file missing: {path}")
    return np.fromfile(path, dtype=np.uint8)


def check_image_file(path: str | Path, max_pixels: int = MAX_INPUT_PIXELS) -> np.ndarray:
    """The file's bytes, once it exists and its PNG/JPEG header allows ``max_pixels`` (other formats
    are only checked after decoding); errors name the file."""
    data = _read_bytes(path)
    try:
        size = encoded_size(data)
    except HeaderError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    refusal = size and pixel_limit_error(size.width, size.height, max_pixels, "--max-input-pixels")
    if refusal:
        raise ValueError(f"{path}: {refusal}")
    return data


def read_rgb(path: str | Path, max_pixels: int = MAX_INPUT_PIXELS) -> np.ndarray:
    """HxWx3 uint8 RGB; an image above ``max_pixels`` is refused (PNG/JPEG before decoding); errors
    name the file."""
    image = cv2.imdecode(check_image_file(path, max_pixels), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode image file: {path}")
    refusal = pixel_limit_error(image.shape[1], image.shape[0], max_pixels, "--max-input-pixels")
    if refusal:
        raise ValueError(f"{path}: {refusal}")
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
