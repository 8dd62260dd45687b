"""benchmarks/baselines_table.py turns run directories' final reports into one table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines_table.py"


def _run(root: Path, success: float) -> Path:
    results = [
        {"name": "no change", "success_rate": success},
        {"name": "random baseline", "success_rate": 0.25},
    ]
    report = {"episodes_per_test": 4, "seed": 7, "actions": "sampled",
              "metadata": {"env_steps": 64}, "results": results}  # fmt: skip
    (root / "eval").mkdir(parents=True)
    (root / "eval" / "final.json").write_text(json.dumps(report))
    return root


def test_the_table_has_every_seed_the_mean_and_the_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("baselines_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a, b = _run(tmp_path / "a", 0.5), _run(tmp_path / "b", 1.0)
    module.main(["--agent", f"mine={a},{b}"])
    table = capsys.readouterr().out
    assert "| mine | 0.500 / 1.000 | 0.750 | 4 episodes from seed 7, sampled" in table
    assert "| random (same seeds, no learning) | 0.250 | 0.250 | same |" in table
