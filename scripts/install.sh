#!/usr/bin/env bash
# Install semdepth_ros and everything it needs into ./.venv (no ROS install required).
# torch is installed first and pinned to the CPU build this machine's registry serves; with it present,
# the package's `torch>=2.1` requirement pulls nothing more (no CUDA wheels). On a GPU machine, install
# your CUDA torch first and set SEMDEPTH_TORCH="" to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
TORCH_SPEC=${SEMDEPTH_TORCH-torch==2.13.0}
if [ -n "$TORCH_SPEC" ]; then
  "$VENV/bin/python" -m pip install -q "$TORCH_SPEC"
fi
"$VENV/bin/python" -m pip install -q -e ".[all]"
echo "installed into $VENV: activate with 'source $VENV/bin/activate'"
