"""Time the naive and the fast inference path side by side, per stage and end to end, and print the speed-up.

naive = what a plain PyTorch deployment does: fp32 eager NCHW network, OpenCV resize and upload on the
host, numpy points and cloud packing. fast = the engine's options (default: on CUDA the torch backend
in fp16, channels_last, CUDA graphs, every stage on the GPU and one copy down; on the CPU the default
CPU backend). Both run the same weights on the same camera images, interleaved iteration by iteration so
they share the machine's load; both build the node's point cloud. The process CPU time is reported
beside the wall time (on a shared CPU the steadier figure). Stage times come from
`Prediction.timings` (CUDA events on the device path), end to end from the wall clock around
`predict_batch`, which returns finished host arrays (so it includes every synchronisation).
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from semdepth_ros.checkpoint import CheckpointMeta, load_checkpoint, resolve_checkpoint
from semdepth_ros.cli.engine_args import add_engine_arguments, engine_options
from semdepth_ros.engine.options import EngineOptions, installed
from semdepth_ros.intrinsics import kitti_like_intrinsics
from semdepth_ros.model import ModelConfig, SemDepthNet
from semdepth_ros.outputs import OutputSettings
from semdepth_ros.predictor import Predictor, resolve_device

STAGES = ("preprocess", "network", "postprocess", "pointcloud")
NAIVE = EngineOptions(backend="torch", precision="fp32", channels_last=False, cuda_graph=False, device_stages=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint to time (default: randomly initialised networks of --arch)")
    parser.add_argument("--arch", nargs="+", choices=("r18", "r50"), default=["r50", "r18"],
                        help="encoders of the random networks (ignored with --checkpoint)")
    parser.add_argument("--no-seem", action="store_true", help="random network without SEEM")
    parser.add_argument("--no-attention", action="store_true", help="random network without attention")
    parser.add_argument("--height", type=int, default=192,
                        help="network input height of the random networks (default %(default)s; ignored with "
                             "--checkpoint, which fixes it)")
    parser.add_argument("--width", type=int, default=640,
                        help="network input width of the random networks (default %(default)s; ignored with "
                             "--checkpoint)")
    parser.add_argument("--image-height", type=int, default=375,
                        help="camera image height the timed images have (default %(default)s, KITTI)")
    parser.add_argument("--image-width", type=int, default=1242,
                        help="camera image width (default %(default)s, KITTI)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8],
                        help="batch sizes (default 1 8; 1: the node, 8: bag evaluation, reported per image)")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations per path (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed iterations first, for allocations, caches and graph captures "
                             "(default %(default)s)")
    parser.add_argument("--naive-only", action="store_true", help="time the naive path alone")
    parser.add_argument("--compare", action="store_true",
                        help="also time the other engine choices (CPU: torch channels_last fp32/bf16, onnxruntime, "
                             "openvino when installed; CUDA: fp32/bf16 graphs, fp16 eager, onnxruntime with "
                             "its CUDA provider): how the defaults were picked")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--png", type=Path, default=None, help="also draw the per-image stage times to this PNG")
    add_engine_arguments(parser)
    parser.set_defaults(precision=None)  # the fast path: fp16 on CUDA, fp32 on the CPU


def _models(args: argparse.Namespace) -> list[tuple[str, SemDepthNet, CheckpointMeta]]:
    if args.checkpoint:
        path = resolve_checkpoint(args.checkpoint)
        model, meta = load_checkpoint(path)
        return [(path.name, model, meta)]
    models = []
    for arch in args.arch:
        torch.manual_seed(0)
        config = ModelConfig(num_layers=int(arch[1:]), seem=not args.no_seem, attention=not args.no_attention)
        meta = CheckpointMeta(model_config=config, input_height=args.height, input_width=args.width)
        models.append((arch, SemDepthNet(config), meta))
    return models


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90))}


def bench_pair(paths: dict[str, Predictor], images: list[np.ndarray], k: np.ndarray, iters: int,
               warmup: int, label: str) -> dict[str, dict]:
    """Interleaved timings of each path on the same batch: per stage and end to end, in ms per batch."""
    cloud = OutputSettings()
    times: dict[str, dict[str, list[float]]] = {name: {s: [] for s in (*STAGES, "total", "cpu")} for name in paths}
    last: dict[str, np.ndarray] = {}
    for i in tqdm(range(warmup + iters), desc=label, unit="it"):
        for name, predictor in paths.items():
            t0, c0 = _now(), time.process_time()
            preds = predictor.predict_batch(images, intrinsics=k, with_points=False, cloud=cloud)
            total, cpu = (_now() - t0) * 1e3, (time.process_time() - c0) * 1e3
            last[name] = preds[0].depth
            if i < warmup:
                continue
            for stage in STAGES:  # preprocess/network are batch figures; post stages are per image
                per = [p.timings[stage] for p in preds]
                times[name][stage].append(per[0] if stage in ("preprocess", "network") else sum(per))
            times[name]["total"].append(total)
            times[name]["cpu"].append(cpu)
    batch = len(images)
    report = {}
    for name, stage_times in times.items():
        stats = {s: _summary(v) for s, v in stage_times.items()}
        report[name] = {"engine": paths[name].engine, "batch": batch, "stages_ms": stats,
                        "per_image_ms": {q: stats["total"][q] / batch for q in ("p50", "p90")},
                        "images_per_s": batch * 1e3 / stats["total"]["p50"]}
    for name in report:
        if name != "naive":
            report[name]["speedup"] = report["naive"]["stages_ms"]["total"]["p50"] / report[name]["stages_ms"]["total"]["p50"]
            report[name]["max_rel_depth_diff"] = float(np.max(np.abs(last[name] - last["naive"]) / last["naive"]))
    return report


def comparison_options(device: torch.device) -> dict[str, EngineOptions]:
    """The other engine choices --compare times (those whose packages are installed)."""
    if device.type == "cuda":
        choices = {"fp32 graph": EngineOptions(backend="torch", precision="fp32"),
                   "bf16 graph": EngineOptions(backend="torch", precision="bf16"),
                   "fp16 eager": EngineOptions(backend="torch", precision="fp16", cuda_graph=False)}
        if installed("onnxruntime"):
            import onnxruntime
            if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                choices["onnxruntime"] = EngineOptions(backend="onnxruntime")
        return choices
    choices = {"torch cl": EngineOptions(backend="torch"),
               "bf16 cl": EngineOptions(backend="torch", precision="bf16")}
    for backend in ("onnxruntime", "openvino"):
        if installed(backend):
            choices[backend] = EngineOptions(backend=backend)
    return choices


def _now() -> float:
    """Wall clock after the GPU has finished everything queued (nothing of one path leaks into the other)."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.precision is None:
        args.precision = "fp16" if device.type == "cuda" else "fp32"
    fast_options = engine_options(args)
    rng = np.random.default_rng(0)
    k = kitti_like_intrinsics(args.image_width, args.image_height)
    results = []
    for source, model, meta in _models(args):
        paths = {"naive": Predictor(copy.deepcopy(model), meta, device, NAIVE)}
        if not args.naive_only:
            if args.compare:
                for name, options in comparison_options(device).items():
                    paths[name] = Predictor(copy.deepcopy(model), meta, device, options)
            paths["fast"] = Predictor(model, meta, device, fast_options)
        for batch in args.batches:
            images = [rng.integers(0, 256, (args.image_height, args.image_width, 3), dtype=np.uint8)
                      for _ in range(batch)]
            report = bench_pair(paths, images, k, args.iters, args.warmup, f"{source} batch {batch}")
            results.append({"model": source, "weights": "checkpoint" if args.checkpoint else "random (speed only)","params_M": sum(p.numel() for p in model.parameters()) / 1e6,
                            "network_input": [meta.input_height, meta.input_width],
                            "image": [args.image_height, args.image_width], "paths": report})
        del paths
    summary = {"device": _device_name(device), "threads": torch.get_num_threads(), "results": results}
    print(format_report(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    if args.png:
        plot(summary, args.png)
    return 0


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.__version__})"


def format_report(summary: dict) -> str:
    lines = [f"device: {summary['device']}  torch threads: {summary['threads']}",
             "ms per batch (p50) per stage; total p50/p90 end to end; per image = total / batch"]
    width = max(7, *(len(r["model"]) + 1 for r in summary["results"]))
    header = f"{'model':<{width}}{'batch':>6} {'path':<12}" + "".join(f"{s[:8]:>10}" for s in STAGES) + \
        f"{'total p50':>11}{'p90':>9}{'per img':>9}{'speed-up':>10}{'CPU p50':>9}{'(x)':>7}{'max rel d':>10}  engine"
    lines.append(header)
    for result in summary["results"]:
        for name, r in result["paths"].items():
            stages = "".join(f"{r['stages_ms'][s]['p50']:>10.2f}" for s in STAGES)
            speedup = f"{r['speedup']:.2f}x" if "speedup" in r else "1.00x"
            diff = f"{r['max_rel_depth_diff']:.1e}" if "max_rel_depth_diff" in r else "0"
            cpu_speedup = result["paths"]["naive"]["stages_ms"]["cpu"]["p50"] / r["stages_ms"]["cpu"]["p50"]
            lines.append(f"{result['model']:<{width}}{r['batch']:>6} {name:<12}{stages}"
                         f"{r['stages_ms']['total']['p50']:>11.2f}{r['stages_ms']['total']['p90']:>9.2f}"
                         f"{r['per_image_ms']['p50']:>9.2f}{speedup:>10}{r['stages_ms']['cpu']['p50']:>9.1f}"
                         f"{cpu_speedup:>6.2f}x{diff:>10}  {r['engine']}")
    lines.append("CPU p50: process CPU time per batch (all threads; steadier than wall time on a shared machine), "
                 "(x) its speed-up; max rel d: largest relative depth difference from the naive path, last frame")
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    """Stacked per-image stage times of every (model, batch, path) row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(f"{res['model']} b{r['batch']} {name}", r) for res in summary["results"]
            for name, r in res["paths"].items()]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.5))
    for y, (_, r) in enumerate(rows):
        left = 0.0
        for stage, colour in zip(STAGES, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
            per_image = r["stages_ms"][stage]["p50"] / r["batch"]
            ax.barh(y, per_image, left=left, color=colour, label=stage if y == 0 else None)
            left += per_image
        naive_cpu = next(res for res in summary["results"] if r in res["paths"].values())["paths"]["naive"]
        cpu_speedup = naive_cpu["stages_ms"]["cpu"]["p50"] / r["stages_ms"]["cpu"]["p50"]
        note = f" {r['per_image_ms']['p50']:.2f} ms ({r.get('speedup', 1.0):.2f}x); CPU time {cpu_speedup:.2f}x"
        ax.text(left, y, note, va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("ms per image (stage p50; label: end-to-end p50 and speed-ups over naive)")
    ax.set_title(f"semdepth bench: naive vs fast, {summary['device']}")
    ax.set_xlim(0, 1.6 * max(r["per_image_ms"]["p50"] for _, r in rows))
    fig.legend(loc="lower center", ncol=len(STAGES), fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
