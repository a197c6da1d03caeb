#!/usr/bin/env bash
# The inference engine's GPU check, prepared to run in one go on a CUDA machine (about 3 minutes on one
# H100/H200): the CUDA tests of the engine and the network, `semdepth bench` (naive vs fast path, R50 and
# R18, batch 1 and 8, 1242x375 camera image to 192x640) and scripts/bench_network.py. Needs torch with
# CUDA, numpy, opencv-python-headless, tqdm, matplotlib, pytest; onnxruntime optional; no ROS, no rosbags.
#
#   OUT=/tmp/gpu_check bash scripts/gpu_check_inference.sh            # on the GPU machine, repo root as cwd
#   bash scripts/gpu_check_inference.sh --quick --device cpu          # smoke test of the script on a CPU
#
# Writes everything under $OUT (default ./outputs/gpu_check): env.txt, tests.txt, bench.{txt,json,png},
# bench_network.{txt,png}, summary.txt. Exit status: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
OUT="${OUT:-outputs/gpu_check}"
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
PY="${PYTHON:-python3}"
export SEMDEPTH_CACHE="${SEMDEPTH_CACHE:-$(mktemp -d)}"  # exported ONNX files stay out of $OUT
status=0
step() {  # step NAME COMMAND...: run, keep the log, remember a failure
  local name="$1"; shift
  local command="$*"
  echo "== $name: ${command:0:240}" | tee -a "$OUT/summary.txt"
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
print("gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
try:
    import onnxruntime; print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
except ImportError:
    print("onnxruntime not installed")
for name in ("rclpy", "rosbags"):  # the engine and these checks must not need them
    try:
        __import__(name); print(name, "importable")
    except ImportError:
        print(name, "absent")
'

if [ "$DEVICE" = cuda ]; then
  TESTS=(-k "cuda or captured")
  BENCH=(--arch r50 r18 --batches 1 8 --iters 50 --warmup 5)
  NETWORK=(--device cuda --archs 50 18 --batches 1 8 --iters 20 --warmup 5)
else
  TESTS=()
  BENCH=(--arch r18 --height 64 --width 192 --image-height 120 --image-width 400 --batches 1 2 --iters 2 --warmup 1)
  NETWORK=(--device cpu --quick)
fi
[ $QUICK -eq 1 ] && [ "$DEVICE" = cuda ] && BENCH=(--arch r18 --batches 1 8 --iters 10 --warmup 3)

step tests "$PY" -m pytest -q -p no:cacheprovider test/test_engine.py test/test_fast_model.py test/test_predictor.py "${TESTS[@]}"
step bench "$PY" -m semdepth_ros.cli.main bench --device "$DEVICE" "${BENCH[@]}" \
  --json "$OUT/bench.json" --png "$OUT/bench.png"
step bench_network "$PY" scripts/bench_network.py "${NETWORK[@]}" --png "$OUT/bench_network.png"

echo "== all steps $([ $status -eq 0 ] && echo passed || echo 'did not all pass'); logs in $OUT" | tee -a "$OUT/summary.txt"
exit $status
