"""Network engines: the same contract over PyTorch (eager or CUDA graph), ONNX Runtime and OpenVINO.

An engine maps the network input [B,3,H,W] (in its ``input_dtype`` and memory format, on the
Predictor's device) to (disp, fg) [B,1,H,W] on the same device. Results may live in buffers the next
call overwrites (a CUDA graph's outputs): the Predictor consumes them before calling again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.engine.onnx_export import cached_onnx
from semdepth_ros.engine.options import DTYPES, EngineError, EngineOptions
from semdepth_ros.model import SemDepthNet
from semdepth_ros.model.cuda_graph import CapturedNetwork


class NetworkEngine(Protocol):
    name: str
    input_dtype: torch.dtype
    channels_last: bool

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class TorchNetwork:
    """The PyTorch model, converted once to its precision and memory format; on CUDA optionally
    recorded as one CUDA graph per input shape (captured at the first input of that shape)."""

    def __init__(self, model: SemDepthNet, precision: str, channels_last: bool, cuda_graph: bool) -> None:
        self.input_dtype = DTYPES[precision]
        self.channels_last = channels_last
        self.model = model.eval().to(self.input_dtype)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.cuda_graph = cuda_graph
        self._graphs: dict[tuple[int, ...], CapturedNetwork] = {}
        self.name = f"torch {precision}" + (" channels_last" if channels_last else "") + \
                    (" cuda_graph" if cuda_graph else "")

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cuda_graph:
            shape = tuple(images.shape)
            if shape not in self._graphs:
                self._graphs[shape] = CapturedNetwork(self.model, images)
            outputs = self._graphs[shape](images)
        else:
            outputs = self.model(images)
        disp = outputs[("disp", 0)]
        fg = outputs.get(("fg", 0))
        return disp, torch.zeros_like(disp) if fg is None else fg


def _threads(options: EngineOptions) -> int:
    return options.threads or torch.get_num_threads()


class OnnxRuntimeNetwork:
    """The exported network in an ONNX Runtime session (all graph optimisations; CUDA execution provider on
    a GPU), fed through I/O binding straight from and into torch tensors; a batch runs image by image."""

    def __init__(self, onnx_path: Path, device: torch.device, options: EngineOptions) -> None:
        import onnxruntime as ort

        session_options = ort.SessionOptions()
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session_options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session_options.intra_op_num_threads = _threads(options)
        session_options.inter_op_num_threads = 1
        # No busy-waiting between operators: a robot's CPU is shared with its other nodes.
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise EngineError("backend 'onnxruntime' on CUDA needs onnxruntime-gpu (its CUDA execution "
                                  "provider); use backend 'torch' or device 'cpu'")
            providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(onnx_path), session_options, providers=providers)
        self.device = device
        self.input_dtype = torch.float32
        self.channels_last = False
        self.name = f"onnxruntime {self.session.get_providers()[0]} threads={session_options.intra_op_num_threads}"

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.contiguous()
        b, _, h, w = images.shape
        disp = torch.empty((b, 1, h, w), dtype=torch.float32, device=images.device)
        fg = torch.empty_like(disp)
        kind, index = images.device.type, images.device.index or 0
        if kind == "cuda":
            torch.cuda.current_stream(images.device).synchronize()  # the session runs on its own stream
        for i in range(b):
            binding = self.session.io_binding()
            binding.bind_input("image", kind, index, np.float32, (1, 3, h, w), images[i].data_ptr())
            binding.bind_output("disp", kind, index, np.float32, (1, 1, h, w), disp[i].data_ptr())
            binding.bind_output("fg", kind, index, np.float32, (1, 1, h, w), fg[i].data_ptr())
            self.session.run_with_iobinding(binding)
        return disp, fg


class OpenVinoNetwork:
    """The exported network compiled by OpenVINO for the CPU, at fp32 (its default on CPUs with bf16
    units would be bf16) and tuned for latency; a batch runs image by image."""

    def __init__(self, onnx_path: Path, options: EngineOptions) -> None:
        import openvino

        threads = _threads(options)
        compiled = openvino.Core().compile_model(str(onnx_path), "CPU", {
            "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": str(threads)})
        self.request = compiled.create_infer_request()
        self.outputs = compiled.outputs
        self.input_dtype = torch.float32
        self.channels_last = False
        self.name = f"openvino CPU f32 threads={threads}"

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        results = []
        for image in images.contiguous().numpy():
            out = self.request.infer({0: image[None]})
            results.append([torch.from_numpy(np.array(out[o])) for o in self.outputs])
        disp, fg = (torch.cat(parts) for parts in zip(*results))
        return disp, fg


def build_network(model: SemDepthNet, meta: CheckpointMeta, device: torch.device,
                  options: EngineOptions) -> NetworkEngine:
    """The engine ``options`` (already resolved for ``device``) asks for; ONNX-based ones export first."""
    if options.backend == "torch":
        return TorchNetwork(model.to(device), options.precision, options.channels_last, options.cuda_graph)
    path = cached_onnx(model, meta, options.cache_dir)
    if options.backend == "onnxruntime":
        return OnnxRuntimeNetwork(path, device, options)
    return OpenVinoNetwork(path, options)
