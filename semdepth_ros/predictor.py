"""The inference engine: image in, metric depth + foreground mask + point cloud out.

One implementation serves the node, `semdepth predict`, the bag tools, the evaluation and the
benchmarks, so a number measured by one of them holds for the others. An image passes four stages,
each timed: preprocess (resize, upload), network (disparity -> depth up to scale, foreground
probability), postprocess (output size, mask, intrinsics, metric scale from the scale policy) and
points (back-projection of the metric depth). Callers get depth already in metres and never scale
it again. The model stays in eval mode without autograd and reuses its input buffer between calls.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
import time
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from semdepth_ros.checkpoint import CheckpointMeta, load_checkpoint, resolve_checkpoint
from semdepth_ros.geometry import depth_to_points, disp_to_depth, scale_intrinsics
from semdepth_ros.model import SemDepthNet
from semdepth_ros.scale import NO_SCALE, FixedScale, Scale, ScalePolicy

OUTPUT_SIZES = ("network", "input")


@dataclasses.dataclass
class Prediction:
    """Outputs for one image at the output resolution (network or input size)."""

    depth: np.ndarray                  # [h, w] float32 metres (scale applied)
    fg_prob: np.ndarray                # [h, w] float32 in [0, 1]
    mask: np.ndarray                   # [h, w] uint8 {0, 1}
    points: np.ndarray | None          # [h, w, 3] float32 camera optical frame, from `depth`, or None
    intrinsics: np.ndarray | None      # 3x3 at the output resolution, or None
    timings: dict[str, float]          # milliseconds per stage
    scale: Scale = NO_SCALE.current    # the factor applied to the network's depth, and its source
    depth_cap: float = math.inf        # metres: the network's max_depth x scale, where its depth saturates


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' picks CUDA when present; an explicit 'cuda' without a GPU is an error, not a fallback."""
    device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but PyTorch sees no CUDA GPU; use device 'cpu' or 'auto'")
    return torch.device(device)


class Predictor:
    """Runs a SemDepthNet on uint8 RGB images of any size.

    ``Predictor(model, meta)`` wraps a network in memory (training previews, export, benchmarks);
    ``Predictor.load(path)`` reads a checkpoint file (None: the default model).
    """

    def __init__(self, model: SemDepthNet, meta: CheckpointMeta, device: str | torch.device = "auto",
                 fp16: bool = False, checkpoint_path: str | os.PathLike | None = None) -> None:
        self.device = resolve_device(device)
        if fp16 and self.device.type != "cuda":
            raise ValueError("fp16 inference needs a CUDA device")
        self.meta = meta
        self.fp16 = fp16
        self.checkpoint_path = None if checkpoint_path is None else str(checkpoint_path)
        self.model = model.to(self.device).eval()
        if fp16:
            self.model.half()
        self.height, self.width = meta.input_height, meta.input_width
        self._buffer: torch.Tensor | None = None

    @classmethod
    def load(cls, checkpoint: str | os.PathLike | None = None, device: str | torch.device = "auto",
             fp16: bool = False) -> "Predictor":
        """The predictor of a checkpoint file (None: $SEMDEPTH_DEFAULT_MODEL or the bundled model)."""
        path: Path = resolve_checkpoint(checkpoint)
        dev = resolve_device(device)
        model, meta = load_checkpoint(path, map_location=dev)
        return cls(model, meta, dev, fp16, checkpoint_path=path)

    def predict(self, image: np.ndarray, intrinsics: np.ndarray | None = None, output: str = "network",
                scale: ScalePolicy | float | None = None, with_points: bool = True) -> Prediction:
        """Predict one HxWx3 uint8 RGB image; ``intrinsics`` describe that input image.

        ``scale``: None = the checkpoint's factor, a number = that fixed factor, or a policy
        (e.g. `semdepth_ros.scale.GroundPlaneScale`). Points need ``intrinsics``.
        """
        return self.predict_batch([image], intrinsics, output, scale, with_points)[0]

    def predict_batch(self, images: Sequence[np.ndarray] | np.ndarray, intrinsics: np.ndarray | None = None,
                      output: str = "network", scale: ScalePolicy | float | None = None,
                      with_points: bool = True) -> list[Prediction]:
        """Predict a batch of same-camera images (list or BxHxWx3 array); a policy sees them in order."""
        if output not in OUTPUT_SIZES:
            raise ValueError(f"output must be 'network' or 'input', not {output!r}")
        images = list(images)
        if not images:
            return []
        policy = self._policy(scale)
        t0 = time.perf_counter()
        tensor = self._preprocess(images)
        self._sync()
        t1 = time.perf_counter()
        depths, fgs = self._network(tensor)
        t2 = time.perf_counter()
        stage_ms = {"preprocess": (t1 - t0) * 1e3, "network": (t2 - t1) * 1e3}
        return [self._postprocess(image, depth, fg, intrinsics, output, policy, with_points, stage_ms)
                for image, depth, fg in zip(images, depths, fgs)]

    def _policy(self, scale: ScalePolicy | float | None) -> ScalePolicy:
        if scale is None:
            return FixedScale(self.meta.scale_factor, "checkpoint")
        if isinstance(scale, numbers.Real):
            return FixedScale(float(scale), "fixed")
        return scale

    # --- stages ---------------------------------------------------------------------------------
    def _preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Resize to the network size and upload into a reused [B,3,H,W] buffer in [0, 1]."""
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

    def _network(self, tensor: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Depth up to scale [B,H,W] and foreground probability [B,H,W] at the network size."""
        with torch.inference_mode():
            outputs = self.model(tensor)
            disp = outputs[("disp", 0)].float()
            fg = outputs[("fg", 0)].float() if ("fg", 0) in outputs else torch.zeros_like(disp)
            _, depth = disp_to_depth(disp, self.meta.min_depth, self.meta.max_depth)
            return depth[:, 0].cpu().numpy(), fg[:, 0].cpu().numpy()

    def _postprocess(self, image: np.ndarray, depth: np.ndarray, fg: np.ndarray, intrinsics: np.ndarray | None,
                     output: str, policy: ScalePolicy, with_points: bool, stage_ms: dict[str, float]) -> Prediction:
        """Output size, mask, output intrinsics and metric scale; then the points of the metric depth."""
        t0 = time.perf_counter()
        in_h, in_w = image.shape[:2]
        if output == "input" and (in_h, in_w) != depth.shape:
            depth = cv2.resize(depth, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
            fg = cv2.resize(fg, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        out_h, out_w = depth.shape
        mask = (fg > 0.5).astype(np.uint8)
        k_out = None if intrinsics is None else scale_intrinsics(np.asarray(intrinsics), out_w / in_w, out_h / in_h)
        scale = policy.scale_for(depth, mask, k_out)
        depth = (depth * np.float32(scale.factor)).astype(np.float32, copy=False)
        t1 = time.perf_counter()
        points = self._points(depth, k_out) if with_points else None
        t2 = time.perf_counter()
        timings = {**stage_ms, "postprocess": (t1 - t0) * 1e3, "pointcloud": (t2 - t1) * 1e3}
        return Prediction(depth, fg.astype(np.float32, copy=False), mask, points, k_out, timings, scale,
                          self.meta.max_depth * scale.factor)

    @staticmethod
    def _points(depth: np.ndarray, k_out: np.ndarray | None) -> np.ndarray | None:
        """Organised camera-frame points of the metric depth (none without intrinsics)."""
        return None if k_out is None else depth_to_points(depth, k_out)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {desc}")
    return image
