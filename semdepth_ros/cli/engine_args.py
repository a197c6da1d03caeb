"""The inference-engine options every model-running command shares (predict, bench, eval-bag)."""
from __future__ import annotations

import argparse

import torch

from semdepth_ros.engine.options import BACKENDS, PRECISIONS, EngineOptions


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inference engine")
    group.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="network engine; auto: torch on CUDA; on the CPU openvino, else onnxruntime when installed")
    group.add_argument("--precision", choices=PRECISIONS, default="fp32",
                       help="torch backend: fp16 (CUDA) or bf16 weights and activations")
    group.add_argument("--no-channels-last", action="store_true", help="torch backend: keep NCHW memory format")
    group.add_argument("--no-cuda-graph", action="store_true",
                       help="torch backend on CUDA: run eagerly instead of replaying CUDA graphs")
    group.add_argument("--threads", type=int, default=0,
                       help="CPU threads for torch and onnxruntime/openvino (0: torch's default)")


def engine_options(args: argparse.Namespace) -> EngineOptions:
    """The options of the parsed arguments (sets torch's CPU threads when --threads is given)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return EngineOptions(backend=args.backend, precision=args.precision, channels_last=not args.no_channels_last,
                         cuda_graph=not args.no_cuda_graph)
