"""`glam train` with the Symbolic-PPO agent: the same run directory, resume, evaluation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from glam_apps.runs.rundir import read_jsonl

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI

TINY_SYMBOLIC = (
    "run.num_envs=2",
    "run.eval_every=32",
    "run.eval_episodes=4",
    "run.eval_num_envs=2",
    "run.checkpoint_every=16",
    "env.max_steps=12",
    "ppo.num_steps=8",
    "ppo.minibatch_size=8",
    "ppo.num_epochs=1",
    "symbolic.conv_channels=8",
    "symbolic.num_film_layers=1",
)


def _args(*extra: str) -> list[str]:
    args = ["--config", "symbolic_ppo", "--no-progress"]
    for item in (*TINY_SYMBOLIC, *extra):
        args += ["--set", item]
    return args


def test_symbolic_ppo_trains_resumes_and_evaluates(tmp_path: Path, glam: Callable) -> None:
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    result = glam("train", *_args("run.total_steps=64"), "--run-dir", str(straight))
    assert result.code == 0, result.stderr
    assert (straight / "checkpoints" / "final" / "symbolic_policy.safetensors").is_file()
    assert [r["global_step"] for r in read_jsonl(straight / "metrics.jsonl")] == [16, 32, 48, 64]

    result = glam("train", *_args("run.total_steps=32"), "--run-dir", str(stopped))
    assert result.code == 0, result.stderr
    result = glam("train", "--resume", str(stopped), "--set", "run.total_steps=64", "--no-progress")
    assert result.code == 0, result.stderr
    a = load_file(straight / "checkpoints" / "final" / "symbolic_policy.safetensors")
    b = load_file(stopped / "checkpoints" / "final" / "symbolic_policy.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    result = glam("evaluate", str(straight), "--suite", "paper", "--episodes", "1",
                  "--out", str(tmp_path / "paper"))  # fmt: skip
    assert result.code == 0, result.stderr
    assert "not played: goal: I would like, goal: you have to" in result.stderr
    (report,) = (tmp_path / "paper").glob("*.json")
    data = json.loads(report.read_text())
    names = [r["name"] for r in data["results"]]
    # The goal phrasings change only the prompt, which the symbolic agent never reads.
    assert data["metadata"]["not_applicable"] == ["goal: I would like", "goal: you have to"]
    assert "invented nouns" in names and "French" in names and "goal: you have to" not in names

    for agent in (straight, straight / "checkpoints" / "final"):
        result = glam("evaluate", str(agent), "--suite", "level", "--episodes", "3",
                      "--out", str(tmp_path / "eval"))  # fmt: skip
        assert result.code == 0, result.stderr
        assert "GoToLocal" in result.stdout
    # A run's final policy is its saved folder, as for an LLM run (not the periodic state).
    result = glam("evaluate", str(straight), "--checkpoint", "final", "--suite", "level",
                  "--episodes", "3", "--out", str(tmp_path / "final"))  # fmt: skip
    assert result.code == 0, result.stderr
    assert "(final)" in result.stdout


def test_symbolic_ppo_needs_symbolic_observations(glam: Callable, tmp_path: Path) -> None:
    result = glam("train", *_args("env.observation=text"), "--run-dir", str(tmp_path / "r"))
    assert result.code == 2
    assert "env.observation: both" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()
