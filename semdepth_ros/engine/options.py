"""How the Predictor runs its network: backend, precision, memory format, CUDA graphs, where the stages run.

Defaults are chosen by measurement (docs/benchmarks.md): on a GPU, PyTorch with the whole network
replayed as one CUDA graph per input shape and every stage on the GPU; on a CPU, OpenVINO when it is
installed (the `openvino` extra), else ONNX Runtime (the `export` extra), else PyTorch; all fp32, so
they give PyTorch's outputs. Every invalid combination is refused with one sentence when the Predictor
is built, never at the first frame.
"""
from __future__ import annotations

import dataclasses
import importlib.util

import torch

BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "fp16", "bf16")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
CPU_RUNTIMES = ("openvino", "onnxruntime")  # auto's CPU order: fastest first (docs/benchmarks.md)


class EngineError(ValueError):
    """An engine option that cannot be used here; the message says why and what to pick instead."""


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    backend: str = "auto"            # auto: torch on CUDA; fp32 on the CPU: openvino, else onnxruntime if installed
    precision: str = "fp32"          # fp16/bf16: weights and activations (torch backend); fp16 needs CUDA
    channels_last: bool = True       # NHWC memory format for the torch backend (faster convolutions)
    cuda_graph: bool = True          # torch on CUDA: replay the network as one CUDA graph per input shape
    device_stages: bool | None = None  # resize/points/cloud in torch on the device; None: on CUDA only
    threads: int = 0                 # ONNX Runtime / OpenVINO CPU threads (0: torch.get_num_threads())
    cache_dir: str | None = None     # exported ONNX files ($SEMDEPTH_CACHE, else ~/.cache/semdepth)


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def resolve(options: EngineOptions, device: torch.device, export_blocker: str | None = None) -> EngineOptions:
    """``options`` with 'auto' and None made concrete for ``device``; EngineError for what cannot run here.
    ``export_blocker``: why the network cannot be exported to ONNX (then 'auto' stays on PyTorch)."""
    if options.backend not in BACKENDS:
        raise EngineError(f"backend must be one of {', '.join(BACKENDS)}, not '{options.backend}'")
    if options.precision not in PRECISIONS:
        raise EngineError(f"precision must be one of {', '.join(PRECISIONS)}, not '{options.precision}'")
    cuda = device.type == "cuda"
    backend = options.backend
    if backend == "auto":
        onnx_ok = not cuda and options.precision == "fp32" and export_blocker is None
        runtimes = [name for name in CPU_RUNTIMES if installed(name)] if onnx_ok else []
        backend = runtimes[0] if runtimes else "torch"
    for name, module, extra in (("onnxruntime", "onnxruntime", "export"), ("openvino", "openvino", "openvino")):
        if backend == name and not installed(module):
            raise EngineError(f"backend '{name}' needs the {module} package (pip install "
                              f"'semdepth_ros[{extra}]'); use backend 'torch'")
    if backend != "torch" and export_blocker is not None:
        raise EngineError(f"backend '{backend}' runs an ONNX export, which is not supported for {export_blocker}; "
                          "use backend 'torch'")
    if backend == "openvino" and cuda:
        raise EngineError("backend 'openvino' runs on the CPU; use device 'cpu' or backend 'torch' on CUDA")
    if backend != "torch" and options.precision != "fp32":
        raise EngineError(f"backend '{backend}' runs fp32; precision '{options.precision}' needs backend 'torch'")
    if options.precision == "fp16" and not cuda:
        raise EngineError("precision 'fp16' needs a CUDA device; use 'bf16' or 'fp32' on the CPU")
    if options.threads < 0:
        raise EngineError(f"threads must be >= 0 (0: as many as torch uses), not {options.threads}")
    device_stages = cuda if options.device_stages is None else options.device_stages
    return dataclasses.replace(options, backend=backend, cuda_graph=options.cuda_graph and cuda and backend == "torch",
                               device_stages=device_stages)
