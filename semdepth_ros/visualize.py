"""Colour maps and overlays shared by `semdepth predict`, the node and the reports."""
from __future__ import annotations

import cv2
import numpy as np

FOREGROUND_COLOUR = np.array([255, 64, 32], dtype=np.float32)


def colorize_depth(depth: np.ndarray, max_depth: float | None = None) -> np.ndarray:
    """Depth [H,W] -> RGB uint8 with a perceptual colour map on inverse depth (near = bright).

    Inverse depth spreads the near range, where a robot's decisions are; NaN is black.
    """
    valid = np.isfinite(depth) & (depth > 0)
    inv = np.zeros(depth.shape, dtype=np.float32)
    inv[valid] = 1.0 / depth[valid]
    if valid.any():
        lo = 1.0 / max_depth if max_depth else float(np.percentile(inv[valid], 5))
        hi = float(np.percentile(inv[valid], 95))
        inv = np.clip((inv - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    coloured = cv2.applyColorMap((inv * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)[..., ::-1]
    coloured[~valid] = 0
    return np.ascontiguousarray(coloured)


def overlay_mask(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Tint foreground pixels of an RGB image (mask {0,1} at the image size)."""
    out = image.astype(np.float32)
    fg = mask.astype(bool)
    out[fg] = (1.0 - alpha) * out[fg] + alpha * FOREGROUND_COLOUR
    return out.astype(np.uint8)
