#!/usr/bin/env bash
# The training-speed GPU check, prepared to run in one go on a CUDA machine (under 2 minutes on one
# H100/H200): the CUDA tests of the fast training path, then scripts/bench_training.py (naive vs fast
# path, R18 Monodepth2-shaped and R50 paper configs, 192x640, batch 12, 12 loader workers) on synthetic
# 1242x375 frames it renders first, and the reference monodepth2 on the same frames when MONODEPTH2 is
# set. Needs torch with CUDA, numpy, opencv-python-headless, PyYAML, tqdm (tensorboard, matplotlib
# optional); the reference needs torchvision and Pillow. No ROS, no rosbags.
#
#   OUT=/tmp/gpu_check_training MONODEPTH2=~/monodepth2 bash scripts/gpu_check_training.sh   # GPU, repo root
#   bash scripts/gpu_check_training.sh --quick --device cpu                                    # CPU smoke test
#
# Environment: OUT (default ./outputs/gpu_check_training), PYTHON (python3), MONODEPTH2 (a monodepth2
# checkout; unset: no reference), REFERENCE_PYTHON (the reference's Python, default PYTHON), COMPILE=1
# (also time run.compile: adds a minute or more of compilation), TESTS=0 (skip the CUDA tests, ~20 s),
# SEQUENCES/FRAMES (synthetic data: 6 x 10 frames, 48 targets, repeated to fill 33 batches of 12).
# Writes under $OUT: env.txt, tests.txt, render.txt, bench.txt, bench/bench_training.{txt,json,png},
# summary.txt. Exit status 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
OUT="${OUT:-outputs/gpu_check_training}"
DEVICE=cuda
QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --device) DEVICE="$2"; shift ;;
    *) echo "unknown option $1 (use --quick, --device cpu|cuda)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT"
: > "$OUT/summary.txt"
PY="${PYTHON:-python3}"
status=0
step() {  # step NAME COMMAND...: run, keep the log, remember a failure
  local name="$1"; shift
  echo "== $name: $*" | cut -c1-300 | tee -a "$OUT/summary.txt"
  local start=$SECONDS
  "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.txt"
  echo "== $name: exit $rc in $((SECONDS - start)) s" | tee -a "$OUT/summary.txt"
  [ $rc -eq 0 ] || status=1
}

step env "$PY" -c '
import sys, torch
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)
print("gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
      "bf16", torch.cuda.is_available() and torch.cuda.is_bf16_supported())
for name in ("tensorboard", "matplotlib", "torchvision", "rclpy", "rosbags"):
    try:
        __import__(name); print(name, "importable")
    except ImportError:
        print(name, "absent")
'

if [ $QUICK -eq 1 ]; then
  SEQUENCES="${SEQUENCES:-2}"; FRAMES="${FRAMES:-6}"; SIZE=(--height 96 --width 320)
  BENCH=(--quick)
else
  SEQUENCES="${SEQUENCES:-6}"; FRAMES="${FRAMES:-10}"; SIZE=(--height 375 --width 1242)  # KITTI's size
  BENCH=(--warmup 8 --steps 25 --batch 12 --workers 12)
fi
[ "${COMPILE:-0}" = 1 ] && BENCH+=(--compile)
[ -n "${MONODEPTH2:-}" ] && BENCH+=(--reference "$MONODEPTH2" --reference-python "${REFERENCE_PYTHON:-$PY}")

[ "${TESTS:-1}" = 1 ] && step tests "$PY" -m pytest -q -p no:cacheprovider test/test_train_speed.py -k cuda

render() {  # one `semdepth synth` process per sequence, in parallel
  local pids=() i
  rm -rf "$OUT/synth" "$OUT/render"
  for ((i = 0; i < SEQUENCES; i++)); do
    "$PY" -m semdepth_training synth --out "$OUT/render/$i" --frames "$FRAMES" --seed $((100 + i)) "${SIZE[@]}" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || return 1; done
  mkdir -p "$OUT/synth"
  for ((i = 0; i < SEQUENCES; i++)); do mv "$OUT/render/$i"/seq_* "$OUT/synth/seq_$(printf %04d "$i")"; done
  rm -rf "$OUT/render"
}
step render render

step bench "$PY" scripts/bench_training.py --frames "$OUT/synth" --out "$OUT/bench" --device "$DEVICE" "${BENCH[@]}"

echo "== all steps $([ $status -eq 0 ] && echo passed || echo 'did not all pass'); logs in $OUT" | tee -a "$OUT/summary.txt"
exit $status
