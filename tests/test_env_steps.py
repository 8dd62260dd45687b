"""Every env step `glam train` counts is a real transition (the paper's x-axis)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from glam_apps.runs.rundir import read_jsonl


def test_counted_steps_are_transitions(
    tmp_path: Path, tiny_args: Callable[..., list[str]], glam: Callable
) -> None:
    # 6-step episodes, 2 envs x 4 steps per update: episodes end inside rollouts. With
    # Gymnasium's NEXT_STEP autoreset each end would cost a no-op row that is counted
    # but not learned from; training envs reset within the step, so none is.
    run = tmp_path / "run"
    result = glam(
        "train",
        *tiny_args("run.checkpoint_every=null"),
        "--steps",
        "64",
        "--run-dir",
        str(run),
        "--no-progress",
    )
    assert result.code == 0, result.stderr
    assert f"glam evaluate {run} --suite paper" in result.stderr  # what to do next
    records = read_jsonl(run / "metrics.jsonl")
    assert sum(r["episodes"] for r in records) >= 8  # episodes did end mid-rollout
    assert [r["batch_size"] for r in records] == [8.0] * len(records)
    assert records[-1]["global_step"] == 64
