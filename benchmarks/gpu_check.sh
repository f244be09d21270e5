#!/usr/bin/env bash
# Issue 29's GPU check, one script under 10 minutes on one GPU: see benchmarks/gpu_check.py for the protocol.
#
#   bash benchmarks/gpu_check.sh                    # writes benchmarks/results/gpu_check.json
#   GPU_CHECK_DRY=1 GPU_CHECK_OUT=/tmp/dry.json bash benchmarks/gpu_check.sh   # tiny, on the CPU: a trial run
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-../.venv/bin/python}
[[ -x $PYTHON ]] || PYTHON=python3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
export WANDB_MODE=offline PYTHONUNBUFFERED=1
exec timeout 570 "$PYTHON" gpu_check.py
