"""The kill-and-resume soak script (apps/benchmarks/kill_resume_soak.py) runs end to end.

A smoke test of the script, not the soak: one kill of a two-update run. The soak
itself and its measured table are in docs/crash-safety.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI

SCRIPT = Path(__file__).resolve().parents[1] / "apps" / "benchmarks" / "kill_resume_soak.py"


def test_one_kill_and_resume_ends_identical_to_the_reference(tmp_path: Path) -> None:
    out = tmp_path / "soak"
    command = [sys.executable, str(SCRIPT), "--kills", "1", "--updates", "2", "--eval-every", "1"]
    command += ["--seed", "0", "--early-fraction", "0", "--kill-resumes", "0", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "soak.json").read_text())
    summary = report["summary"]
    assert (summary["kills"], summary["identical"], summary["failed"]) == (1, 1, 0)
    (kill,) = report["kills"]
    assert kill["ok"] and kill["result"] == "identical"
    assert kill["attempts"][0]["kind"] == "train"
    if len(kill["attempts"]) > 1:  # unless the kill came after the run had finished
        assert kill["attempts"][-1]["code"] == 0  # the last process finished the run
    markdown = (out / "soak.md").read_text()
    assert "| # | killed at | landed |" in markdown and summary["line"] in markdown
    assert summary["line"] in result.stdout
    assert not (out / "runs" / "kill_001").exists()  # identical runs are not kept
