#!/usr/bin/env bash
# CleanRL's own environment for the CartPole benchmark's CleanRL row.
#
# CleanRL is never a dependency of glam: its ppo.py runs here, in a separate venv
# (git-ignored through `.venv-*/`), with the versions its release pins: CleanRL 1.2.0
# (the last one on PyPI) and gym 0.23.1, whose old step API its ppo.py uses. Its
# wheel declares Python < 3.11 although ppo.py runs on 3.11 unchanged, so it is
# installed without that check and without its unrelated extras (wandb, moviepy,
# SB3 1.2, ...); ppo.py imports only gym (whose CartPole imports pygame), numpy,
# torch and tensorboard.
#
#     bash benchmarks/cleanrl_env.sh            # creates .venv-cleanrl
#     CLEANRL_VENV=/elsewhere bash benchmarks/cleanrl_env.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLEANRL_VENV:-$ROOT/.venv-cleanrl}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$TORCH_SPEC" "gym==0.23.1" "numpy<2" \
    "tensorboard>=2.10,<3" pygame setuptools
"$VENV/bin/python" -m pip install --quiet --no-deps --ignore-requires-python "cleanrl==1.2.0"
"$VENV/bin/python" - <<'EOF'
import importlib.util, sys
import gym, numpy, torch
spec = importlib.util.find_spec("cleanrl.ppo")
if spec is None:
    sys.exit("cleanrl.ppo not importable")
print(f"CleanRL env ready: gym {gym.__version__}, numpy {numpy.__version__}, torch {torch.__version__}")
EOF
