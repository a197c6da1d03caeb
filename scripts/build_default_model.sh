#!/usr/bin/env bash
# Rebuild the bundled demo model semdepth_ros/data/default_model.pt from scratch (CPU: ~15-60 min).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/default_model}
CONFIG=config/train/default_model.yaml
semdepth train --config "$CONFIG" --out "$RUN"
semdepth export --run "$RUN" --out semdepth_ros/data/default_model.pt --half
python scripts/stamp_provenance.py "$RUN" semdepth_ros/data/default_model.pt --synthetic-demo \
    --config-file "$CONFIG" --command "bash scripts/build_default_model.sh (semdepth train --config $CONFIG; semdepth export --half)"
semdepth evaluate --checkpoint semdepth_ros/data/default_model.pt --kind synthetic --synthetic-sequences 4 --seed 7 \
    --out "$RUN/eval_heldout"
