"""The Predictor's device path: one image batch from uint8 upload to finished output buffers on the GPU.

The camera images go into a pinned host buffer as uint8 and up in one copy; resize, normalisation,
network, depth, output size, mask, metric scale, points and the PointCloud2 records are computed on the
device (`device_stages`); the finished buffers come back in one device-to-host copy into a fresh pinned
block whose numpy views the Prediction holds. On CUDA each stage is replayed as a CUDA graph per
input shape and settings (the network through its engine), and CUDA events time the stages.

A scale policy other than a fixed factor (the ground plane) is numpy code that needs the unscaled depth:
that costs one extra copy of depth and mask to the host between postprocess and points.
The same code runs on the CPU (tests compare it there with the host path).
"""
from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.codec import cloud_dtype
from semdepth_ros.engine.device_stages import CLOUD_COLUMNS, depth_to_points, disp_to_depth_map, normalise, \
    pack_cloud, resize_image, resize_maps
from semdepth_ros.engine.networks import NetworkEngine
from semdepth_ros.geometry import scale_intrinsics
from semdepth_ros.model.cuda_graph import CapturedNetwork
from semdepth_ros.outputs import OutputSettings
from semdepth_ros.prediction import PackedCloud, Prediction
from semdepth_ros.scale import FixedScale, Scale, ScalePolicy

STAGES = ("preprocess", "network", "postprocess", "pointcloud")


class StageClock:
    """Marks between stages: CUDA events on a GPU (read after the final synchronisation), else wall time."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.marks: list[Any] = []

    def mark(self) -> None:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append(event)
        else:
            self.marks.append(time.perf_counter())

    def intervals_ms(self) -> list[float]:
        if self.cuda:
            return [a.elapsed_time(b) for a, b in zip(self.marks, self.marks[1:])]
        return [(b - a) * 1e3 for a, b in zip(self.marks, self.marks[1:])]


def _preprocess(images: torch.Tensor, net_hw: tuple[int, int], dtype: torch.dtype,
                channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 [B,H,W,3] -> (network input, uint8 levels [B,3,h,w] of the image at the network size)."""
    levels = resize_image(images, net_hw)
    return normalise(levels, dtype, channels_last), levels


def _postprocess(disp: torch.Tensor, fg: torch.Tensor, out_hw: tuple[int, int], min_depth: float,
                 max_depth: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(unscaled depth, foreground probability, mask uint8) [B,h,w] at the output size."""
    maps = torch.cat((disp_to_depth_map(disp, min_depth, max_depth), fg.float()), dim=1)
    maps = resize_maps(maps, out_hw)
    depth, prob = maps[:, 0].contiguous(), maps[:, 1].contiguous()
    return depth, prob, (prob > 0.5).to(torch.uint8)


def _finish(depth: torch.Tensor, prob: torch.Tensor, mask: torch.Tensor, rgb: torch.Tensor, params: torch.Tensor,
            with_points: bool, cloud: OutputSettings | None) -> torch.Tensor:
    """Metric depth, points and cloud records, as one flat byte buffer: depth, fg, [points], [cloud], mask.

    ``params`` [B,11]: the output intrinsics (row-major 3x3), the scale factor and the depth cap of each image.
    """
    metric = depth * params[:, 9, None, None]
    parts = [metric, prob]
    if with_points or cloud is not None:
        points = depth_to_points(metric, params[:, :9].reshape(-1, 3, 3))
        if with_points:
            parts.append(points)
        if cloud is not None:
            parts.append(pack_cloud(metric, points, rgb, mask, cloud.max_point_range, params[:, 10], cloud.decimation))
    parts = [part.contiguous().view(torch.uint8).reshape(-1) for part in parts]
    return torch.cat((*parts, mask.reshape(-1)))


class DevicePipeline:
    """Runs batches of same-size images through the device stages and ``network``."""

    def __init__(self, network: NetworkEngine, meta: CheckpointMeta, device: torch.device, cuda_graph: bool) -> None:
        self.network = network
        self.meta = meta
        self.device = device
        self.cuda_graph = cuda_graph
        self.net_hw = (meta.input_height, meta.input_width)
        self._uploads: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        self._graphs: dict[tuple[Any, ...], CapturedNetwork] = {}

    def _stage(self, key: tuple[Any, ...], fn: Callable[..., Any], *args: torch.Tensor) -> Any:
        """``fn(*args)``; on CUDA replayed from a graph captured once per ``key`` and argument shapes."""
        if not self.cuda_graph:
            return fn(*args)
        key = (*key, *(tuple(a.shape) for a in args))
        if key not in self._graphs:
            self._graphs[key] = CapturedNetwork(fn, *args)
        return self._graphs[key](*args)

    def _upload(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """The images as uint8 [B,H,W,3] on the device: staged in a reused pinned buffer, one copy up."""
        shape = (len(images), *images[0].shape)
        if shape not in self._uploads:
            cuda = self.device.type == "cuda"
            host = torch.empty(shape, dtype=torch.uint8, pin_memory=cuda)
            self._uploads[shape] = (host, torch.empty(shape, dtype=torch.uint8, device=self.device) if cuda else host)
        host, device = self._uploads[shape]
        staged = host.numpy()
        for i, image in enumerate(images):
            staged[i] = image
        if device is not host:
            device.copy_(host, non_blocking=True)
        return device

    def run(self, images: Sequence[np.ndarray], intrinsics: np.ndarray | None, output: str, policy: ScalePolicy,
            with_points: bool, cloud: OutputSettings | None) -> list[Prediction]:
        """Predictions for same-size uint8 RGB images (checked by the caller)."""
        start = time.perf_counter()
        batch, (in_h, in_w) = len(images), images[0].shape[:2]
        out_h, out_w = (in_h, in_w) if output == "input" else self.net_hw
        k_out = None if intrinsics is None else scale_intrinsics(np.asarray(intrinsics), out_w / in_w, out_h / in_h)
        if k_out is None:
            with_points, cloud = False, None
        with torch.inference_mode():
            uploaded = self._upload(images)
            staging_ms = (time.perf_counter() - start) * 1e3
            clock = StageClock(self.device)
            clock.mark()
            net = self.network
            prep = functools.partial(_preprocess, net_hw=self.net_hw, dtype=net.input_dtype,
                                     channels_last=net.channels_last)
            net_input, levels = self._stage(("pre", self.net_hw), prep, uploaded)
            clock.mark()
            disp, fg = net(net_input)
            clock.mark()
            post = functools.partial(_postprocess, out_hw=(out_h, out_w), min_depth=self.meta.min_depth,
                                     max_depth=self.meta.max_depth)
            depth, prob, mask = self._stage(("post", out_h, out_w), post, disp, fg)
            clock.mark()
            policy_start = time.perf_counter()
            scales = self._scales(policy, depth, mask, k_out, batch)
            policy_ms = (time.perf_counter() - policy_start) * 1e3
            params = torch.zeros((batch, 11), dtype=torch.float32, pin_memory=self.device.type == "cuda")
            if k_out is not None:
                params[:, :9] = torch.from_numpy(k_out.reshape(1, 9).astype(np.float32))
            params[:, 9] = torch.tensor([s.factor for s in scales])
            params[:, 10] = params[:, 9] * self.meta.max_depth
            params = params.to(self.device, non_blocking=True)
            rgb = uploaded if output == "input" else levels.permute(0, 2, 3, 1)
            finish = functools.partial(_finish, with_points=with_points, cloud=cloud)
            flat = self._stage(("finish", with_points, cloud), finish, depth, prob, mask, rgb, params)
            host = flat
            if self.device.type == "cuda":
                host = torch.empty(flat.shape, dtype=torch.uint8, pin_memory=True)
                host.copy_(flat, non_blocking=True)
            clock.mark()
            if self.device.type == "cuda":
                torch.cuda.current_stream(self.device).synchronize()
        pre_ms, net_ms, post_ms, finish_ms = clock.intervals_ms()
        # Batch stages: preprocess and network per batch (as the host path reports them), the rest per image.
        timings = {"preprocess": staging_ms + pre_ms, "network": net_ms,
                   "postprocess": (post_ms + policy_ms) / batch, "pointcloud": finish_ms / batch}
        return self._unpack(host.numpy(), batch, (out_h, out_w), k_out, scales, self.meta.max_depth, with_points,
                            cloud, timings)

    @staticmethod
    def _scales(policy: ScalePolicy, depth: torch.Tensor, mask: torch.Tensor, k_out: np.ndarray | None,
                batch: int) -> list[Scale]:
        """The policy's factor per image; only a policy that looks at the depth costs a copy to the host."""
        if isinstance(policy, FixedScale):
            return [policy.current] * batch
        depths, masks = depth.cpu().numpy(), mask.cpu().numpy()
        return [policy.scale_for(depths[i], masks[i], k_out) for i in range(batch)]

    @staticmethod
    def _unpack(data: np.ndarray, batch: int, out_hw: tuple[int, int], k_out: np.ndarray | None,
                scales: list[Scale], max_depth: float, with_points: bool, cloud: OutputSettings | None,
                timings: dict[str, float]) -> list[Prediction]:
        """Numpy views of the flat buffer (the layout `_finish` writes)."""
        h, w = out_hw
        offset = 0

        def take(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
            nonlocal offset
            size = math.prod(shape) * np.dtype(dtype).itemsize
            view = data[offset:offset + size].view(dtype).reshape(shape)
            offset += size
            return view

        depth = take((batch, h, w), np.float32)
        prob = take((batch, h, w), np.float32)
        points = take((batch, h, w, 3), np.float32) if with_points else None
        records = None
        if cloud is not None:
            step = cloud.decimation
            grid = (batch, -(-h // step), -(-w // step))
            records = take((*grid, CLOUD_COLUMNS), np.float32).view(cloud_dtype(True, True)).reshape(grid)
        mask = take((batch, h, w), np.uint8)
        return [Prediction(depth[i], prob[i], mask[i], None if points is None else points[i], k_out, dict(timings),
                           scales[i], max_depth * scales[i].factor,
                           None if records is None else PackedCloud(cloud, records[i]))
                for i in range(batch)]
