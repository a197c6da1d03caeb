"""The inference engine: image in, metric depth + foreground mask + point cloud out.

One implementation serves the node, `semdepth predict`, the bag tools and the benchmarks, so a
number measured by one of them holds for the others. It keeps the model in eval mode without
autograd, reuses its input buffer between calls and times each stage.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Sequence

import cv2
import numpy as np
import torch

from semdepth_ros.checkpoint import CheckpointError, CheckpointMeta, default_checkpoint_path, load_checkpoint
from semdepth_ros.geometry import depth_to_points, disp_to_depth, scale_intrinsics
from semdepth_ros.model import SemDepthNet


@dataclasses.dataclass
class Prediction:
    """Outputs for one image at the output resolution (network or input size)."""

    depth: np.ndarray                  # [h, w] float32 metres
    fg_prob: np.ndarray                # [h, w] float32 in [0, 1]
    mask: np.ndarray                   # [h, w] uint8 {0, 1}
    points: np.ndarray | None          # [h, w, 3] float32 camera optical frame, or None
    intrinsics: np.ndarray | None      # 3x3 at the output resolution, or None
    timings: dict[str, float]          # milliseconds per stage


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present; an explicit 'cuda' without a GPU is an error, not a fallback."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but PyTorch sees no CUDA GPU; use device 'cpu' or 'auto'")
    return torch.device(device)


class Predictor:
    """Runs a SemDepthNet checkpoint on uint8 RGB images of any size."""

    def __init__(self, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                 fp16: bool = False) -> None:
        path = checkpoint or default_checkpoint_path()
        if path is None:
            raise CheckpointError("no checkpoint given and no bundled default model installed; pass a "
                                  "checkpoint file (train one with `semdepth train`)")
        self.checkpoint_path = str(path)
        dev = resolve_device(device)
        model, meta = load_checkpoint(path, map_location=dev)
        self._setup(model, meta, dev, fp16)

    @classmethod
    def from_model(cls, model: SemDepthNet, meta: CheckpointMeta, device: str = "cpu",
                   fp16: bool = False) -> "Predictor":
        """Wrap an in-memory network (training previews, tests, benchmarks without a file)."""
        self = cls.__new__(cls)
        self.checkpoint_path = None
        self._setup(model, meta, resolve_device(device), fp16)
        return self

    def _setup(self, model: SemDepthNet, meta: CheckpointMeta, device: torch.device, fp16: bool) -> None:
        if fp16 and device.type != "cuda":
            raise ValueError("fp16 inference needs a CUDA device")
        self.meta = meta
        self.device = device
        self.fp16 = fp16
        self.model = model.to(device).eval()
        if fp16:
            self.model.half()
        self.height, self.width = meta.input_height, meta.input_width
        self._buffer: torch.Tensor | None = None

    @property
    def has_semantics(self) -> bool:
        return self.meta.model_config.semantic

    def _input_tensor(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Resize to the network size and upload into a reused [B,3,H,W] buffer."""
        batch = np.stack([self._resize(_check_image(img)) for img in images])
        dtype = torch.float16 if self.fp16 else torch.float32
        if self._buffer is None or self._buffer.shape[0] != len(images):
            self._buffer = torch.empty((len(images), 3, self.height, self.width), dtype=dtype,
                                       device=self.device)
        host = torch.from_numpy(batch).permute(0, 3, 1, 2)
        if self.device.type == "cuda":
            host = host.pin_memory()
        self._buffer.copy_(host, non_blocking=True)
        return self._buffer.div_(255.0)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        if image.shape[:2] == (self.height, self.width):
            return image
        return cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)

    def predict(self, image: np.ndarray, intrinsics: np.ndarray | None = None,
                output: str = "network", scale: float | None = None,
                with_points: bool = True) -> Prediction:
        """Predict one HxWx3 uint8 RGB image; ``intrinsics`` describe that input image."""
        return self.predict_batch([image], intrinsics, output, scale, with_points)[0]

    def predict_batch(self, images: Sequence[np.ndarray] | np.ndarray,
                      intrinsics: np.ndarray | None = None, output: str = "network",
                      scale: float | None = None, with_points: bool = True) -> list[Prediction]:
        """Predict a batch of same-camera images (list or BxHxWx3 array)."""
        if output not in ("network", "input"):
            raise ValueError(f"output must be 'network' or 'input', not {output!r}")
        images = list(images)
        if not images:
            return []
        factor = self.meta.scale_factor if scale is None else float(scale)
        t0 = time.perf_counter()
        tensor = self._input_tensor(images)
        self._sync()
        t1 = time.perf_counter()
        with torch.inference_mode():
            outputs = self.model(tensor)
            disp = outputs[("disp", 0)].float()
            fg = outputs[("fg", 0)].float() if ("fg", 0) in outputs else torch.zeros_like(disp)
            _, depth = disp_to_depth(disp, self.meta.min_depth, self.meta.max_depth)
            depth = (depth * factor)[:, 0].cpu().numpy()
            fg = fg[:, 0].cpu().numpy()
        t2 = time.perf_counter()
        net_ms = (t1 - t0, t2 - t1)
        results = []
        for img, d, f in zip(images, depth, fg):
            results.append(self._postprocess(img, d, f, intrinsics, output, with_points, net_ms))
        return results

    def _postprocess(self, image: np.ndarray, depth: np.ndarray, fg: np.ndarray,
                     intrinsics: np.ndarray | None, output: str, with_points: bool,
                     net_times: tuple[float, float]) -> Prediction:
        t0 = time.perf_counter()
        in_h, in_w = image.shape[:2]
        if output == "input" and (in_h, in_w) != depth.shape:
            depth = cv2.resize(depth, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
            fg = cv2.resize(fg, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        out_h, out_w = depth.shape
        mask = (fg > 0.5).astype(np.uint8)
        k_out = None
        if intrinsics is not None:
            k_out = scale_intrinsics(np.asarray(intrinsics), out_w / in_w, out_h / in_h)
        t1 = time.perf_counter()
        points = depth_to_points(depth, k_out) if (with_points and k_out is not None) else None
        t2 = time.perf_counter()
        timings = {"preprocess": net_times[0] * 1e3, "network": net_times[1] * 1e3,
                   "postprocess": (t1 - t0) * 1e3, "pointcloud": (t2 - t1) * 1e3}
        return Prediction(depth.astype(np.float32, copy=False), fg.astype(np.float32, copy=False),
                          mask, points, k_out, timings)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {desc}")
    return image
