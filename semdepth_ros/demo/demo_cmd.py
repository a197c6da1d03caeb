"""The whole pipeline on a synthetic drive: node over DDS, montage, cloud, bag, metrics.

Renders a short drive at the checkpoint's input size, starts the depth node in its own process and
streams the frames + camera_info to it over DDS like a camera driver (the eval-bag live client), records
inputs and every output to an mcap bag, and writes montage.png, cloud.ply, metrics.json and metrics.md.
Run with no arguments on a fresh install; everything lands in outputs/demo.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from semdepth_ros.bag.eval_bag import EvalOptions, EvalResult
from semdepth_ros.checkpoint import CheckpointMeta, describe_architecture, read_meta, resolve_checkpoint
from semdepth_ros.demo.artifacts import fmt, metrics_markdown, write_cloud, write_metrics_json, write_montage
from semdepth_ros.demo.drive import GT_TOPIC, write_drive_bag
from semdepth_ros.demo.recording import read_recording
from semdepth_ros.demo.ros_env import apply_ros_defaults, shipped_config
from semdepth_ros.metrics import MAX_DEPTH, MIN_DEPTH

NODE_NAMESPACE = "/semdepth"  # live topics = the bag's output topics (/semdepth/depth, ...)
FRAME_TIMEOUT_S = 5.0         # a large model on a small CPU still answers well within it
PROTOCOL = (f"ground truth in ({MIN_DEPTH:g}, {MAX_DEPTH:g}] m (sky excluded), no crop, prediction clamped "
            "to the same range; metrics averaged over frames (Eigen convention)")


def _rate(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("rate must be >= 0 (0 = as fast as the node answers)")
    return value


def _frames(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("frames must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=_frames, default=30, help="frames in the synthetic drive (default 30)")
    parser.add_argument("--rate", type=_rate, default=10.0,
                        help="camera rate in Hz (default 10, the drive's speed); the node drops frames it "
                             "cannot keep up with, as with a real camera. 0 = next frame as soon as the "
                             "node answered")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint file (default: the bundled model)")
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (default outputs/demo)")
    parser.add_argument("--device", default="auto", help="the node's device: auto, cpu, cuda or cuda:N")
    # The bundled model trained on streets 0-15 (config/train/default_model.yaml); 2026 is unseen.
    parser.add_argument("--seed", type=int, default=2026, help="synthetic street seed (default 2026, a "
                        "street the bundled model never saw)")


def _checkpoint(path: Path | None) -> tuple[Path, CheckpointMeta]:
    path = resolve_checkpoint(path).resolve()
    return path, read_meta(path)


def _fresh_bag_path(path: Path) -> Path:
    """The recording path, freed of a previous demo's recording (never of anything else)."""
    if path.exists():
        ours = path.is_dir() and all(p.suffix in (".mcap", ".yaml") for p in path.iterdir())
        if not ours:
            raise OSError(f"{path} exists and is not a demo recording; remove it or pick another --out")
        shutil.rmtree(path)
    return path


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. `kill`, a CI timeout) unwinds like Ctrl-C, so the node process is always stopped."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stream(args: argparse.Namespace, checkpoint: Path, meta: CheckpointMeta, bag: Path) -> EvalResult:
    """Render the drive into a temporary input bag and replay it through a spawned node, recording."""
    try:
        from semdepth_ros.bag.live import LiveOptions, evaluate_live
    except ImportError as exc:
        raise RuntimeError(f"semdepth demo talks to the node over ROS 2 and needs rclpy ({exc}); install "
                           "the ROS 2 Python packages (pip install 'semdepth_ros[ros]') or source ROS 2") from exc
    live = LiveOptions(namespace=NODE_NAMESPACE, checkpoint=str(checkpoint), device=args.device,
                       rate=1.0 if args.rate else None, timeout=FRAME_TIMEOUT_S, log_path=args.out / "node.log")
    with tempfile.TemporaryDirectory(prefix="semdepth-demo-") as tmp:
        drive = Path(tmp) / "drive"
        write_drive_bag(drive, args.frames, meta.input_height, meta.input_width, args.seed, time.time_ns(),
                        args.rate or None)
        return evaluate_live(drive, EvalOptions(depth_topic=GT_TOPIC, samples=0), live, bag)


def _document(args: argparse.Namespace, checkpoint: Path, meta: CheckpointMeta, result: EvalResult,
              accuracy: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    return {
        "status": "error" if result.error else "ok", "error": result.error,
        "checkpoint": {"path": str(checkpoint), "architecture": describe_architecture(meta.model_config),
                       "input_size": [meta.input_height, meta.input_width], "scale_factor": meta.scale_factor,
                       "scale_source": meta.scale_source},
        "drive": {"frames": args.frames, "seed": args.seed,
                  "rate": f"{args.rate:g} Hz" if args.rate else "as fast as the node answers"},
        "protocol": PROTOCOL, "accuracy": accuracy, "live": result.live, "notes": notes + result.notes,
    }


def _summary(args: argparse.Namespace, live: dict[str, Any], accuracy: dict[str, Any], meta: CheckpointMeta,
             written: list[str]) -> str:
    rviz = shipped_config("semdepth.rviz") or "config/semdepth.rviz"
    lines = [f"node answered {live['answered']} of {live['frames_sent']} frames"]
    if live["dropped"]:
        lines[0] += (f" ({live['dropped']} dropped: like with a real camera, the node keeps only the newest frame "
                     "when it cannot keep up; --rate 0 sends each frame once the previous one is answered)")
    lines += [f"throughput {fmt(live['output_rate_hz'], 1)} fps, latency p50 {fmt(live['latency_p50_ms'], 1)} ms, "
              f"p90 {fmt(live['latency_p90_ms'], 1)} ms (publish to depth arrival)",
              f"accuracy vs ground truth over {accuracy['median_scaled']['evaluated']} frames: abs_rel "
              f"{fmt(accuracy['median_scaled']['metrics']['abs_rel'])} median-scaled, "
              f"{fmt(accuracy['checkpoint_scale']['metrics']['abs_rel'])} with the checkpoint's scale "
              f"(x{meta.scale_factor:g})",
              f"wrote {args.out}: {', '.join(written)}",
              f"replay: ros2 bag play {args.out / 'bag'}  and  rviz2 -d {rviz}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    checkpoint, meta = _checkpoint(args.checkpoint)
    args.out.mkdir(parents=True, exist_ok=True)
    bag = _fresh_bag_path(args.out / "bag")
    notes = apply_ros_defaults(args.out / "ros_log")
    with _sigterm_as_interrupt():
        result = _stream(args, checkpoint, meta, bag)
    if not result.live or not result.live.get("answered"):
        raise RuntimeError(result.error or "the node answered no frame")
    recording = read_recording(bag)
    write_montage(args.out / "montage.png", recording.rows)
    written = ["montage.png"]
    if recording.cloud is None:
        (args.out / "cloud.ply").unlink(missing_ok=True)  # never leave an earlier run's cloud behind
        notes.append("no point cloud arrived for the sampled frame, so cloud.ply was not written")
    else:
        written.append(f"cloud.ply ({write_cloud(args.out / 'cloud.ply', recording.cloud)} points)")
    document = _document(args, checkpoint, meta, result, recording.accuracy, notes)
    write_metrics_json(args.out / "metrics.json", document)
    (args.out / "metrics.md").write_text(metrics_markdown(document))
    written += ["metrics.json", "metrics.md", "bag/ (mcap: inputs, ground truth, node outputs)", "node.log"]
    print(_summary(args, result.live, recording.accuracy, meta, written))
    if result.error:
        print(f"semdepth demo: error: {result.error} (the outputs cover the frames answered before it)",
              file=sys.stderr)
        return 1
    return 0
