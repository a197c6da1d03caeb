"""The Predictor's stages in torch, so they run where the network runs (the GPU path).

Each function matches its numpy/OpenCV reference, which the host path of the Predictor runs:
- resizing is a linear map per axis, so it is done as two matrix products whose weights are OpenCV's
  own (``cv2.resize`` of an identity matrix): INTER_AREA for the camera image (then rounded to uint8
  levels like OpenCV's uint8 output), INTER_LINEAR for depth and foreground at the input size;
- points follow `semdepth_ros.geometry.depth_to_points` (depth_image_proc's formula);
- the cloud is the PointCloud2 record layout of `semdepth_ros.codec.cloud_records` (x, y, z, rgb, label
  in 20 bytes) with the validity rule of `semdepth_ros.outputs.valid_depth` and the decimation of
  `semdepth_ros.outputs.pack_cloud`, built as a float32 [..., 5] tensor whose last two columns carry
  the rgb and label bits.
No function synchronises with the host or copies from it, so the stages can be captured in a CUDA graph.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from semdepth_ros.outputs import SATURATION

CLOUD_COLUMNS = 5  # x, y, z, rgb (packed 0x00RRGGBB bits), label (uint8 in the low byte)


def resize_weights(src: int, dst: int, interpolation: int) -> np.ndarray:
    """[dst, src] float32 weights of OpenCV's 1-D resize (``interpolation`` = cv2.INTER_*).

    cv2.resize is linear and separable for float images, so resizing the identity gives its weights.
    """
    if src == dst:
        return np.eye(src, dtype=np.float32)
    return cv2.resize(np.eye(src, dtype=np.float32), (src, dst), interpolation=interpolation)


class Resizer:
    """Resize [B, C, H, W] float tensors to (h, w) with OpenCV's weights, cached per size and device."""

    def __init__(self, interpolation: int) -> None:
        self.interpolation = interpolation
        self._weights: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def weights(self, in_hw: tuple[int, int], out_hw: tuple[int, int],
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows [h, H], columns^T [W, w]) on ``device``; made once per size (before any graph capture)."""
        key = (in_hw, out_hw, str(device))
        if key not in self._weights:
            rows = torch.from_numpy(resize_weights(in_hw[0], out_hw[0], self.interpolation))
            cols = torch.from_numpy(resize_weights(in_hw[1], out_hw[1], self.interpolation)).T.contiguous()
            self._weights[key] = (rows.to(device), cols.to(device))
        return self._weights[key]

    def __call__(self, x: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
        b, c, h, w = x.shape
        if (h, w) == tuple(out_hw):
            return x
        rows, cols = self.weights((h, w), out_hw, x.device)
        x = rows @ x                                 # [B, C, h_out, W]
        return x @ cols                              # [B, C, h_out, w_out]


AREA = Resizer(cv2.INTER_AREA)
LINEAR = Resizer(cv2.INTER_LINEAR)


def resize_image(images: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float32 [B, 3, h, w] holding uint8 levels (0..255), like cv2 INTER_AREA.

    Rounded half up, as OpenCV's uint8 area resize rounds, so the network sees the reference path's input.
    """
    x = images.permute(0, 3, 1, 2).float()
    if x.shape[-2:] == tuple(out_hw):
        return x
    return torch.floor(AREA(x, out_hw) + 0.5).clamp_(0.0, 255.0)


def normalise(levels: torch.Tensor, dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    """uint8 levels -> the network input in [0, 1], in the network's dtype and memory format."""
    x = (levels * (1.0 / 255.0)).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


def disp_to_depth_map(disp: torch.Tensor, min_depth: float, max_depth: float) -> torch.Tensor:
    """Sigmoid disparity -> depth (Monodepth2's linear disparity range; `geometry.disp_to_depth`)."""
    min_disp, max_disp = 1.0 / max_depth, 1.0 / min_depth
    return 1.0 / (min_disp + (max_disp - min_disp) * disp.float())


def resize_maps(maps: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """float32 [B, C, h, w] -> [B, C, H, W] like cv2 INTER_LINEAR (depth and foreground at the input size)."""
    return LINEAR(maps, out_hw)


def depth_to_points(depth: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """depth [B, H, W] float32, intrinsics [B, 3, 3] -> organised points [B, H, W, 3] (NaN passes through)."""
    _, h, w = depth.shape
    fx, fy, cx, cy = k[:, 0, 0], k[:, 1, 1], k[:, 0, 2], k[:, 1, 2]
    u = torch.arange(w, device=depth.device, dtype=torch.float32)
    v = torch.arange(h, device=depth.device, dtype=torch.float32)
    x = depth * ((u[None, :] - cx[:, None]) / fx[:, None])[:, None, :]
    y = depth * ((v[None, :] - cy[:, None]) / fy[:, None])[:, :, None]
    return torch.stack((x, y, depth), dim=-1)


def pack_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """uint8 levels [..., 3] (any real dtype) -> float32 holding the bits 0x00RRGGBB (`codec.pack_rgb`)."""
    rgb = rgb.to(torch.int32)
    return ((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]).view(torch.float32)


def pack_cloud(depth: torch.Tensor, points: torch.Tensor, rgb: torch.Tensor, label: torch.Tensor,
               max_range: float, depth_cap: torch.Tensor, step: int) -> torch.Tensor:
    """Cloud records as float32 [B, h', w', 5] (bytes = `codec.cloud_records` on little-endian hosts).

    depth [B, H, W] metric, points [B, H, W, 3], rgb levels [B, H, W, 3], label [B, H, W] (0/1),
    depth_cap [B] (the network's max depth x scale); every ``step``-th pixel both ways; points where
    `outputs.valid_depth` rejects the depth (not finite, saturated at the cap, beyond ``max_range``) are
    NaN. Dropping them from an unorganised cloud is left to the host.
    """
    depth, points = depth[:, ::step, ::step], points[:, ::step, ::step]
    valid = torch.isfinite(depth) & (depth < SATURATION * depth_cap[:, None, None]) & (depth <= max_range)
    xyz = torch.where(valid[..., None], points, torch.full_like(points[..., :1], float("nan")))
    colour = pack_rgb(rgb[:, ::step, ::step])
    labels = label[:, ::step, ::step].to(torch.int32).view(torch.float32)
    return torch.cat((xyz, colour[..., None], labels[..., None]), dim=-1)
