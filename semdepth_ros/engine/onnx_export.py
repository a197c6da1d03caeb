"""The network as an ONNX file, verified against PyTorch, and the on-disk cache the runtime engines read.

ONNX covers deployments without PyTorch (TensorRT, ONNX Runtime, OpenVINO): the network at the checkpoint's
fixed input size [1,3,H,W] (RGB in [0,1]) with outputs ``disp`` and ``fg`` (scale 0, sigmoid; ``fg`` is
zeros for a depth-only network). SEEM's eval-mode draw is fixed per input size, so it is traced as a
constant. `semdepth export --onnx` writes the same file; the runtime exports on first use into a cache
keyed by the weights, the architecture, the input size and the exporter.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.model import ModelConfig, SemDepthNet

ONNX_OPSET = 17
# Max |onnxruntime - PyTorch| on the sigmoid outputs; CPU runs agree to ~1e-7, the margin covers
# other execution providers' kernels.
ONNX_TOLERANCE = 1e-4
CACHE_ENV = "SEMDEPTH_CACHE"


class OnnxExportError(RuntimeError):
    """The network could not be exported or its ONNX form disagrees with PyTorch; says which step and why."""


class InferenceNetwork(nn.Module):
    """SemDepthNet reduced to the two tensors a deployment needs: (disp, fg) at scale 0."""

    def __init__(self, model: SemDepthNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = self.model(image)
        disp = outputs[("disp", 0)]
        return disp, outputs.get(("fg", 0), torch.zeros_like(disp))


def export_blocker(config: ModelConfig) -> str | None:
    """Why networks of ``config`` cannot be exported to ONNX (None: they can)."""
    if config.guide == "torchscript":
        return "a network with a TorchScript guide (the ONNX tracer cannot enter a loaded TorchScript module)"
    return None


def export_onnx_bytes(model: SemDepthNet, meta: CheckpointMeta,
                      tolerance: float = ONNX_TOLERANCE) -> tuple[bytes, dict[str, Any]]:
    """(ONNX file contents, verification numbers) of an fp32 copy of ``model`` on the CPU.

    Uses the TorchScript-based exporter (``dynamo=False``): the torch.export-based one needs the
    onnxscript package, which the project does not depend on. Raises OnnxExportError when the export
    fails or onnxruntime (when installed) disagrees with PyTorch by more than ``tolerance``.
    """
    blocker = export_blocker(model.config)
    if blocker is not None:
        raise OnnxExportError(f"ONNX export is not supported: {blocker}; use a 'branch' guide, or the checkpoint")
    network = InferenceNetwork(_fp32_cpu_copy(model)).eval()
    generator = torch.Generator().manual_seed(0)
    shape = (1, 3, meta.input_height, meta.input_width)
    example, check = (torch.rand(shape, generator=generator) for _ in range(2))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
            torch.onnx.export(network, (example,), buffer, dynamo=False, opset_version=ONNX_OPSET,
                              input_names=["image"], output_names=["disp", "fg"])
    except Exception as error:  # the exporter raises many types; all mean "no ONNX file"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OnnxExportError(f"ONNX export failed: {type(error).__name__}: {first}") from error
    data = buffer.getvalue()
    report: dict[str, Any] = {"opset": ONNX_OPSET, "input_shape": list(shape), "tolerance": tolerance}
    try:
        import onnxruntime
    except ImportError:
        return data, {**report, "max_abs_diff": None}
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = [t.numpy() for t in network(check)]
    actual = session.run(None, {"image": check.numpy()})
    diffs = {name: float(np.max(np.abs(a - e))) for name, a, e in zip(("disp", "fg"), actual, expected)}
    if max(diffs.values()) > tolerance:
        raise OnnxExportError(f"ONNX output differs from PyTorch by {diffs} (tolerance {tolerance})")
    return data, {**report, "max_abs_diff": diffs}


def _fp32_cpu_copy(model: SemDepthNet) -> SemDepthNet:
    """A float32, contiguous-format CPU copy in eval mode (the Predictor may have converted the original)."""
    copy = SemDepthNet(dataclasses.replace(model.config, pretrained_path=None))
    copy.load_state_dict({k: v.detach().float().cpu().contiguous() if v.is_floating_point() else v.cpu()
                          for k, v in model.state_dict().items()})
    return copy.eval()


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Where exported files are kept: ``override``, else $SEMDEPTH_CACHE, else ~/.cache/semdepth."""
    if override:
        return Path(override)
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "semdepth")


def model_key(model: SemDepthNet, meta: CheckpointMeta) -> str:
    """Hash of what the exported file depends on: weights, architecture, input size, exporter."""
    digest = hashlib.sha256()
    spec = {"config": model.config.to_dict(), "input": [meta.input_height, meta.input_width],
            "opset": ONNX_OPSET, "torch": torch.__version__}
    spec["config"].pop("pretrained_path", None)
    digest.update(json.dumps(spec, sort_keys=True).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def cached_onnx(model: SemDepthNet, meta: CheckpointMeta, directory: str | os.PathLike | None = None) -> Path:
    """The verified ONNX file of ``model``, exported on first use (atomically: concurrent users are safe)."""
    folder = cache_dir(directory)
    path = folder / f"semdepth_{model_key(model, meta)}_{meta.input_height}x{meta.input_width}.onnx"
    if path.is_file():
        return path
    data, _ = export_onnx_bytes(model, meta)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    except OSError as error:
        raise OnnxExportError(f"cannot write the ONNX cache {folder}: {error.strerror}; "
                              f"set ${CACHE_ENV} to a writable folder") from error
    return path
