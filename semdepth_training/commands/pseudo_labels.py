"""Make binary foreground pseudo labels from Cityscapes train-id segmentations.

Foreground is the class list of Semantic-Guided Representation Enhancement, Table 7.

Sources, in order: ``--model`` (your segmentation model: 'module:function' or a TorchScript/.pt2 file),
``--checkpoint`` (a semdepth checkpoint's own semantic head: foreground only, e.g. the synthetically
pre-trained network before fine-tuning on real video),
``--labels`` (train-id PNGs mirroring the dataset's image paths), else train-id PNGs already in
``classes/`` beside the images. Writes ``fg_mask/<name>.png`` (0/255) beside the images, plus
``classes/`` copies for the per-class evaluation unless ``--no-classes``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from semdepth_training.pseudo_labels import (KINDS, find_targets, labels_from_checkpoint, labels_from_model,
                                             labels_from_pngs, load_segmenter)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="dataset root (KITTI raw or image folder)")
    parser.add_argument("--kind", choices=KINDS, default="kitti", help="dataset layout")
    parser.add_argument("--split", type=Path, default=None,
                        help="KITTI split file limiting the frames (default: every image_02/03 frame)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--labels", type=Path, default=None,
                        help="folder of train-id PNGs mirroring the dataset (<labels>/<image rel. path>.png)")
    source.add_argument("--model", default=None,
                        help="segmentation hook: 'module:function' (HxWx3 uint8 RGB -> HxW train ids) or a "
                             "TorchScript/.pt2 file (1x3xHxW float in [0,1] -> 1xCxHxW scores or HxW ids)")
    source.add_argument("--checkpoint", type=Path, default=None,
                        help="a semdepth checkpoint: its semantic head's foreground becomes the fg_mask labels "
                             "(no classes/); pseudo labels for fine-tuning, never ground truth")
    parser.add_argument("--device", default="cpu", help="device for a --model file or --checkpoint (cpu, cuda)")
    parser.add_argument("--no-classes", action="store_true", help="do not keep train-id copies in classes/")


def run(args: argparse.Namespace) -> int:
    targets = find_targets(args.kind, args.data, args.split)
    if not targets:
        print(f"error: no images found under {args.data} ({args.kind} layout)")
        return 1
    keep = not args.no_classes
    if args.checkpoint is not None:
        count = labels_from_checkpoint(targets, args.checkpoint, args.device)
    elif args.model is not None:
        count = labels_from_model(targets, load_segmenter(args.model, args.device), keep)
    else:
        count = labels_from_pngs(targets, args.data, args.labels, keep)
    print(f"wrote foreground masks for {count} images (fg_mask/ beside each image folder)")
    return 0
