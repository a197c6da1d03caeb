#!/usr/bin/env bash
# Rebuild the bundled model semdepth_ros/data/default_model.pt: synthetic pre-training (the ImageNet
# substitute), then the papers' self-supervised regime on real KITTI video, then export and the held-out
# evaluation (docs/training.md, "The bundled model"). The defaults are the budget it was built with on a
# 2-core CPU (1 thread each stage); on a GPU raise PRETRAIN_STEPS / FINETUNE_STEPS.
#   scripts/build_default_model.sh KITTI_RAW_ROOT SPLITS_DIR [WORK_DIR]
# KITTI_RAW_ROOT holds <date>/<drive>_sync/ (drives 0011, 0017, 0095 for training, 0052 for validation,
# 0009 for the test); SPLITS_DIR holds real_kitti_plus/{train,val,test}_files.txt (docs/data.md).
set -euo pipefail
cd "$(dirname "$0")/.."
KITTI=${1:?KITTI raw root}; SPLITS=${2:?folder holding real_kitti_plus/}; WORK=${3:-runs/default_model}
PRETRAIN_FORWARD_STEPS=${PRETRAIN_FORWARD_STEPS:-900}; PRETRAIN_STEPS=${PRETRAIN_STEPS:-1115}
FINETUNE_STEPS=${FINETUNE_STEPS:-138}; SYNTH_SEQUENCES=${SYNTH_SEQUENCES:-320}
OUT=semdepth_ros/data/default_model.pt
mkdir -p "$WORK"

# 1. the synthetic world: 320 drives of 24 frames at 192x640 (min-pooled to 96x320 by training), 6 for validation
[ -d "$WORK/synth_train" ] || semdepth synth --out "$WORK/synth_train" --frames 24 --sequences "$SYNTH_SEQUENCES" \
    --realism full --seed 100000
[ -d "$WORK/synth_val" ] || semdepth synth --out "$WORK/synth_val" --frames 12 --sequences 6 --realism full \
    --seed 900000 --height 96 --width 320
# 2. synthetic pre-training: metric depth, foreground and ego-motion from the generator's labels; first in
#    time order, then with half of the samples played backwards so the pose net must read the motion
#    (the shipped model: 900 + 215 steps; reversing from the start is likely better, not yet measured)
semdepth pretrain --out "$WORK/pretrain" --data "$WORK/synth_train" --set data.dataset=folder \
    --set data.val_path="$WORK/synth_val" --set data.num_workers=0 --set 'data.options={}' \
    --set 'data.val_options={}' --max-steps "$PRETRAIN_FORWARD_STEPS"
semdepth pretrain --out "$WORK/pretrain" --resume --set 'data.options={reverse_time: true}' --max-steps "$PRETRAIN_STEPS"
# 3. foreground pseudo labels on the real training and validation frames from the pre-trained network
for part in train val; do
    semdepth pseudo-labels --data "$KITTI" --split "$SPLITS/real_kitti_plus/${part}_files.txt" \
        --checkpoint "$WORK/pretrain/models/last.pt"
done
# 4. the self-supervised regime on real video from the pre-trained weights
semdepth train --config config/train/default_model.yaml --init "$WORK/pretrain/models/last.pt" --data "$KITTI" \
    --set data.split="$SPLITS/real_kitti_plus" --set run.max_steps="$FINETUNE_STEPS" --out "$WORK/finetune"
# 5. the node checkpoint, the epoch with the best validation Abs Rel (drive 0052), its metric scale measured
#    against 0052's LiDAR (median GT / prediction), so the test drive 0009 stays unseen
semdepth export --run "$WORK/finetune" --select best-val --out "$OUT" --half --scale-from-val \
    --val-data "$KITTI" --val-kind kitti --val-split "$SPLITS/real_kitti_plus/val_files.txt"
# 6. held-out evaluation: drive 0009 (never trained or selected on), Eigen protocol, Garg crop, LiDAR
for scaling in median fixed; do
    semdepth evaluate --checkpoint "$OUT" --data "$KITTI" --split "$SPLITS/real_kitti_plus/test_files.txt" \
        --scaling "$scaling" --out "$WORK/eval_0009_$scaling"
done
