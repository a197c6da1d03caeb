#!/usr/bin/env python3
"""Does a checkpoint's pose net read the camera motion from the pixels? Its translation direction cosine
against a recording's known poses (image folder with poses.txt: KITTI OXTS, the synthetic world's).

Every neighbour pair is scored in time order and reversed (semdepth_training/evaluation/pose.py): a pose
net that always answers "forward" scores ~1 in time order but ~0 over both orders, so the figure that
counts is "both orders". Pairs moving < 0.1 m are left out of the cosine.

    python scripts/pose_direction.py --checkpoint runs/finetune/models/last.pt \
        --data $DATA/real/image_folder/heldout/kitti_2011_09_26_drive_0009_cam2
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from semdepth_ros.checkpoint import load_pose_net, read_meta
from semdepth_training.datasets.batch import expand_batch
from semdepth_training.datasets.registry import build_dataset
from semdepth_training.evaluation.pose import PoseErrors, pose_net_predictor, score_pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a training checkpoint with its pose net")
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="image-folder sequence (or root of several) with poses.txt (repeat)")
    parser.add_argument("--stride", type=int, default=1, help="frames between neighbours")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    pose_net = load_pose_net(args.checkpoint)
    if pose_net is None:
        print(f"error: {args.checkpoint} holds no pose net (an exported node checkpoint?); use a training "
              "checkpoint (RUN_DIR/models/*.pt)", file=sys.stderr)
        return 1
    meta = read_meta(args.checkpoint)
    predict = pose_net_predictor(pose_net)
    figures = {}
    for root in args.data:
        dataset = build_dataset("folder", root=root, height=meta.input_height, width=meta.input_width,
                                frame_ids=(0, -1, 1), augment=False, stride=args.stride)
        both, forward = PoseErrors(), PoseErrors()
        for batch in tqdm(DataLoader(dataset, batch_size=args.batch_size), desc=root.name, unit="batch"):
            inputs = expand_batch(batch)
            if not bool(inputs["pose_valid"].any()):
                continue
            score_pairs(predict, inputs, both)
            score_pairs(predict, inputs, forward, both_directions=False)
        figures[str(root)] = {"both orders": both.result(), "time order": forward.result()}
        for order, result in figures[str(root)].items():
            print(f"{root.name} ({order}): cosine {result['pose_cosine']:.4f} over {result['pose_pairs']} moving "
                  f"pairs, rotation error {result['pose_rotation_error']:.3f} deg")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    with torch.no_grad():
        sys.exit(main())
