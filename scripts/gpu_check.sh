#!/usr/bin/env bash
# The project's GPU check, prepared to run in one go on a CUDA machine: about 6 minutes on one H100/H200
# (8 with the regime stage), and never more than BUDGET seconds (480): every step runs under `timeout`,
# boxed by its own limit and by what is left of the budget. Stages, in this order (--stages picks some):
#
#   inference    CUDA tests of the engine, the network and the predictor (~40 s); `semdepth bench`, naive
#                vs fast path, R50 and R18, batch 1 and 8, 1242x375 camera image to 192x640 (~90 s)
#   network      scripts/bench_network.py, the network alone, reference vs fast (~60 s; not by default)
#   training     CUDA tests of the fast training path (~20 s); synthetic 1242x375 frames (~30 s);
#                scripts/bench_training.py naive vs fast, R18 and R50 configs, batch 12 (~80 s), and the
#                reference monodepth2 on the same frames when MONODEPTH2 is set (adds ~60 s)
#   distributed  scripts/bench_distributed.py: 1 process against 2 DDP processes sharing the GPU (~90 s)
#   regime       scripts/regime_gpu_check.py fp32 vs AMP from scratch on a real-frame pack (~100 s); runs
#                only when --regime-pack PACK is given (PACK/train, PACK/val image folders, val with
#                depth/ and poses.txt; docs/training.md, "Your own recordings")
#
#   OUT=/tmp/gpu_check bash scripts/gpu_check.sh                          # GPU machine, repo root as cwd
#   OUT=/tmp/gpu_check bash scripts/gpu_check.sh --regime-pack runs/regime_pack
#   bash scripts/gpu_check.sh --stages training --device cuda             # one stage
#   bash scripts/gpu_check.sh --quick --device cpu                        # smoke test of the script on a CPU
#
# Needs torch with CUDA, numpy, opencv-python-headless, PyYAML, tqdm, pytest, tensorboard (the distributed
# stage reads its step times); onnxruntime, matplotlib optional; no ROS, no rosbags. Environment: OUT
# (default ./outputs/gpu_check), PYTHON (python3), BUDGET (seconds, 480), MONODEPTH2 (a monodepth2
# checkout), REFERENCE_PYTHON (its Python, default PYTHON), COMPILE=1 (bench_training also times
# run.compile: a minute or more), REGIME_SECONDS (training time of the regime stage, 60).
# Writes under $OUT one log per step (NAME.txt) with its outputs beside it (bench.{json,png},
# bench_network.png, training/bench_training.{txt,json,png}, distributed/, regime/curves.{json,png}) and
# summary.txt: every step's command, exit status and time, then the figures. Exit status 0 when every
# step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
OUT="${OUT:-outputs/gpu_check}"
PY="${PYTHON:-python3}"
BUDGET="${BUDGET:-480}"
DEVICE=cuda
QUICK=0
STAGES="inference training distributed regime"
PACK=""
CROP=garg
usage="options: --quick, --device cuda|cpu, --stages 'inference network training distributed regime', \
--regime-pack DIR, --regime-crop garg|eigen|none"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --device) DEVICE="$2"; shift ;;
    --stages) STAGES="$2"; shift ;;
    --regime-pack) PACK="$2"; shift ;;
    --regime-crop) CROP="$2"; shift ;;
    *) echo "unknown option $1 ($usage)" >&2; exit 2 ;;
  esac
  shift
done
for stage in $STAGES; do
  case "$stage" in inference | network | training | distributed | regime) ;;
    *) echo "unknown stage $stage ($usage)" >&2; exit 2 ;; esac
done
if [ -n "$PACK" ] && { [ ! -d "$PACK/train" ] || [ ! -d "$PACK/val" ]; }; then
  echo "--regime-pack $PACK: needs the image folders $PACK/train and $PACK/val" >&2; exit 2
fi
wants() { [[ " $STAGES " == *" $1 "* ]]; }
mkdir -p "$OUT"
: > "$OUT/summary.txt"
export SEMDEPTH_CACHE="${SEMDEPTH_CACHE:-$(mktemp -d)}"  # exported ONNX files stay out of $OUT
status=0
FIGURES=()  # "NAME|COMMAND": run after the steps, their output goes into summary.txt

step() {  # step NAME LIMIT_S COMMAND...: run under timeout, keep the log, remember a failure
  local name="$1" limit="$2"; shift 2
  local left=$((BUDGET - SECONDS))
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name: $*" | cut -c1-300 | tee -a "$OUT/summary.txt"
  if [ "$limit" -lt 10 ]; then
    echo "== $name: SKIPPED, the budget of $BUDGET s is spent" | tee -a "$OUT/summary.txt"
    status=1; return
  fi
  local start=$SECONDS rc
  # timeout runs programs: a shell function (render) runs in a bash of its own
  [ "$(type -t "$1")" = function ] && set -- bash -c "$(declare -f "$1"); $1 \"\$@\"" "$@"
  timeout --kill-after 20 "$limit" "$@" > "$OUT/$name.txt" 2>&1
  rc=$?
  tail -n 25 "$OUT/$name.txt"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "(timed out after $limit s)" >> "$OUT/$name.txt"
  echo "== $name: exit $rc in $((SECONDS - start)) s$([ $rc -eq 124 ] && echo ", timed out at $limit s")" \
    | tee -a "$OUT/summary.txt"
  [ $rc -eq 0 ] || status=1
}

render() {  # render DEST PYTHON SEQUENCES FRAMES SYNTH_OPTIONS...: one `semdepth synth` per sequence, in parallel
  local dest="$1" py="$2" sequences="$3" frames="$4" pids=() i
  shift 4
  rm -rf "$dest" "$dest.parts"
  for ((i = 0; i < sequences; i++)); do
    "$py" -m semdepth_training synth --out "$dest.parts/$i" --frames "$frames" --seed $((100 + i)) "$@" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || return 1; done
  mkdir -p "$dest"
  for ((i = 0; i < sequences; i++)); do mv "$dest.parts/$i"/seq_* "$dest/seq_$(printf %04d "$i")"; done
  rm -rf "$dest.parts"
}

figures() {  # figures NAME COMMAND: after the steps, COMMAND's output goes into summary.txt under NAME
  FIGURES+=("$1|$2")
}

step env 60 "$PY" -c '
import sys, torch
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)
print("gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
      "count", torch.cuda.device_count(), "bf16", torch.cuda.is_available() and torch.cuda.is_bf16_supported())
try:
    import onnxruntime; print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
except ImportError:
    print("onnxruntime not installed")
for name in ("tensorboard", "matplotlib", "torchvision", "rclpy", "rosbags"):  # no check needs the last two
    try:
        __import__(name); print(name, "importable")
    except ImportError:
        print(name, "absent")
'
figures env "cat '$OUT/env.txt'"

if [ "$DEVICE" = cuda ]; then
  TESTS=(-k "cuda or captured")
  BENCH=(--arch r50 r18 --batches 1 8 --iters 50 --warmup 5)
  NETWORK=(--device cuda --archs 50 18 --batches 1 8 --iters 20 --warmup 5)
  [ $QUICK -eq 1 ] && BENCH=(--arch r18 --batches 1 8 --iters 10 --warmup 3)
else  # every test of these files: the CUDA ones skip themselves
  TESTS=()
  BENCH=(--arch r18 --height 64 --width 192 --image-height 120 --image-width 400 --batches 1 2 --iters 2 --warmup 1)
  NETWORK=(--device cpu --quick)
fi

if wants inference; then
  step inference_tests 180 "$PY" -m pytest -q -p no:cacheprovider test/test_engine.py test/test_fast_model.py \
    test/test_predictor.py "${TESTS[@]}"
  figures inference_tests "tail -n 1 '$OUT/inference_tests.txt'"
  step bench 200 "$PY" -m semdepth_ros.cli.main bench --device "$DEVICE" "${BENCH[@]}" \
    --json "$OUT/bench.json" --png "$OUT/bench.png"
  figures bench "sed -n '/^device: /,\$p' '$OUT/bench.txt'"
fi

if wants network; then
  step bench_network 150 "$PY" scripts/bench_network.py "${NETWORK[@]}" --png "$OUT/bench_network.png"
  figures bench_network "grep -v 'it/s\\]\\|s/it\\]' '$OUT/bench_network.txt' | tail -n 30"
fi

if wants training; then
  if [ $QUICK -eq 1 ]; then
    SEQUENCES=2; FRAMES=6; SIZE=(--height 96 --width 320); TRAIN=(--quick)
  else
    SEQUENCES=6; FRAMES=10; SIZE=(--height 375 --width 1242)  # KITTI's size; 48 targets, repeated as needed
    TRAIN=(--warmup 8 --steps 25 --batch 12 --workers 12)
  fi
  [ "${COMPILE:-0}" = 1 ] && TRAIN+=(--compile)
  [ -n "${MONODEPTH2:-}" ] && TRAIN+=(--reference "$MONODEPTH2" --reference-python "${REFERENCE_PYTHON:-$PY}")
  [ "$DEVICE" = cuda ] && step training_tests 120 "$PY" -m pytest -q -p no:cacheprovider test/test_train_speed.py -k cuda
  [ "$DEVICE" = cuda ] && figures training_tests "tail -n 1 '$OUT/training_tests.txt'"

  step render 120 render "$OUT/synth" "$PY" "$SEQUENCES" "$FRAMES" "${SIZE[@]}"
  step bench_training 240 "$PY" scripts/bench_training.py --frames "$OUT/synth" --out "$OUT/training" \
    --device "$DEVICE" "${TRAIN[@]}"
  figures bench_training "cat '$OUT/training/bench_training.txt'"
fi

if wants distributed; then
  if [ $QUICK -eq 1 ]; then
    DDP=(--batch 2 --steps 12 --height 64 --width 192 --sequences 1 --frames 8 --workers 1)
  else
    DDP=(--batch 8 --steps 30 --sequences 2 --frames 40 --workers 5)  # 192x640; steps 11-30 timed
  fi
  rm -rf "$OUT/distributed"
  step distributed 200 "$PY" scripts/bench_distributed.py --device "$DEVICE" --processes 2 --out "$OUT/distributed" "${DDP[@]}"
  figures distributed "grep 'images/s' '$OUT/distributed.txt'"
fi

if wants regime && [ -n "$PACK" ]; then
  REGIME=(--seconds "${REGIME_SECONDS:-60}" --val-every 100)
  [ $QUICK -eq 1 ] && REGIME=(--seconds "${REGIME_SECONDS:-10}" --val-every 5 --height 64 --width 192 --batch 2 --workers 1)
  [ "$CROP" != none ] && REGIME+=(--crop "$CROP")
  step regime 240 "$PY" scripts/regime_gpu_check.py --out "$OUT/regime" --device "$DEVICE" \
    --train "$PACK/train" --val "$PACK/val" "${REGIME[@]}"
  figures regime "sed -n '/^variant /,\$p' '$OUT/regime.txt'"
elif wants regime; then
  echo "== regime: not run (no --regime-pack)" | tee -a "$OUT/summary.txt"
fi

echo "== all steps $([ $status -eq 0 ] && echo passed || echo 'did not all pass') in $SECONDS s; logs in $OUT" \
  | tee -a "$OUT/summary.txt"
for entry in "${FIGURES[@]}"; do
  { echo; echo "## ${entry%%|*}"; bash -c "${entry#*|}" 2>&1; } >> "$OUT/summary.txt"
done
exit $status
