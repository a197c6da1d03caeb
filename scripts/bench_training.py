"""Training images/s: the naive path against the fast one, and against the reference monodepth2, in one run.

For the Monodepth2-shaped config (config/train/kitti_r18_monodepth2.yaml: ResNet-18, no semantic
branch) and the paper's (kitti_r50_semdepth.yaml: ResNet-50, semantic branch, SEEM, attention), at
--height x --width with batch --batch and --workers loader workers, the real `semdepth train` loop
(Trainer.train) is timed over --steps optimiser steps after --warmup ones (CUDA-synchronised at both
ends; images/s = steps x batch / seconds), on two paths:

  naive  the settings from before the fast path: run.precision fp16 on CUDA (fp32 on the CPU), flips,
         jitter and the image pyramid in the loader workers on the CPU (data.augment_on: loader),
         every frame decoded from its file, contiguous (NCHW) networks (the loop's own changes, the
         loss read one step late and fused Adam, apply to both paths);
  fast   run.precision auto (bf16 on CUDA), channels_last networks, augmentation batched on the device
         after upload (data.augment_on: device), frames from the resized-frame cache (data.cache_dir,
         built before the timing: its time is the fast rows' start-up).

Both read the same files: a KITTI raw root with a Monodepth2 split (--kitti, --split), or image folders
written by `semdepth synth` (--frames), which are linked into a KITTI raw layout (image_02/data, and
fg_mask pseudo labels) so that monodepth2 reads them too. A split of exactly (warm-up + timed) x batch
target lines (repeated if the data has fewer) makes one epoch. Given --reference, a local monodepth2
checkout (never shipped; run by scripts/monodepth2_speed.py under --reference-python, which needs
torchvision) trains the same split with the same height, width, batch and workers (--png for png
frames, --weights_init scratch), and every row gets its ratio to it. "data wait" is the share of the
timed wall time the loop spent outside train_step, i.e. mostly waiting for the loader.

    python scripts/bench_training.py --frames /data/synth --out /tmp/bench --reference ~/monodepth2
    python scripts/bench_training.py --kitti /data/kitti_raw --split splits/eigen_zhou/train_files.txt --out /tmp/bench
    python scripts/bench_training.py --quick --device cpu --frames /tmp/synth --out /tmp/bench   # smoke test

Writes OUT/bench_training.{txt,json,png}.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIGS = {"r18": ("kitti_r18_monodepth2.yaml", "R18, no semantic (Monodepth2-shaped)"),
           "r50": ("kitti_r50_semdepth.yaml", "R50 + semantic + SEEM + attention (paper)")}
VIEW_DATE = "2011_01_01"  # the KITTI-layout view of image folders


def main() -> int:
    args = _parse()
    import torch

    _tensorboard_or_null()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.out.mkdir(parents=True, exist_ok=True)
    root, ext = _data_view(args)
    split = _write_split(args, root, ext)
    header = (f"training images/s, {args.height}x{args.width}, batch {args.batch}, {args.workers} loader workers, "
              f"steps {args.warmup + 1}-{args.warmup + args.steps} timed after {args.warmup} warm-up, "
              f"{_device_name(device)}, {ext} frames from {args.kitti or args.frames}")
    print(header, flush=True)
    rows = []
    for name in args.configs:
        for path in ("naive", "fast", *(["fast+compile"] * args.compile)):
            row = _measure(args, name, path, device, root, split, ext)
            rows.append(row)
            print(f"  {name} {path}: {row['images_per_s']:.1f} images/s (data wait {row['data_wait']:.0%}, "
                  f"start-up {row['startup_s']:.1f} s)", flush=True)
    reference = _reference(args, root, split, ext, device) if args.reference else None
    if reference:
        print(f"  monodepth2: {reference['images_per_s']:.1f} images/s", flush=True)
    table = _table(header, rows, reference, args)
    print(table)
    (args.out / "bench_training.txt").write_text(table + "\n")
    (args.out / "bench_training.json").write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)},
                                                              "device": _device_name(device), "rows": rows,
                                                              "reference": reference}, indent=1, default=str))
    _plot(rows, reference, header, args.out / "bench_training.png")
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--frames", type=Path, help="image folders from `semdepth synth` (sequences with images/)")
    source.add_argument("--kitti", type=Path, help="KITTI raw root (with --split)")
    parser.add_argument("--split", type=Path, help="with --kitti: a Monodepth2 split file (folder frame side lines)")
    parser.add_argument("--out", type=Path, required=True, help="scratch folder: data view, split, cache, runs, results")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default: cuda when there is one")
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--workers", type=int, default=12, help="DataLoader workers (ours and the reference's)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30, help="timed optimiser steps")
    parser.add_argument("--compile", action="store_true", help="also time the fast path with run.compile")
    parser.add_argument("--reference", type=Path, help="a local monodepth2 checkout (nianticlabs/monodepth2)")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="Python for the reference (needs torch, torchvision, Pillow); default this one")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true",
                        help="CPU smoke test: 64x192, batch 2, 1 worker, 2 warm-up + 3 timed steps")
    args = parser.parse_args()
    if args.quick:
        args.height, args.width, args.batch, args.workers, args.warmup, args.steps = 64, 192, 2, 1, 2, 3
    if args.kitti and not args.split:
        parser.error("--kitti needs --split (a Monodepth2 split file)")
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be >= 1")
    return args


# ----------------------------------------------------------------------------------- data
def _data_view(args: argparse.Namespace) -> tuple[Path, str]:
    """(KITTI raw root, frame extension): the given root, or a KITTI-layout view of image folders."""
    if args.kitti:
        from semdepth_ros.kitti_split import read_split

        first = read_split(args.split)[0]
        stem = args.kitti / first.folder / "image_02" / "data" / f"{first.frame:010d}"
        return args.kitti, "jpg" if stem.with_suffix(".jpg").is_file() else "png"
    sequences = sorted(p for p in args.frames.iterdir() if (p / "images").is_dir()) if (
        not (args.frames / "images").is_dir()) else [args.frames]
    if not sequences:
        raise SystemExit(f"no sequence folder (with images/) in {args.frames}")
    root = args.out / "kitti_view"
    ext = "png"
    for number, sequence in enumerate(sequences):
        camera = root / VIEW_DATE / f"{VIEW_DATE}_drive_{number:04d}_sync" / "image_02"
        images = sorted(sequence.glob("images/*.png")) or sorted(sequence.glob("images/*.jpg"))
        ext = images[0].suffix[1:]
        for index, image in enumerate(images):
            _link(camera / "data" / f"{index:010d}.{ext}", image)
            mask = sequence / "fg_mask" / f"{image.stem}.png"
            if mask.is_file():
                _link(camera / "fg_mask" / f"{index:010d}.png", mask)
    return root, ext


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target.resolve())


def _write_split(args: argparse.Namespace, root: Path, ext: str) -> Path:
    """A split folder whose train_files.txt is exactly (warm-up + timed) x batch targets with both
    neighbours on disk (one epoch = the run), and val_files.txt one batch (monodepth2 needs it)."""
    if args.kitti:
        lines = [line.strip() for line in args.split.read_text().splitlines() if line.strip()]
    else:
        lines = []
        for drive in sorted((root / VIEW_DATE).iterdir()):
            frames = len(list((drive / "image_02" / "data").glob(f"*.{ext}")))
            lines += [f"{VIEW_DATE}/{drive.name} {i} l" for i in range(1, frames - 1)]
    if not lines:
        raise SystemExit("no target frames with both neighbours in the data")
    needed = (args.warmup + args.steps) * args.batch
    rng = random.Random(0)
    order: list[str] = []
    while len(order) < needed:  # every target once before any repeats
        order += rng.sample(lines, len(lines))
    split = args.out / "split"
    split.mkdir(parents=True, exist_ok=True)
    (split / "train_files.txt").write_text("\n".join(order[:needed]) + "\n")
    (split / "val_files.txt").write_text("\n".join(order[:args.batch]) + "\n")
    return split


# ----------------------------------------------------------------------------------- ours
def _config(args: argparse.Namespace, name: str, path: str, device: Any, root: Path, split: Path, ext: str) -> Any:
    from semdepth_training.config import load_config

    values = {"data.path": str(root), "data.split": str(split), "data.options": {"ext": ext},
              "data.height": args.height, "data.width": args.width, "data.num_workers": args.workers,
              "optim.batch_size": args.batch, "run.device": device.type, "run.validate": False,
              "run.max_steps": args.warmup + args.steps, "run.log_every": 10 ** 9, "run.image_every": 10 ** 9,
              "run.save_every_minutes": None}
    if path == "naive":
        values.update({"data.augment_on": "loader", "data.cache_dir": None, "run.channels_last": False,
                       "run.precision": "fp16" if device.type == "cuda" else "fp32", "run.compile": False})
    else:
        values.update({"data.augment_on": "device", "data.cache_dir": str(args.out / "frame_cache"),
                       "run.channels_last": None, "run.precision": "auto", "run.compile": path == "fast+compile"})
    return load_config(REPO / "config" / "train" / CONFIGS[name][0], values=values)


def _measure(args: argparse.Namespace, name: str, path: str, device: Any, root: Path, split: Path,
             ext: str) -> dict[str, Any]:
    """Images/s of the trainer's own loop over the timed steps, and the share spent outside steps."""
    import shutil

    import torch
    from semdepth_training.trainer import Trainer

    run_dir = args.out / "runs" / f"{name}_{path}"
    shutil.rmtree(run_dir, ignore_errors=True)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer = Trainer(_config(args, name, path, device, root, split, ext), run_dir)
    startup = time.perf_counter() - start
    marks: dict[int, float] = {}
    in_step = [0.0]
    count = [0]
    step = trainer.train_step

    def timed_step(batch: dict) -> Any:
        begin = time.perf_counter()
        result = step(batch)
        count[0] += 1
        mark = count[0] in (args.warmup, args.warmup + args.steps)
        if mark and cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        if count[0] > args.warmup:
            in_step[0] += now - begin
        if mark:
            marks[count[0]] = now
        return result

    trainer.train_step = timed_step
    trainer.train()
    seconds = marks[args.warmup + args.steps] - marks[args.warmup]
    row = {"config": name, "path": path, "images_per_s": args.steps * args.batch / seconds,
           "seconds": seconds, "data_wait": max(0.0, 1 - in_step[0] / seconds), "startup_s": startup,
           "precision": str(trainer.autocast_dtype or "fp32").replace("torch.", ""),
           "channels_last": trainer.channels_last, "augment_on": "device" if trainer.augment_on_device else "loader",
           "cache": trainer.config.data.cache_dir is not None,
           "peak_memory_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None}
    del trainer
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return row


def _tensorboard_or_null() -> None:
    """The trainer logs to TensorBoard; where the package is missing, a no-op writer stands in (the
    timed runs log nothing anyway)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        class NullWriter:
            def __init__(self, *a: object, **k: object) -> None: ...

            def __enter__(self) -> "NullWriter":
                return self

            def __exit__(self, *a: object) -> None: ...

            def __getattr__(self, name: str) -> Any:
                return lambda *a, **k: None

        sys.modules["torch.utils.tensorboard"] = types.SimpleNamespace(SummaryWriter=NullWriter)
        print("(tensorboard is not installed: the timed runs log to a no-op writer)", flush=True)


# ----------------------------------------------------------------------------------- reference
def _reference(args: argparse.Namespace, root: Path, split: Path, ext: str, device: Any) -> dict[str, Any] | None:
    command = [args.reference_python, str(REPO / "scripts" / "monodepth2_speed.py"), "--monodepth2", str(args.reference),
               "--data_path", str(root), "--split_dir", str(split), "--log_dir", str(args.out / "monodepth2_run"),
               "--height", str(args.height), "--width", str(args.width), "--batch_size", str(args.batch),
               "--num_workers", str(args.workers), "--warmup", str(args.warmup), "--steps", str(args.steps)]
    command += ["--png"] * (ext == "png") + ["--no_cuda"] * (device.type != "cuda")
    log = args.out / "monodepth2.log"
    with open(log, "w") as handle:
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT).returncode
    lines = log.read_text().splitlines()
    if code != 0 or not lines or not lines[-1].startswith("{"):
        print(f"  monodepth2 failed (exit {code}); last lines of {log}:\n    " + "\n    ".join(lines[-8:]), flush=True)
        return None
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------------- report
def _table(header: str, rows: list[dict], reference: dict | None, args: argparse.Namespace) -> str:
    ref = reference["images_per_s"] if reference else None
    lines = [header, "", "| config | path | images/s | vs naive | vs monodepth2 | data wait | start-up s | settings |",
             "|---|---|---|---|---|---|---|---|"]
    naive = {r["config"]: r["images_per_s"] for r in rows if r["path"] == "naive"}
    for r in rows:
        settings = (f"{r['precision']}, {'channels_last' if r['channels_last'] else 'NCHW'}, "
                    f"augment on {r['augment_on']}, {'frame cache' if r['cache'] else 'decode every epoch'}")
        vs_ref = f"{r['images_per_s'] / ref:.2f}x" if ref else "-"
        lines.append(f"| {CONFIGS[r['config']][1]} | {r['path']} | {r['images_per_s']:.1f} | "
                     f"{r['images_per_s'] / naive[r['config']]:.2f}x | {vs_ref} | {r['data_wait']:.0%} | "
                     f"{r['startup_s']:.1f} | {settings} |")
    if reference:
        lines.append(f"| monodepth2 reference (R18, its own train loop) | - | {ref:.1f} | - | 1.00x | - | "
                     f"{reference['startup_s']:.1f} | fp32, PIL + torchvision per sample |")
        fast = {r["config"]: r["images_per_s"] for r in rows if r["path"] == "fast"}
        targets = [f"R18 fast {fast['r18'] / ref:.2f}x (target >= 2x)" if "r18" in fast else "",
                   f"R50 fast {fast['r50'] / ref:.2f}x (target >= 1.5x)" if "r50" in fast else ""]
        lines += ["", "against monodepth2: " + "; ".join(t for t in targets if t)]
    elif args.reference:
        lines += ["", "monodepth2: the reference run failed (see monodepth2.log)"]
    return "\n".join(lines)


def _plot(rows: list[dict], reference: dict | None, title: str, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    labels = [f"{r['config']} {r['path']}" for r in rows] + (["monodepth2"] if reference else [])
    values = [r["images_per_s"] for r in rows] + ([reference["images_per_s"]] if reference else [])
    colours = ["#999999" if r["path"] == "naive" else "#1f77b4" for r in rows] + (["#d62728"] if reference else [])
    figure, axis = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.5))
    axis.barh(labels[::-1], values[::-1], color=colours[::-1])
    for y, value in enumerate(values[::-1]):
        axis.text(value, y, f" {value:.3g}", va="center")
    axis.set_xlabel("training images/s")
    axis.set_title(title, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _device_name(device: Any) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


if __name__ == "__main__":
    sys.exit(main())
