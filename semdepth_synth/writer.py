"""Write synthetic sequences as an image-folder dataset (docs/interfaces.md, "On-disk layouts").

Per sequence: images/NNNNNN.png, depth/NNNNNN.npy (float32 metres, 0 = sky/invalid),
fg_mask/NNNNNN.png (0/255), classes/NNNNNN.png (Cityscapes train ids), poses.txt (3x4
camera-to-world per line), timestamps.txt (seconds per image), intrinsics.yaml, and preview.png (a
montage of the first frame), so the same loader that reads users' recordings reads these.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.classes import colorize_train_ids
from semdepth_ros.visualize import colorize_depth, overlay_mask
from semdepth_synth.sequence import SynthConfig, SynthFrame, SynthSequence

SUBFOLDERS = ("images", "depth", "fg_mask", "classes")


def _write_png(path: Path, image: np.ndarray) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")


def montage(frame: SynthFrame) -> np.ndarray:
    """2x2 RGB preview: image | depth, classes | foreground overlay."""
    top = np.concatenate([frame.rgb, colorize_depth(frame.depth, max_depth=80.0)], axis=1)
    bottom = np.concatenate([colorize_train_ids(frame.class_ids), overlay_mask(frame.rgb, frame.fg_mask)],
                            axis=1)
    return np.concatenate([top, bottom], axis=0)


def save_montage(frame: SynthFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_png(path, montage(frame))
    return path


def _intrinsics_yaml(K: np.ndarray, width: int, height: int) -> str:
    fx, fy, cx, cy = (float(v) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))
    return (f"# pixels of the images in images/\nfx: {fx!r}\nfy: {fy!r}\ncx: {cx!r}\ncy: {cy!r}\n"
            f"width: {width}\nheight: {height}\n")


def _prepare(folder: Path, overwrite: bool) -> None:
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{folder} already exists and is not empty (use overwrite to replace it)")
        shutil.rmtree(folder)
    for name in SUBFOLDERS:
        (folder / name).mkdir(parents=True, exist_ok=True)


def write_sequence(folder: str | Path, config: SynthConfig, overwrite: bool = False,
                   progress: tqdm | None = None) -> Path:
    """Render every frame of ``config`` into ``folder``; returns the folder."""
    folder = Path(folder)
    _prepare(folder, overwrite)
    sequence = SynthSequence(config)
    (folder / "intrinsics.yaml").write_text(_intrinsics_yaml(sequence.K, config.width, config.height))
    poses, stamps = [], []
    for i in range(len(sequence)):
        frame = sequence[i]
        stem = f"{i:06d}"
        _write_png(folder / "images" / f"{stem}.png", frame.rgb)
        np.save(folder / "depth" / f"{stem}.npy", np.where(np.isfinite(frame.depth), frame.depth, 0.0)
                .astype(np.float32))
        _write_png(folder / "fg_mask" / f"{stem}.png", frame.fg_mask * np.uint8(255))
        _write_png(folder / "classes" / f"{stem}.png", frame.class_ids)
        poses.append(" ".join(f"{value:.9g}" for value in frame.pose[:3].reshape(-1)))
        stamps.append(f"{frame.timestamp:.9f}")
        if i == 0:
            save_montage(frame, folder / "preview.png")
        if progress is not None:
            progress.update(1)
    (folder / "poses.txt").write_text("\n".join(poses) + "\n")
    (folder / "timestamps.txt").write_text("\n".join(stamps) + "\n")
    return folder


def write_dataset(out_dir: str | Path, num_sequences: int, config: SynthConfig, overwrite: bool = False,
                  show_progress: bool = True) -> list[Path]:
    """Write ``num_sequences`` sequences (seeds config.seed, config.seed + 1, ...) under ``out_dir``."""
    if num_sequences < 1:
        raise ValueError(f"num_sequences must be at least 1, got {num_sequences}")
    out_dir = Path(out_dir)
    folders = []
    with tqdm(total=num_sequences * config.num_frames, desc="synth", unit="frame",
              disable=not show_progress) as bar:
        for k in range(num_sequences):
            seq_config = dataclasses.replace(config, seed=config.seed + k)
            folders.append(write_sequence(out_dir / f"seq_{seq_config.seed:04d}", seq_config, overwrite, bar))
    return folders
