"""Checkpointing does not change training: `glam train` saves the episodes in progress.

Three tiny runs of 4 updates whose 6-step episodes cross update boundaries: one
checkpoints only at its end, one after every update, one stops after 2 updates
(a checkpoint the first never wrote) and is resumed. All three end with the same
weights, metrics and evaluations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from glam_apps.runs.rundir import read_jsonl

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI

TIMING = ("rollout_seconds", "update_seconds", "steps_per_second")


def _weights(run: Path) -> dict[str, torch.Tensor]:
    final = run / "checkpoints" / "final"
    return {
        **load_file(final / "heads.safetensors"),
        **{f"lm/{k}": v for k, v in load_file(final / "lm" / "model.safetensors").items()},
    }


def _metrics(run: Path) -> list[dict[str, float]]:
    return [
        {k: v for k, v in record.items() if k not in TIMING}
        for record in read_jsonl(run / "metrics.jsonl")
    ]


def test_checkpoint_schedule_and_stops_do_not_change_training(
    tmp_path: Path, tiny_args: Callable[..., list[str]], glam: Callable
) -> None:
    def train(run: str, *overrides: str) -> None:
        args = tiny_args("run.total_steps=32", *overrides)
        result = glam("train", "--no-progress", "--run-dir", str(tmp_path / run), *args)
        assert result.code == 0, result.stderr

    train("end_only", "run.checkpoint_every=32")
    train("every_update", "run.checkpoint_every=8")
    train("stopped", "run.checkpoint_every=32", "run.total_steps=16")
    result = glam("train", "--no-progress", "--resume", str(tmp_path / "stopped"),
                  "--set", "run.total_steps=32")  # fmt: skip
    assert result.code == 0, result.stderr

    runs = {name: tmp_path / name for name in ("end_only", "every_update", "stopped")}
    reference = _weights(runs["end_only"])
    for name in ("every_update", "stopped"):
        weights = _weights(runs[name])
        assert weights.keys() == reference.keys()
        for key in reference:
            assert torch.equal(weights[key], reference[key]), (name, key)
        assert _metrics(runs[name]) == _metrics(runs["end_only"]), name
    episodes = sum(record["episodes"] for record in _metrics(runs["end_only"]))
    assert episodes >= 4  # episodes did end, some of them across updates (6 steps, 4 per update)
    periodic = runs["every_update"] / "checkpoints" / "periodic"
    latest = periodic / (periodic / "latest").read_text().strip()
    state = json.loads((latest / "rank0.json").read_text())
    assert len(state["episodes"]["envs"]) == 2  # the running episodes are in the checkpoint
