"""`glam train` with behavioural cloning from the bot before PPO (bc.episodes > 0)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from glam_apps.runs.rundir import read_jsonl
from glam_env.demonstrations import read_demonstrations

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI

BC = ("bc.episodes=8", "bc.training.epochs=2", "bc.training.learning_rate=0.001")


def test_bc_then_ppo_writes_its_data_and_starts_ppo_from_the_clone(
    tmp_path: Path, tiny_args: Callable[..., list[str]], glam: Callable
) -> None:
    cloned, plain = tmp_path / "cloned", tmp_path / "plain"
    args = tiny_args("run.total_steps=8", "env.max_steps=12")
    result = glam("train", *args, *[a for s in BC for a in ("--set", s)], "--run-dir", str(cloned),
                  "--no-progress")  # fmt: skip
    assert result.code == 0, result.stderr
    assert "collecting 8 bot demonstrations" in result.stderr
    demonstrations = read_demonstrations(cloned / "demonstrations.jsonl")
    assert demonstrations.header.episodes_played == 8 and demonstrations.steps
    epochs = read_jsonl(cloned / "bc.jsonl")
    assert [e["epoch"] for e in epochs] == [1, 2]
    result = glam("train", *args, "--run-dir", str(plain), "--no-progress")
    assert result.code == 0, result.stderr
    # PPO's first update starts from the cloned policy, not the pretrained one.
    first_cloned = read_jsonl(cloned / "metrics.jsonl")[0]
    first_plain = read_jsonl(plain / "metrics.jsonl")[0]
    assert first_cloned["policy_loss"] != first_plain["policy_loss"]


def test_each_run_seed_clones_its_own_demonstrations_and_way(
    tmp_path: Path, tiny_args: Callable[..., list[str]], glam: Callable
) -> None:
    """Seeds 0 and 1 of a BC run are two samples, not one clone under two names."""
    seen = {}
    for seed in (0, 1):
        out = tmp_path / f"seed-{seed}"
        args = [*tiny_args("env.max_steps=12", f"run.seed={seed}"), "--set", "bc.training.epochs=1"]
        assert glam("clone", "--out", str(out), "--episodes", "3", *args).code == 0
        header = read_demonstrations(out / "demonstrations.jsonl").header
        seen[seed] = (header.seed, (out / "heads.safetensors").read_bytes())
    assert seen[0][0] == 2_000_000 and seen[1][0] == 2_000_003  # bc.seed + run.seed * episodes
    assert seen[0][1] != seen[1][1]  # and the cloned weights differ


def test_bc_needs_the_glam_agent_on_babyai(glam: Callable, tmp_path: Path) -> None:
    result = glam("train", "--config", "tictactoe", "--set", "bc.episodes=4",
                  "--run-dir", str(tmp_path / "r"))  # fmt: skip
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "bc.episodes" in result.stderr


def test_glam_clone_saves_a_policy_that_evaluates_and_continues(
    tmp_path: Path, tiny_args: Callable[..., list[str]], glam: Callable
) -> None:
    out = tmp_path / "cloned"
    args = [*tiny_args("env.max_steps=12"), "--set", "bc.training.epochs=1"]
    result = glam("clone", "--out", str(out), "--episodes", "6", *args)
    assert result.code == 0, result.stderr
    for name in ("policy_config.json", "heads.safetensors", "demonstrations.jsonl", "bc.jsonl"):
        assert (out / name).is_file(), name
    result = glam("evaluate", str(out), "--suite", "level", "--level", "GoToRedBallNoDists",
                  "--episodes", "2", "--out", str(tmp_path / "eval"))  # fmt: skip
    assert result.code == 0, result.stderr
    result = glam("train", *tiny_args("run.total_steps=8", "env.max_steps=12"),
                  "--model", str(out / "lm"), "--run-dir", str(tmp_path / "ppo"),
                  "--no-progress")  # fmt: skip
    assert result.code == 0, result.stderr
    again = glam("clone", "--out", str(out), "--episodes", "6", *args)
    assert again.code == 2 and "already exists" in again.stderr
    none = glam("clone", "--out", str(tmp_path / "none"), *args)
    assert none.code == 2 and "bc.episodes" in none.stderr
    assert not (tmp_path / "none").exists()
