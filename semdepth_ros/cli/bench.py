"""Time each inference stage (preprocess, network, postprocess, point cloud) and end to end."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from tqdm import tqdm

from semdepth_ros.checkpoint import CheckpointMeta
from semdepth_ros.intrinsics import kitti_like_intrinsics
from semdepth_ros.model import ModelConfig, SemDepthNet
from semdepth_ros.predictor import Predictor

STAGES = ("preprocess", "network", "postprocess", "pointcloud", "total")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint to time (default: a randomly initialised network)")
    parser.add_argument("--arch", choices=("r18", "r50"), default="r18",
                        help="encoder of the random network (ignored with --checkpoint)")
    parser.add_argument("--no-seem", action="store_true", help="random network without SEEM")
    parser.add_argument("--no-attention", action="store_true", help="random network without attention")
    parser.add_argument("--height", type=int, default=192,
                        help="network input height of the random network (default %(default)s; ignored with "
                             "--checkpoint, which fixes it)")
    parser.add_argument("--width", type=int, default=640,
                        help="network input width of the random network (default %(default)s; ignored with "
                             "--checkpoint)")
    parser.add_argument("--image-height", type=int, default=375,
                        help="camera image height the timed images have (default %(default)s, KITTI)")
    parser.add_argument("--image-width", type=int, default=1242,
                        help="camera image width (default %(default)s, KITTI)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--fp16", action="store_true", help="half precision (CUDA only)")
    parser.add_argument("--batch", type=int, default=1, help="images per call (default %(default)s)")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed iterations first, for allocations and caches (default %(default)s)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")


def build_predictor(args: argparse.Namespace) -> Predictor:
    if args.checkpoint:
        return Predictor.load(args.checkpoint, device=args.device, fp16=args.fp16)
    config = ModelConfig(num_layers=int(args.arch[1:]), seem=not args.no_seem,
                         attention=not args.no_attention)
    meta = CheckpointMeta(model_config=config, input_height=args.height, input_width=args.width)
    return Predictor(SemDepthNet(config), meta, device=args.device, fp16=args.fp16)


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = build_predictor(args)
    source = args.checkpoint or "randomly initialised network (no checkpoint given; speed only)"
    params = sum(p.numel() for p in predictor.model.parameters())
    encoder = sum(p.numel() for p in predictor.model.encoder.parameters())
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (args.image_height, args.image_width, 3), dtype=np.uint8)
              for _ in range(args.batch)]
    k = kitti_like_intrinsics(args.image_width, args.image_height)
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    for i in tqdm(range(args.warmup + args.iters), desc="bench", unit="it"):
        start = time.perf_counter()
        preds = predictor.predict_batch(images, intrinsics=k)
        total = (time.perf_counter() - start) * 1e3
        if i < args.warmup:
            continue
        for stage in STAGES[:-1]:
            times[stage].append(sum(p.timings[stage] for p in preds) / (len(preds) if stage in
                                ("preprocess", "network") else 1))
        times["total"].append(total)
    report = {
        "model": source, "params_total_M": params / 1e6, "params_encoder_M": encoder / 1e6,
        "device": str(predictor.device), "fp16": args.fp16, "batch": args.batch,
        "network_input": [args.height, args.width], "image": [args.image_height, args.image_width],
        "threads": torch.get_num_threads(),
        "stages_ms": {s: {"p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))}
                      for s, v in times.items()},
    }
    report["fps"] = args.batch * 1e3 / report["stages_ms"]["total"]["p50"]
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return 0


def format_report(report: dict) -> str:
    lines = [f"model: {report['model']}",
             f"parameters: {report['params_total_M']:.2f} M total, {report['params_encoder_M']:.2f} M encoder",
             f"device: {report['device']} fp16={report['fp16']} threads={report['threads']} "
             f"batch={report['batch']} input={report['network_input']} image={report['image']}",
             f"{'stage':<12}{'p50 ms':>10}{'p90 ms':>10}"]
    for stage, v in report["stages_ms"].items():
        lines.append(f"{stage:<12}{v['p50']:>10.1f}{v['p90']:>10.1f}")
    lines.append(f"throughput: {report['fps']:.2f} images/s")
    return "\n".join(lines)
