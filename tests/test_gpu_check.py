"""benchmarks/gpu_check.py runs end to end on a CPU at the tiniest size.

The GPU check is a script the lead runs on a GPU machine; this test makes sure it
still works (model build, the paper config with every mode's overrides, a worker
process per mode, torchrun for the FSDP mode, the table and JSON) before a GPU is
spent on it. It times nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
MODES = ("fp32", "auto", "fsdp")


@pytest.mark.slow
def test_gpu_check_tiny_cpu_run_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable,
        str(SCRIPT),
        "--size=tiny",
        "--updates=2",
        "--num-envs=2",
        "--steps=4",
        "--minibatch=4",
        "--eval-episodes=2",
        "--scoring-prompts=4",
        "--scoring-repeats=1",
        "--corpus-episodes=3",
        "--vocab-size=400",
        "--set=env.max_steps=6",
        "--set=policy.value_hidden_sizes=[8]",
        "--set=ppo.num_epochs=1",
        f"--modes={','.join(MODES)}",
        "--nproc=2",
        "--threads=1",
        "--strict",
        f"--out={out}",
        f"--work-dir={tmp_path / 'work'}",
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    logs = "".join(
        f"\n--- {path.name}\n{path.read_text()[-3000:]}" for path in (out / "logs").glob("*.log")
    )
    assert completed.returncode == 0, completed.stderr[-3000:] + logs

    table = (out / "gpu_check.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[1:-1]]
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| mode")
    }
    assert list(rows) == list(MODES)
    header = [c.strip() for c in table.split("| mode")[1].splitlines()[0].split("|")[:-1]]
    columns = ["mode", *header[1:]]
    for mode, cells in rows.items():
        row = dict(zip(columns, cells, strict=True))
        assert row["status"] == "ok", row
        assert float(row["env steps/s"]) > 0
        assert row["rollout s"] != "-" and row["update s"] != "-"
        assert row["ranks"] == ("2" if mode == "fsdp" else "1")
        assert row["peak GPU memory"] == "-"  # no CUDA here
        if mode == "fsdp":
            assert row["scoring pairs/s"] == "-"  # scored in the single-process modes only
        else:
            assert float(row["scoring pairs/s"]) > 0
    assert table in completed.stdout

    report = json.loads((out / "gpu_check.json").read_text(encoding="utf-8"))
    assert report["model"]["parameters"] > 0
    by_mode = {r["mode"]: r for r in report["results"]}
    for mode in MODES:
        result = by_mode[mode]
        assert len(result["metrics"]) == 2 and result["updates_measured"] == 1
        assert result["rollout_seconds"] > 0 and result["update_seconds"] > 0
        assert result["steps_per_second"] == result["metrics"][1]["steps_per_second"]
        ranks = result["ranks_raw"]
        assert [r["rank"] for r in ranks] == list(range(result["ranks"]))
        assert all(r["status"] == "finished" and r["env_steps"] == 16 for r in ranks)
    assert by_mode["fp32"]["ranks_raw"][0]["scoring"]["pairs"] == 4 * 6
    assert not (tmp_path / "work").exists()  # model and runs are cleaned up
