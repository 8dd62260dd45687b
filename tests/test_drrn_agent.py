"""`glam train` with the DRRN agent: the same run directory, resume, evaluation, any game."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from glam_apps.runs.rundir import read_jsonl

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI

TINY_DRRN = (
    "run.num_envs=2",
    "run.eval_every=32",
    "run.eval_episodes=4",
    "run.eval_num_envs=2",
    "run.checkpoint_every=16",
    "run.eval_baselines=[random]",
    "drrn.num_steps=8",
    "drrn.learning_starts=8",
    "drrn.batch_size=8",
    "drrn.embedding_dim=8",
    "drrn.hidden_size=16",
    "drrn.target_update_every=16",
)
WEIGHTS = Path("checkpoints") / "final" / "drrn_policy.safetensors"


def _args(*extra: str) -> list[str]:
    args = ["--config", "drrn", "--no-progress"]
    for item in (*TINY_DRRN, *extra):
        args += ["--set", item]
    return args


def test_drrn_trains_resumes_exactly_and_evaluates(tmp_path: Path, glam: Callable) -> None:
    # A constant epsilon: extending a run then leaves its schedule unchanged (as the PPO
    # tests' constant learning rate does), so the stopped run must end as the straight one.
    level = (
        "env.level=GoToRedBallNoDists",
        "env.max_steps=10",
        "drrn.epsilon_start=0.3",
        "drrn.epsilon_end=0.3",
    )
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    result = glam("train", *_args(*level, "run.total_steps=64"), "--run-dir", str(straight))
    assert result.code == 0, result.stderr
    assert [r["global_step"] for r in read_jsonl(straight / "metrics.jsonl")] == [16, 32, 48, 64]

    result = glam("train", *_args(*level, "run.total_steps=32"), "--run-dir", str(stopped))
    assert result.code == 0, result.stderr
    result = glam("train", "--resume", str(stopped), "--set", "run.total_steps=64", "--no-progress")
    assert result.code == 0, result.stderr
    a, b = load_file(straight / WEIGHTS), load_file(stopped / WEIGHTS)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    for agent in (straight, straight / "checkpoints" / "final"):
        result = glam("evaluate", str(agent), "--suite", "level", "--episodes", "3",
                      "--out", str(tmp_path / "eval"))  # fmt: skip
        assert result.code == 0, result.stderr
        assert "no change" in result.stdout
    # A run's final policy is its saved folder, as for an LLM run (not the periodic state).
    result = glam("evaluate", str(straight), "--checkpoint", "final", "--suite", "level",
                  "--episodes", "3", "--out", str(tmp_path / "final"))  # fmt: skip
    assert result.code == 0, result.stderr
    assert "(final)" in result.stdout


def test_drrn_plays_other_text_games(tmp_path: Path, glam: Callable) -> None:
    game = "game.gym_id=BoardGame-Text/TicTacToe-v0"
    result = glam("train", *_args(game, "run.total_steps=32"), "--run-dir", str(tmp_path / "t"))
    assert result.code == 0, result.stderr
    assert (tmp_path / "t" / WEIGHTS).is_file()


def test_the_run_decides_drrn_s_seed_and_length(glam: Callable, tmp_path: Path) -> None:
    result = glam("train", *_args("drrn.seed=3"), "--run-dir", str(tmp_path / "r"))
    assert result.code == 2
    assert "drrn.seed is managed by run.seed" in result.stderr
    assert not (tmp_path / "r").exists()
