"""The README's Stable-Baselines3 example runs as written (one rollout instead of 200k steps).

The code is read from the README, so the documented snippet cannot drift from
what works.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BUDGET = re.compile(r"total_timesteps=[\d_]+")


def _symbolic_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Symbolic observations", 1)
    assert len(section) == 2, "the README lost its 'Symbolic observations' section"
    body = section[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, re.S)
    assert len(blocks) == 1, "the section must hold exactly one python block"
    return blocks[0]


@pytest.mark.slow
def test_sb3_example_runs() -> None:
    pytest.importorskip("stable_baselines3")
    code = _symbolic_example()
    assert 'PPO("MultiInputPolicy", env' in code
    assert len(code.strip().splitlines()) <= 12
    assert len(BUDGET.findall(code)) == 1, "the example must say total_timesteps= once"
    quick = BUDGET.sub("total_timesteps=1024", code)  # 8 envs x 128 steps: one rollout
    namespace: dict[str, object] = {}
    exec(compile(quick, str(README), "exec"), namespace)
    actions = np.asarray(namespace["actions"])
    assert actions.shape == (8,)
    assert ((actions >= 0) & (actions < 6)).all()
    assert namespace["model"].num_timesteps == 1024  # type: ignore[attr-defined]
