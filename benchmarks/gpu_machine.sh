#!/usr/bin/env bash
# The GPU check on a bare GPU machine (torch + CUDA, transformers, peft, safetensors,
# tokenizers, numpy, typer, rich, pyyaml, tensorboard installed; no network), from the
# repository root:
#
#   bash benchmarks/gpu_machine.sh [gpu_check.py arguments]
#
# The wheels the machine lacks (pydantic and its parts, gymnasium, minigrid, pygame-ce,
# ...) must be in .whl/ (git-excluded; made with `pip download`, see docs/scaling.md):
# they are unpacked into /tmp/site, and our four packages are used from their source
# folders through PYTHONPATH (nothing is pip-installed from the repository). Results
# go to $OUT (the device tool's output folder) or benchmarks/results.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SITE=${GLAM_SITE:-/tmp/site}
PYTHON=${PYTHON:-python3}
shopt -s nullglob
wheels=("${GLAM_WHEELS:-.whl}"/*.whl)
if ((${#wheels[@]})); then
    if ! "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$SITE" "${wheels[@]}"; then
        echo "pip failed: unpacking the wheels instead" >&2
        for wheel in "${wheels[@]}"; do "$PYTHON" -m zipfile -e "$wheel" "$SITE"; done
    fi
fi
export PYTHONPATH="$SITE:$ROOT/packages/env-babyai-text/src:$ROOT/packages/llm-policy/src:$ROOT/packages/ppo/src:$ROOT/apps/src${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c 'import glam_apps.train, minigrid, pydantic, torch; print("imports ok; torch", torch.__version__, "cuda", torch.cuda.is_available())'
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
fi
exec "$PYTHON" "$ROOT/benchmarks/gpu_check.py" --out "${OUT:-$ROOT/benchmarks/results}" "$@"
