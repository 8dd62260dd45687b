"""The README's usage example runs (with fewer steps)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_usage_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    usage = text.split("## Usage", 1)[1]
    code = re.search(r"```python\n(.*?)```", usage, re.DOTALL)
    assert code is not None
    source = code.group(1)
    assert "total_steps=50_000" in source
    monkeypatch.chdir(tmp_path)
    exec(compile(source.replace("50_000", "2_048"), str(README), "exec"), {})
    lines = (tmp_path / "runs" / "cartpole" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 8
