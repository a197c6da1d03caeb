"""The inference engine: image in, metric depth + foreground mask + point cloud out.

One implementation serves the node, `semdepth predict`, the bag tools, the evaluation and the
benchmarks, so a number measured by one of them holds for the others. An image passes four stages,
each timed: preprocess (resize, upload), network (disparity -> depth up to scale, foreground
probability), postprocess (output size, mask, intrinsics, metric scale from the scale policy) and
points (back-projection of the metric depth, and the PointCloud2 records when asked for). Callers get
depth already in metres and never scale it again.

Two paths run the stages behind the same `predict`: the host path (OpenCV and numpy around the
network; the reference, and the faster one on a CPU) and the device path (`engine.device_pipeline`:
every stage in torch on the GPU, one copy up and one down). `engine.options.EngineOptions` picks the
network engine (PyTorch eager or CUDA graph, ONNX Runtime, OpenVINO), its precision and the path.
"""
from __future__ import annotations

import numbers
import os
import time
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from semdepth_ros.checkpoint import CheckpointMeta, load_checkpoint, resolve_checkpoint
from semdepth_ros.engine.device_pipeline import DevicePipeline
from semdepth_ros.engine.networks import build_network
from semdepth_ros.engine.onnx_export import export_blocker
from semdepth_ros.engine.options import EngineOptions, resolve
from semdepth_ros.geometry import depth_to_points, disp_to_depth, scale_intrinsics
from semdepth_ros.model import SemDepthNet
from semdepth_ros.outputs import OutputSettings, pack_cloud, valid_depth
from semdepth_ros.prediction import PackedCloud, Prediction
from semdepth_ros.scale import FixedScale, ScalePolicy

OUTPUT_SIZES = ("network", "input")
__all__ = ["OUTPUT_SIZES", "Prediction", "Predictor", "resolve_device"]


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
    ``Predictor.load(path)`` reads a checkpoint file (None: the default model). ``options`` choose the
    engine (`EngineOptions`; invalid choices raise `EngineError` here, in one sentence).
    """

    def __init__(self, model: SemDepthNet, meta: CheckpointMeta, device: str | torch.device = "auto",
                 options: EngineOptions = EngineOptions(), checkpoint_path: str | os.PathLike | None = None) -> None:
        self.device = resolve_device(device)
        self.options = resolve(options, self.device, export_blocker(model.config))
        self.meta = meta
        self.checkpoint_path = None if checkpoint_path is None else str(checkpoint_path)
        self.model = model.eval()
        self.network = build_network(self.model, meta, self.device, self.options)
        self.height, self.width = meta.input_height, meta.input_width
        self._pipeline = (DevicePipeline(self.network, meta, self.device, self.options.cuda_graph)
                          if self.options.device_stages else None)
        self._buffer: torch.Tensor | None = None

    @classmethod
    def load(cls, checkpoint: str | os.PathLike | None = None, device: str | torch.device = "auto",
             options: EngineOptions = EngineOptions()) -> "Predictor":
        """The predictor of a checkpoint file (None: $SEMDEPTH_DEFAULT_MODEL or the bundled model)."""
        path: Path = resolve_checkpoint(checkpoint)
        dev = resolve_device(device)
        model, meta = load_checkpoint(path, map_location=dev if options.backend in ("torch", "auto") else "cpu")
        return cls(model, meta, dev, options, checkpoint_path=path)

    @property
    def engine(self) -> str:
        """What runs, in words (logged by the node, printed by the benchmarks)."""
        return f"{self.network.name}, {'device' if self._pipeline else 'host'} stages"

    def predict(self, image: np.ndarray, intrinsics: np.ndarray | None = None, output: str = "network",
                scale: ScalePolicy | float | None = None, with_points: bool = True,
                cloud: OutputSettings | None = None) -> Prediction:
        """Predict one HxWx3 uint8 RGB image; ``intrinsics`` describe that input image.

        ``scale``: None = the checkpoint's factor, a number = that fixed factor, or a policy
        (e.g. `semdepth_ros.scale.GroundPlaneScale`). Points need ``intrinsics``; so does ``cloud``,
        which asks for the PointCloud2 records cut with those settings (`Prediction.cloud`).
        """
        return self.predict_batch([image], intrinsics, output, scale, with_points, cloud)[0]

    def predict_batch(self, images: Sequence[np.ndarray] | np.ndarray, intrinsics: np.ndarray | None = None,
                      output: str = "network", scale: ScalePolicy | float | None = None,
                      with_points: bool = True, cloud: OutputSettings | None = None) -> list[Prediction]:
        """Predict a batch of same-camera images (list or BxHxWx3 array); a policy sees them in order."""
        if output not in OUTPUT_SIZES:
            raise ValueError(f"output must be 'network' or 'input', not {output!r}")
        images = [_check_image(image) for image in images]
        if not images:
            return []
        policy = self._policy(scale)
        if self._pipeline is None:
            return self._run_host(images, intrinsics, output, policy, with_points, cloud)
        if len({image.shape for image in images}) > 1:  # one upload per size
            return [p for image in images for p in self._pipeline.run([image], intrinsics, output, policy,
                                                                      with_points, cloud)]
        return self._pipeline.run(images, intrinsics, output, policy, with_points, cloud)

    def _policy(self, scale: ScalePolicy | float | None) -> ScalePolicy:
        if scale is None:
            return FixedScale(self.meta.scale_factor, "checkpoint")
        if isinstance(scale, numbers.Real):
            return FixedScale(float(scale), "fixed")
        return scale

    # --- the host path: OpenCV/numpy stages around the network (the reference) --------------------
    def _run_host(self, images: list[np.ndarray], intrinsics: np.ndarray | None, output: str, policy: ScalePolicy,
                  with_points: bool, cloud: OutputSettings | None) -> list[Prediction]:
        t0 = time.perf_counter()
        resized = [self._resize(image) for image in images]
        tensor = self._preprocess(resized)
        self._sync()
        t1 = time.perf_counter()
        depths, fgs = self._network(tensor)
        t2 = time.perf_counter()
        stage_ms = {"preprocess": (t1 - t0) * 1e3, "network": (t2 - t1) * 1e3}
        return [self._postprocess(image, small, depth, fg, intrinsics, output, policy, with_points, cloud, stage_ms)
                for image, small, depth, fg in zip(images, resized, depths, fgs)]

    def _preprocess(self, resized: Sequence[np.ndarray]) -> torch.Tensor:
        """Upload network-size images into a reused [B,3,H,W] buffer in [0, 1] (the network's dtype and layout)."""
        batch = np.stack(resized)
        if self._buffer is None or self._buffer.shape[0] != len(resized):
            self._buffer = torch.empty((len(resized), 3, self.height, self.width), dtype=self.network.input_dtype,
                                       device=self.device)
            if self.network.channels_last:
                self._buffer = self._buffer.contiguous(memory_format=torch.channels_last)
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
            disp, fg = self.network(tensor)
            _, depth = disp_to_depth(disp.float(), self.meta.min_depth, self.meta.max_depth)
            return depth[:, 0].cpu().numpy(), fg[:, 0].float().cpu().numpy()

    def _postprocess(self, image: np.ndarray, small: np.ndarray, depth: np.ndarray, fg: np.ndarray,
                     intrinsics: np.ndarray | None, output: str, policy: ScalePolicy, with_points: bool,
                     cloud: OutputSettings | None, stage_ms: dict[str, float]) -> Prediction:
        """Output size, mask, output intrinsics and metric scale; then the points (and cloud) of the metric depth."""
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
        pred = Prediction(depth, fg.astype(np.float32, copy=False), mask, None, k_out, {}, scale,
                          self.meta.max_depth * scale.factor)
        if k_out is not None and (with_points or cloud is not None):
            pred.points = depth_to_points(depth, k_out)
            if cloud is not None:
                colours = image if output == "input" else small
                pred.cloud = PackedCloud(cloud, pack_cloud(pred.points, valid_depth(pred, cloud.max_point_range),
                                                           colours, mask, cloud.decimation))
            if not with_points:
                pred.points = None
        t2 = time.perf_counter()
        pred.timings = {**stage_ms, "postprocess": (t1 - t0) * 1e3, "pointcloud": (t2 - t1) * 1e3}
        return pred

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {desc}")
    return image
