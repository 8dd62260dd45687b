#!/usr/bin/env bash
# Thin wrapper: run benchmarks/gpu_check.py from the repository root with the
# project's .venv (after `make setup`) or, without one, with python3 and whatever
# PYTHONPATH provides (see gpu_machine.sh). Arguments go to the script, e.g.
#   benchmarks/gpu_check.sh                      # the GPU check, default settings
#   benchmarks/gpu_check.sh --size tiny --updates 1 --num-envs 2 --steps 4 --minibatch 4
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [[ -x .venv/bin/python && -z "${GLAM_NO_VENV:-}" ]]; then
    PYTHON=.venv/bin/python
fi
exec "$PYTHON" benchmarks/gpu_check.py "$@"
