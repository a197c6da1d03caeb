#!/usr/bin/env python3
"""Time `semdepth adapt` stage by stage and project the default run on a 2-minute recording.

Writes a synthetic drive (with odometry) as a rosbag at the checkpoint's input size, runs the real
`adapt()` on it with a few steps, and reads the per-stage wall and process-CPU seconds from its report.
The baseline, measured in the same run, is the network's inference speed (images/s through the
Predictor, as eval-bag and the label pass use it); training speed is printed as a ratio to it. The
projection scales each stage to a 2-minute, 10 Hz recording with the default options (1200 images,
300 steps of 4 frames, 48 held-back frames fitted, and eval-bag over the 30% held back, counted at
the baseline's inference speed, for a bag with depth ground truth), from wall
time and, for a machine shared with other jobs, from CPU time (what an uncontended core would take).
It also counts the FLOPs of one training image, so the GFLOP/s achieved here can be set against
another machine's (a GPU's) to estimate its training speed.

  python scripts/bench_adapt.py                                  # the bundled model, CPU
  python scripts/bench_adapt.py --checkpoint model.pt --device cuda --steps 40
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semdepth_ros.bag.io import BagWriter, camera_info_msg, image_msg, odometry_msg  # noqa: E402
from semdepth_ros.checkpoint import read_meta, resolve_checkpoint  # noqa: E402
from semdepth_ros.codec import camera_info_fields, rgb_to_image_fields  # noqa: E402
from semdepth_ros.predictor import Predictor  # noqa: E402
from semdepth_ros.scale import NO_SCALE  # noqa: E402
from semdepth_synth import SynthConfig, generate_sequence  # noqa: E402
from semdepth_training.adapt.run import AdaptOptions, adapt  # noqa: E402

RECORDING = {"images": 1200, "steps": 300, "batch": 4, "eval_frames": 48, "held_back": 360}
CAMERA = "camera_optical_frame"


def write_bag(path: Path, frames: int, height: int, width: int) -> None:
    """A synthetic drive at 10 Hz; the camera pose itself is the odometry (odom -> camera frame)."""
    with BagWriter(path) as bag:
        for f in generate_sequence(SynthConfig(height=height, width=width, seed=11, num_frames=frames)):
            stamp = 1_700_000_000_000_000_000 + f.index * 100_000_000
            bag.write("/camera/camera_info", camera_info_msg(camera_info_fields(f.K, width, height), stamp, CAMERA), stamp)
            bag.write("/camera/image_raw", image_msg(rgb_to_image_fields(f.rgb), stamp, CAMERA), stamp)
            bag.write("/odom", odometry_msg(f.pose, stamp, "odom", CAMERA), stamp)


def inference_rate(checkpoint: Path, device: str, height: int, width: int, images: int = 32) -> float:
    """Baseline: images/s of the Predictor on network-sized images, batches of 16, after a warm-up."""
    predictor = Predictor.load(checkpoint, device=device)
    batch = [np.random.default_rng(i).integers(0, 255, (height, width, 3), dtype=np.uint8) for i in range(16)]
    predictor.predict_batch(batch[:2], scale=NO_SCALE, with_points=False)
    start = time.perf_counter()
    for _ in range(images // len(batch)):
        predictor.predict_batch(batch, scale=NO_SCALE, with_points=False)
    return images / (time.perf_counter() - start)


def training_gflop_per_image(checkpoint: Path, batch: int = 4) -> float:
    """FLOPs of one training image (depth net forward + losses + backward, odometry as the motion),
    counted by torch's FlopCounterMode on random images at the checkpoint's size."""
    from torch.utils.flop_counter import FlopCounterMode

    from semdepth_ros.checkpoint import load_checkpoint
    from semdepth_ros.geometry import intrinsics_4x4
    from semdepth_training.losses import LossSettings, compute_losses

    model, meta = load_checkpoint(checkpoint)
    model.train()
    h, w = meta.input_height, meta.input_width
    k = torch.from_numpy(intrinsics_4x4(np.array([[0.58 * w, 0, w / 2], [0, 1.92 * h, h / 2], [0, 0, 1]]))).float()
    inputs = {("K", 0): k.expand(batch, 4, 4), ("inv_K", 0): torch.linalg.inv(k).expand(batch, 4, 4),
              "fg_mask": torch.zeros(batch, 1, h, w), "fg_valid": torch.ones(batch)}
    for f in (0, -1, 1):
        for s in range(4):
            inputs[("color", f, s)] = torch.rand(batch, 3, h // 2 ** s, w // 2 ** s)
    motion = torch.eye(4).expand(batch, 4, 4).clone()
    motion[:, 2, 3] = 0.02
    with FlopCounterMode(display=False) as counter:
        outputs = {key: v for key, v in model(inputs[("color", 0, 0)]).items() if isinstance(key, tuple)}
        compute_losses(inputs, outputs, {-1: motion, 1: motion}, LossSettings()).total.backward()
    return counter.get_total_flops() / batch / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="node checkpoint (default: the bundled model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--frames", type=int, default=50, help="frames of the synthetic drive")
    parser.add_argument("--steps", type=int, default=8, help="training steps timed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoint = resolve_checkpoint(args.checkpoint)
    meta = read_meta(checkpoint)
    height, width = meta.input_height, meta.input_width
    baseline = inference_rate(checkpoint, args.device, height, width)
    gflop = training_gflop_per_image(checkpoint)
    with tempfile.TemporaryDirectory(prefix="bench-adapt-") as tmp:
        bag = Path(tmp) / "drive"
        write_bag(bag, args.frames, height, width)
        result = adapt(AdaptOptions(bags=[str(bag)], out=str(Path(tmp) / "out"), init=str(checkpoint),
                                    steps=args.steps, device=args.device, eval_frames=1000))
        report = result.report
    timings, images = report["timings"], report["frames"]["counts"]["images"]
    fitted = report["before"]["photometric"]["frames"]  # the bag has no depth ground truth: "before" is the fit
    trained = args.steps * RECORDING["batch"]
    print(f"checkpoint {checkpoint} ({height}x{width}), device {args.device}, torch threads {torch.get_num_threads()}")
    print(f"baseline: inference {baseline:.2f} images/s")
    for clock in ("wall_s", "cpu_s"):
        train_rate = trained / timings["training"][clock]
        per_image_eval = 1.0 / baseline  # eval-bag's pass over held-back images with ground truth: inference
        fit = timings["before"][clock] / fitted
        projected = {
            "frame selection": timings["frames"][clock] / images * RECORDING["images"],
            "mask labels": timings.get("labels", {clock: 0.0})[clock] / images * RECORDING["images"],
            "odometry scale": timings.get("scale", {clock: 0.0})[clock],
            "before + after": 2 * (RECORDING["eval_frames"] * fit + RECORDING["held_back"] * per_image_eval),
            "training": RECORDING["steps"] * RECORDING["batch"] / train_rate,
        }
        total = sum(projected.values())
        print(f"\n[{clock[:-2]} time] training {train_rate:.2f} images/s = {train_rate / baseline:.3f} x inference "
              f"= {train_rate * gflop:.1f} GFLOP/s at {gflop:.2f} GFLOP per training image; held-back fit "
              f"{fit:.2f} s/frame")
        for name, seconds in projected.items():
            print(f"  {name:16s} {seconds / 60:6.1f} min")
        print(f"  {'total':16s} {total / 60:6.1f} min for a 2-minute 10 Hz recording with the defaults "
              "(eval-bag over the held-back images only when the bag has depth ground truth)")
    print("\nstage timings of this run:", json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
