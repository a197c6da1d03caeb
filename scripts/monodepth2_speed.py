"""Steady-state training images/s of a local monodepth2 checkout (Godard et al., "Digging Into
Self-Supervised Monocular Depth Estimation"), run by its own Trainer, for scripts/bench_training.py.

Nothing of monodepth2 is shipped or copied: its modules are imported from the checkout the user gives,
under a Python that has torchvision. Its train.py cannot stop after N steps, so this imports its
Trainer with the options train.py would parse, trains one epoch of a split of exactly (warm-up +
timed) batches, and times the timed steps at the optimiser step (CUDA-synchronised). Prints one
JSON line last: images_per_s, steps, seconds, startup_s.

The checkout predates current libraries; only the libraries are adapted here, never its code:
tensorboardX (-> torch.utils.tensorboard, or a no-op writer without tensorboard), IPython (imported,
unused), scikit-image (Velodyne ground truth only), PIL.Image.ANTIALIAS (= LANCZOS, removed in
Pillow 10), torchvision's ColorJitter.get_params (returns the drawn values since torchvision 0.8;
monodepth2 calls the transform it used to return, in the drawn order) and the DataLoader iterator's
Python 2 ``.next()``.

    python scripts/monodepth2_speed.py --monodepth2 ~/monodepth2 --data_path KITTI_ROOT \
        --split_dir SPLIT_DIR --batch_size 12 --num_workers 12 --warmup 10 --steps 30 --png
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monodepth2", type=Path, required=True, help="the monodepth2 checkout (train.py, trainer.py)")
    parser.add_argument("--data_path", required=True, help="KITTI raw root (monodepth2 --data_path)")
    parser.add_argument("--split_dir", type=Path, required=True,
                        help="folder with train_files.txt ((warmup + steps) x batch lines) and val_files.txt")
    parser.add_argument("--log_dir", required=True, help="monodepth2 --log_dir (weights and events go there)")
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--batch_size", type=int, default=12)
    parser.add_argument("--num_workers", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=10, help="steps before the timed ones")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--png", action="store_true", help="the frames are .png (monodepth2 defaults to .jpg)")
    parser.add_argument("--no_cuda", action="store_true")
    args = parser.parse_args()
    lines = (args.split_dir / "train_files.txt").read_text().split()
    if len(lines) // 3 != (args.warmup + args.steps) * args.batch_size:
        parser.error(f"{args.split_dir / 'train_files.txt'} must hold (warmup + steps) x batch_size = "
                     f"{(args.warmup + args.steps) * args.batch_size} lines; it has {len(lines) // 3}")
    start = time.perf_counter()
    _adapt_libraries()
    sys.path.insert(0, str(args.monodepth2.resolve()))
    import torch
    from options import MonodepthOptions  # the checkout's
    from trainer import Trainer  # the checkout's

    argv = ["--data_path", args.data_path, "--log_dir", args.log_dir, "--model_name", "bench",
            "--height", str(args.height), "--width", str(args.width), "--batch_size", str(args.batch_size),
            "--num_workers", str(args.num_workers), "--num_epochs", "1", "--weights_init", "scratch"]
    argv += ["--png"] * args.png + ["--no_cuda"] * args.no_cuda
    opts = MonodepthOptions().parser.parse_args(argv)
    # trainer.py reads splits/<split>/{train,val}_files.txt beside itself: an absolute path replaces
    # that folder (os.path.join keeps the last absolute part), so the checkout stays untouched.
    opts.split = str(args.split_dir.resolve())
    trainer = Trainer(opts)
    cuda = trainer.device.type == "cuda"
    marks: dict[int, float] = {}
    done = [0]
    optimiser_step = trainer.model_optimizer.step

    def timed_step(*a: object, **k: object) -> object:
        result = optimiser_step(*a, **k)
        done[0] += 1
        if done[0] in (args.warmup, args.warmup + args.steps):
            if cuda:
                torch.cuda.synchronize()
            marks[done[0]] = time.perf_counter()
        return result

    trainer.model_optimizer.step = timed_step
    startup = time.perf_counter() - start
    trainer.train()
    seconds = marks[args.warmup + args.steps] - marks[args.warmup]
    print(json.dumps({"images_per_s": args.steps * args.batch_size / seconds, "steps": args.steps,
                      "seconds": seconds, "startup_s": startup, "device": str(trainer.device)}), flush=True)
    return 0


def _adapt_libraries() -> None:
    """Make today's libraries answer as the ones monodepth2 was written against (see the docstring)."""
    import torch
    import torch.multiprocessing
    import torch.utils.data.dataloader as dataloader

    torch.multiprocessing.set_start_method("fork", force=True)  # the adaptations reach the loader workers
    if not hasattr(dataloader._BaseDataLoaderIter, "next"):
        dataloader._BaseDataLoaderIter.next = dataloader._BaseDataLoaderIter.__next__
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        sys.modules["tensorboardX"] = types.SimpleNamespace(SummaryWriter=_summary_writer())
    for name in ("IPython", "skimage.transform"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = _missing_module(name)
    if isinstance(sys.modules["skimage.transform"], types.ModuleType) and "skimage" not in sys.modules:
        sys.modules["skimage"] = types.SimpleNamespace(transform=sys.modules["skimage.transform"])
    from PIL import Image

    if not hasattr(Image, "ANTIALIAS"):
        Image.ANTIALIAS = Image.LANCZOS
    import torchvision.transforms as transforms
    import torchvision.transforms.functional as tf

    draw = transforms.ColorJitter.get_params
    if isinstance(draw((0.8, 1.2), (0.8, 1.2), (0.8, 1.2), (-0.1, 0.1)), tuple):
        def get_params(brightness: object, contrast: object, saturation: object, hue: object) -> object:
            order, b, c, s, h = draw(brightness, contrast, saturation, hue)
            ops = (lambda x: tf.adjust_brightness(x, b), lambda x: tf.adjust_contrast(x, c),
                   lambda x: tf.adjust_saturation(x, s), lambda x: tf.adjust_hue(x, h))

            def jitter(image: object) -> object:
                for i in order.tolist():
                    image = ops[i](image)
                return image
            return jitter

        transforms.ColorJitter.get_params = staticmethod(get_params)


def _summary_writer() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter
    except ImportError:  # no tensorboard: the timing does not need the logs
        class NullWriter:
            def __init__(self, *a: object, **k: object) -> None: ...

            def __getattr__(self, name: str) -> object:
                return lambda *a, **k: None
        return NullWriter


def _missing_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def missing(*a: object, **k: object) -> None:
        raise ImportError(f"{name} is not installed (monodepth2 needs it only for this call)")
    module.embed = module.resize = missing
    return module


if __name__ == "__main__":
    sys.exit(main())
