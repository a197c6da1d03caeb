#!/usr/bin/env python3
"""Network forward time: the reference path against the fast path, measured in one run.

reference  the explicit attention formula (a full L x L map) and the first SEEM (constant tensors
           built on every call), fp32, eager, NCHW: semdepth_ros.model.reference
fast       attention through scaled_dot_product_attention and SEEM without host syncs; on CUDA
           also fp16/bf16 weights, channels_last and the whole network replayed as a CUDA graph;
           on CPU fp32 NCHW / channels_last and bf16 channels_last (--compile adds torch.compile)

Every path runs on the same weights, interleaved round-robin so that load from other processes hits
all paths alike. Prints ms p50/p90 (on CPU also the process's CPU time, which a shared machine
inflates less), ms per image, the speed-up over the fp32 reference of the same architecture and
batch, and how far each path's outputs are from the reference's (max |disp - disp_ref| at scale 0,
share of identical SEEM points); writes a PNG chart. By default the weights are random (speed does
not depend on them; the attention's gamma is set to 0.5 so that term is not a no-op); a random
foreground head sits near 0.5 everywhere, so reduced precision flips mask pixels and moves SEEM
points: judge accuracy with --checkpoint.

  python scripts/bench_network.py --device cpu --archs 18 --batches 1
  python scripts/bench_network.py --device cuda --iters 200 --warmup 20
  python scripts/bench_network.py --device cuda --checkpoint semdepth_ros/data/default_model.pt
  python scripts/bench_network.py --quick          # tiny sizes: a smoke test
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semdepth_ros.checkpoint import load_checkpoint, read_meta  # noqa: E402
from semdepth_ros.model import ModelConfig, SemDepthNet  # noqa: E402
from semdepth_ros.model.attention import SelfAttention  # noqa: E402
from semdepth_ros.model.cuda_graph import CapturedNetwork  # noqa: E402
from semdepth_ros.model.reference import reference_network  # noqa: E402

BASELINE = "reference fp32"
Forward = Callable[[torch.Tensor], dict[Any, torch.Tensor]]
Builder = Callable[[SemDepthNet, torch.Tensor], Forward]  # (model, example images) -> forward


@dataclasses.dataclass
class Variant:
    """One path through the network: a name and a builder (model, example images) -> forward."""

    name: str
    build: Builder


@dataclasses.dataclass
class Result:
    arch: int
    batch: int
    path: str
    times_ms: np.ndarray
    cpu_times_ms: np.ndarray  # process CPU time per pass (CPU device only; empty on CUDA)
    max_disp_diff: float
    same_points: float

    @property
    def p50(self) -> float:
        return float(np.percentile(self.times_ms, 50))

    @property
    def p90(self) -> float:
        return float(np.percentile(self.times_ms, 90))

    @property
    def cpu_p50(self) -> float:
        return float(np.percentile(self.cpu_times_ms, 50))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--archs", type=int, nargs="+", default=[18, 50], choices=(18, 50))
    parser.add_argument("--checkpoint", help="time this checkpoint's network instead (--archs is ignored)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--size", type=int, nargs=2, default=(192, 640), metavar=("H", "W"))
    parser.add_argument("--iters", type=int, help="timed passes per path (default 100 cuda, 10 cpu)")
    parser.add_argument("--warmup", type=int, help="untimed passes per path (default 10 cuda, 2 cpu)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--compile", action="store_true", help="add a torch.compile path (minutes to compile)")
    parser.add_argument("--png", default=None, help="chart file (default bench_network_<device>.png)")
    parser.add_argument("--quick", action="store_true",
                        help="one architecture at 64x192, batches 1 and 2, 3 passes: a smoke test")
    args = parser.parse_args()
    if args.checkpoint:
        args.archs = [read_meta(args.checkpoint).model_config.num_layers]
    if args.quick:
        args.archs, args.batches, args.size = args.archs[:1], [1, 2], (64, 192)
        args.iters = args.iters or 3
        args.warmup = 1 if args.warmup is None else args.warmup
    cuda = args.device == "cuda"
    args.iters = args.iters or (100 if cuda else 10)
    args.warmup = args.warmup if args.warmup is not None else (10 if cuda else 2)
    args.png = args.png or f"bench_network_{args.device}.png"
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if min(args.size) < 32 or any(s % 32 for s in args.size):
        parser.error("--size: height and width must be multiples of 32")
    return args


def eager(dtype: torch.dtype, channels_last: bool, reference: bool = False) -> Builder:
    """A builder: the (reference) network converted to dtype and memory format, run eagerly."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def build(model: SemDepthNet, example: torch.Tensor) -> Forward:
        net = (reference_network(model) if reference else copy.deepcopy(model)).to(dtype=dtype,
                                                                                  memory_format=memory_format)
        return lambda images: net(images.to(dtype=dtype, memory_format=memory_format))
    return build


def graphed(dtype: torch.dtype) -> Builder:
    """A builder: the fast network, dtype weights, channels_last, captured as one CUDA graph."""
    def build(model: SemDepthNet, example: torch.Tensor) -> Forward:
        net = copy.deepcopy(model).to(dtype=dtype, memory_format=torch.channels_last)
        return CapturedNetwork(net, example.to(dtype=dtype, memory_format=torch.channels_last))
    return build


def compiled(dtype: torch.dtype) -> Builder:
    """A builder: the fast network, channels_last, through torch.compile (compile time is printed)."""
    def build(model: SemDepthNet, example: torch.Tensor) -> Forward:
        net = copy.deepcopy(model).to(dtype=dtype, memory_format=torch.channels_last)
        forward = torch.compile(net, fullgraph=True, dynamic=False)
        start = time.perf_counter()
        with torch.inference_mode():  # the grad mode the timed passes run in: no recompilation
            forward(example.to(dtype=dtype, memory_format=torch.channels_last))
        tqdm.write(f"  torch.compile: {time.perf_counter() - start:.0f} s")
        return lambda images: forward(images.to(dtype=dtype, memory_format=torch.channels_last))
    return build


def paths(device: str, with_compile: bool) -> list[Variant]:
    f32, f16, bf16 = torch.float32, torch.float16, torch.bfloat16
    if device == "cuda":
        chosen = [Variant(BASELINE, eager(f32, False, reference=True)),
                  Variant("reference fp16 channels_last", eager(f16, True, reference=True)),
                  Variant("fast fp32", eager(f32, False)),
                  Variant("fast fp16 channels_last", eager(f16, True)),
                  Variant("fast fp16 channels_last + CUDA graph", graphed(f16)),
                  Variant("fast bf16 channels_last + CUDA graph", graphed(bf16))]
        low = f16
    else:
        chosen = [Variant(BASELINE, eager(f32, False, reference=True)),
                  Variant("fast fp32", eager(f32, False)),
                  Variant("fast fp32 channels_last", eager(f32, True)),
                  Variant("fast bf16 channels_last", eager(bf16, True))]
        low = f32
    if with_compile:
        chosen.append(Variant(f"fast {str(low).split('.')[-1]} channels_last + torch.compile", compiled(low)))
    return chosen


def build_model(arch: int, device: torch.device, checkpoint: str | None) -> SemDepthNet:
    if checkpoint:
        return load_checkpoint(checkpoint)[0].float().eval().to(device)
    torch.manual_seed(0)
    model = SemDepthNet(ModelConfig(num_layers=arch)).eval()
    for module in model.modules():
        if isinstance(module, SelfAttention):
            module.gamma.data.fill_(0.5)
    return model.to(device)


class Timer:
    """(wall ms, CPU ms) of one forward pass. CUDA: events around the pass on an idle device (no CPU
    time). CPU: perf_counter, and the process's CPU time, which other processes on a shared machine
    do not inflate the way they inflate wall time."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __call__(self, forward: Forward, images: torch.Tensor) -> tuple[float, float | None]:
        if not self.cuda:
            start, start_cpu = time.perf_counter(), time.process_time()
            forward(images)
            return (time.perf_counter() - start) * 1e3, (time.process_time() - start_cpu) * 1e3
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        forward(images)
        end.record()
        end.synchronize()
        return start.elapsed_time(end), None


def measure(arch: int, batch: int, args: argparse.Namespace, device: torch.device) -> list[Result]:
    model = build_model(arch, device, args.checkpoint)
    images = torch.rand(batch, 3, *args.size, generator=torch.Generator().manual_seed(1)).to(device)
    chosen = paths(args.device, args.compile)
    forwards = {v.name: v.build(model, images) for v in chosen}
    outputs = {}
    with torch.inference_mode():
        for name, forward in forwards.items():
            out = forward(images)
            outputs[name] = {k: out[k].float().clone() for k in (("disp", 0), "seem_points")}
        timer = Timer(device)
        times: dict[str, list[tuple[float, float | None]]] = {name: [] for name in forwards}
        rounds = tqdm(range(args.warmup + args.iters), desc=f"R{arch} batch {batch}", leave=False)
        for i in rounds:
            for name, forward in forwards.items():
                elapsed = timer(forward, images)
                if i >= args.warmup:
                    times[name].append(elapsed)
    reference = outputs[BASELINE]
    return [Result(arch, batch, name, np.array([t[0] for t in times[name]]),
                   np.array([t[1] for t in times[name] if t[1] is not None]),
                   float((outputs[name][("disp", 0)] - reference[("disp", 0)]).abs().max()),
                   float((outputs[name]["seem_points"] == reference["seem_points"]).all(-1).float().mean()))
            for name in forwards]


def print_table(results: list[Result]) -> None:
    base = {(r.arch, r.batch): r for r in results if r.path == BASELINE}
    cpu = all(len(r.cpu_times_ms) for r in results)
    extra = " CPU-time p50 ms | speed-up in CPU time |" if cpu else ""
    print(f"| arch | batch | path | p50 ms | p90 ms | ms/image | speed-up |{extra} "
          "max abs d(disp) | same SEEM points |")
    print("|---" * (9 + 2 * cpu) + "|")
    for r in results:
        b = base[(r.arch, r.batch)]
        extra = f" {r.cpu_p50:.2f} | {b.cpu_p50 / r.cpu_p50:.2f}x |" if cpu else ""
        print(f"| R{r.arch} | {r.batch} | {r.path} | {r.p50:.2f} | {r.p90:.2f} | {r.p50 / r.batch:.2f} | "
              f"{b.p50 / r.p50:.2f}x |{extra} {r.max_disp_diff:.1e} | {100 * r.same_points:.1f}% |")


def plot(results: list[Result], path: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r.arch, r.batch) for r in results})
    names = list(dict.fromkeys(r.path for r in results))
    by_key = {(r.arch, r.batch, r.path): r for r in results}
    fig, ax = plt.subplots(figsize=(max(7.0, 1.0 + 0.45 * len(groups) * len(names)), 5.0))
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        rows = [by_key[(a, b, name)] for a, b in groups]
        x = np.arange(len(groups)) + (j - (len(names) - 1) / 2) * width
        p50 = np.array([r.p50 / r.batch for r in rows])
        p90 = np.array([r.p90 / r.batch for r in rows])
        ax.bar(x, p50, width, yerr=[np.zeros(len(rows)), p90 - p50], capsize=2, label=name)
        for xi, top, r in zip(x, p90, rows):
            ratio = by_key[(r.arch, r.batch, BASELINE)].p50 / r.p50
            ax.annotate(f"{ratio:.2f}x", (xi, top), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticks(np.arange(len(groups)), [f"R{a}, batch {b}" for a, b in groups])
    ax.set_ylabel("ms per image: bar p50, whisker p90; label: speed-up")
    ax.set_title(title, fontsize=9)
    ax.margins(y=0.12)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"CPU x{os.cpu_count()}, {torch.get_num_threads()} thread(s), load average {load}, "
            f"torch {torch.__version__}")


def main() -> int:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"{describe(device)}; input {args.size[0]}x{args.size[1]}, {args.iters} timed passes "
          f"after {args.warmup} warm-up, paths interleaved")
    results = [r for arch in args.archs for batch in args.batches for r in measure(arch, batch, args, device)]
    if device.type == "cpu":
        print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print_table(results)
    plot(results, args.png, f"SemDepthNet forward, {args.size[0]}x{args.size[1]}\n{describe(device)}")
    print(f"chart: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
