"""``glam watch``: agents shown step by step, recorded as JSONL and GIF, on every game."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from glam_apps.evaluation.agents import PolicyAgent, RandomAgent
from glam_apps.evaluation.evaluate import load_agent, run_episodes
from glam_apps.watching.decisions import Decision
from glam_apps.watching.recording import record_transcripts
from glam_apps.watching.session import watch
from glam_env import BabyAITextConfig

RunGlam = Callable[..., tuple[int, str, str]]
LEVEL = ["--level", "GoToRedBallNoDists"]
KEYS = {"prompt", "actions", "probabilities", "action", "value", "reward", "done", "grid", "goal"}


@pytest.fixture(scope="module")
def saved_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nano LLM policy with random weights and a value head, saved as a run saves one."""
    from glam_policy import LLMPolicy, make_tiny_model_dir

    root = tmp_path_factory.mktemp("watch-policy")
    model = make_tiny_model_dir(root / "model", kind="decoder", size="nano", seed=0)
    policy = LLMPolicy.from_config(
        {"model": str(model), "value_hidden_sizes": [8], "device": "cpu"}
    )
    return policy.save_pretrained(root / "policy")


def _transcript(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_transcript(lines: list[dict], summary: dict) -> None:
    """Keys, probabilities, ``done`` only at the end, rewards adding up to the return."""
    assert lines and all(set(line) >= KEYS for line in lines)
    for step, line in enumerate(lines):
        assert line["step"] == step
        assert len(line["probabilities"]) == len(line["actions"])
        assert math.isclose(sum(line["probabilities"]), 1.0, abs_tol=1e-5)
        assert line["action_text"] == line["actions"][line["action"]]
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    total = sum(line["reward"] for line in lines)
    assert math.isclose(total, lines[-1]["return"], abs_tol=1e-9)
    assert math.isclose(total, summary["return"], abs_tol=1e-9)
    assert summary["steps"] == len(lines)
    assert summary["success"] == lines[-1]["success"]


def _gif_frames(path: Path) -> int:
    with Image.open(path) as image:
        return image.n_frames


def _one_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ---------------------------------------------------------------------- terminal


def test_watch_the_bot_in_the_terminal(run_glam: RunGlam) -> None:
    code, out, err = run_glam("watch", "bot", *LEVEL, "--episodes", "2", "--top", "3")
    assert code == 0, err
    assert "episode 1/2 (seed 0) on GoToRedBallNoDists" in out
    assert "episode 2/2 (seed 1) on GoToRedBallNoDists" in out
    assert "goal: go to the red ball" in out
    assert "WGWGWGWGWGWGWGWG" in out  # the level's grid
    assert "observation: You see" in out
    assert re.search(r"^> 1\.00  go forward$", out, re.MULTILINE)  # the bot's one choice
    assert "value -" in out  # a scripted agent has no value
    assert out.count("success in") == 2
    assert "2 episode(s), 2 success(es)" in out
    # Redirected output: plain lines, no colour codes, within 80 columns.
    assert "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "bot on GoToRedBallNoDists" in err


def test_watch_a_policy_shows_probabilities_and_value(
    run_glam: RunGlam, saved_policy: Path
) -> None:
    args = ["watch", str(saved_policy), *LEVEL, "--env-set", "max_steps=3", "--top", "6"]
    code, out, err = run_glam(*args)
    assert code == 0, err
    values = re.findall(r"^value (-?\d+\.\d\d)   reward", out, re.MULTILINE)
    assert len(values) == 3  # three steps, each with the value head's estimate
    shown = re.findall(r"^[> ] (\d\.\d\d)  ", out, re.MULTILINE)
    assert len(shown) == 3 * 6
    assert math.isclose(sum(float(p) for p in shown[:6]), 1.0, abs_tol=0.03)
    assert len(re.findall(r"^> ", out, re.MULTILINE)) == 3


# ---------------------------------------------------------------------- recording


def test_record_writes_jsonl_and_gif_per_episode(run_glam: RunGlam, tmp_path: Path) -> None:
    target = tmp_path / "rec"
    args = ["watch", "random", *LEVEL, "--episodes", "2", "--seed", "5"]
    code, _, err = run_glam(*args, "--env-set", "max_steps=6", "--record", str(target))
    assert code == 0, err
    summary = json.loads((target / "summary.json").read_text())
    assert summary["agent"] == "random" and summary["game"] == "GoToRedBallNoDists"
    assert [e["seed"] for e in summary["episodes"]] == [5, 6]
    total_frames = 0
    for number, episode in enumerate(summary["episodes"], start=1):
        lines = _transcript(target / f"episode-{number:03d}.jsonl")
        _check_transcript(lines, episode)
        assert {line["episode"] for line in lines} == {number}
        assert all(line["value"] is None and line["prompt"] is None for line in lines)
        assert all(len(set(line["probabilities"])) == 1 for line in lines)  # uniform
        assert _gif_frames(target / f"episode-{number:03d}.gif") == len(lines) + 1
        total_frames += len(lines) + 1
    assert _gif_frames(target / "episodes.gif") == total_frames
    assert sorted(p.name for p in target.iterdir()) == [
        "episode-001.gif",
        "episode-001.jsonl",
        "episode-002.gif",
        "episode-002.jsonl",
        "episodes.gif",
        "summary.json",
    ]


def test_recorded_policy_has_prompts_values_and_spread(saved_policy: Path, tmp_path: Path) -> None:
    result = watch(
        str(saved_policy),
        level="GoToRedBallNoDists",
        env_overrides=["max_steps=4"],
        record=tmp_path / "rec",
    )
    lines = _transcript(tmp_path / "rec" / "episode-001.jsonl")
    _check_transcript(
        lines, json.loads((tmp_path / "rec" / "summary.json").read_text())["episodes"][0]
    )
    assert len(lines) == result.episodes[0].steps
    for line in lines:
        assert isinstance(line["value"], float)
        assert "go to the red ball" in line["prompt"]
        assert max(line["probabilities"]) < 1.0  # a distribution, not one choice
    assert _gif_frames(tmp_path / "rec" / "episode-001.gif") == len(lines) + 1


class _Spy:
    """An evaluation agent that notes the actions it plays."""

    def __init__(self, agent: Any) -> None:
        self.inner, self.name, self.actions = agent, agent.name, []

    def reseed(self, seed: int) -> None:
        self.inner.reseed(seed)

    def start(self, slot: int, env: Any) -> None:
        self.inner.start(slot, env)

    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        actions = self.inner.act(slots, observations)
        self.actions += actions
        return actions


@pytest.mark.parametrize("agent", ["random", "policy"])
def test_watch_plays_the_episodes_evaluate_plays(agent: str, saved_policy: Path) -> None:
    """Same seeds, one environment: the very actions of the evaluation loop."""
    spec = str(saved_policy) if agent == "policy" else agent
    env = BabyAITextConfig(level="GoToRedBallNoDists", max_steps=20)
    seeds = [9, 10, 11]  # the random agent wins the first in 4 steps, loses the others
    loaded = load_agent(spec, seed=9)
    spy = _Spy(loaded.agent)
    spy.reseed(9)
    if isinstance(loaded.agent, PolicyAgent):
        with loaded.agent.evaluating():
            outcomes = run_episodes(env, spy, seeds, num_envs=1)
    else:
        outcomes = run_episodes(env, spy, seeds, num_envs=1)
    watched: list[int] = []
    result = watch(
        spec,
        level="GoToRedBallNoDists",
        env_overrides=["max_steps=20"],
        seed=9,
        episodes=3,
        on_step=lambda record: watched.append(record.decision.action),
    )
    assert watched == spy.actions and len(set(watched)) > 1
    assert [(o.length, o.episode_return) for o in outcomes] == [
        (e.steps, e.episode_return) for e in result.episodes
    ]


def test_record_transcripts_for_an_evaluation(tmp_path: Path) -> None:
    """The hook for ``glam evaluate --record N``: replaces its own files only."""
    target = tmp_path / "transcripts" / "no-change"
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("kept")
    (target / "episode-009.jsonl").write_text("stale")
    env = BabyAITextConfig(level="GoToRedBallNoDists", max_steps=5)
    written = record_transcripts(RandomAgent(0), env, [10, 11], target)
    names = sorted(p.name for p in target.iterdir())
    assert names == ["episode-001.jsonl", "episode-002.jsonl", "notes.txt", "summary.json"]
    assert {p.name for p in written} == set(names) - {"notes.txt"}
    summary = json.loads((target / "summary.json").read_text())
    assert [e["seed"] for e in summary["episodes"]] == [10, 11]
    for number, episode in enumerate(summary["episodes"], start=1):
        _check_transcript(_transcript(target / f"episode-{number:03d}.jsonl"), episode)


def test_top_keeps_the_chosen_action() -> None:
    decision = Decision(("a", "b", "c"), (0.6, 0.3, 0.1), action=2)
    assert [i for i, _, _ in decision.top(2)] == [0, 2]
    assert [i for i, _, _ in decision.top(5)] == [0, 1, 2]


# ---------------------------------------------------------------------- other games


def test_watch_and_record_tictactoe(run_glam: RunGlam, tmp_path: Path) -> None:
    target = tmp_path / "ttt"
    code, out, err = run_glam("watch", "random", "--game", "tictactoe", "--record", str(target))
    assert code == 0, err
    assert "on BoardGame-Text/TicTacToe-v0" in out
    assert "row 1:" in out and "put an X in row" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    summary = json.loads((target / "summary.json").read_text())
    lines = _transcript(target / "episode-001.jsonl")
    _check_transcript(lines, summary["episodes"][0])
    assert all(line["grid"] is None for line in lines)  # the board is the observation
    assert len(lines[0]["actions"]) == 9 and len(lines[-1]["actions"]) < 9
    assert _gif_frames(target / "episode-001.gif") == len(lines) + 1


@pytest.mark.slow  # may generate the TextWorld game (5-15 s)
def test_watch_textworld_coin_collector(
    run_glam: RunGlam, tmp_path: Path, textworld_cache: None
) -> None:
    target = tmp_path / "coin"
    args = ["watch", "keyword", "--game", "TextWorld/CoinCollector-v0", "--record", str(target)]
    code, out, err = run_glam(*args)
    assert code == 0, err
    assert "on TextWorld/CoinCollector-v0" in out and "goal: " in out
    lines = _transcript(target / "episode-001.jsonl")
    _check_transcript(lines, json.loads((target / "summary.json").read_text())["episodes"][0])
    assert _gif_frames(target / "episode-001.gif") == len(lines) + 1


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["./no-such-agent"], "agent not found: ./no-such-agent"),
        (["random", "--level", "GoToLocl"], "cannot watch level 'GoToLocl'"),
        (["random", "--level", "tictactoe"], "use --game tictactoe"),
        (["random", "--game", "tictactoc"], "unknown game 'tictactoc'; did you mean tictactoe"),
        (["random", "--game", "tictactoe", "--level", "GoToLocal"], "not both"),
        (["bot", "--game", "tictactoe"], "the bot plays BabyAI-Text levels only"),
        (["random", "--game", "tictactoe", "--env-set", "max_steps=3"], "has none"),
        (["random", "--checkpoint", "newest"], "unknown checkpoint 'newest'"),
    ],
)
def test_bad_input_is_one_line(run_glam: RunGlam, args: list[str], message: str) -> None:
    code, _, err = run_glam("watch", *args)
    assert message in _one_error(code, err)


def test_record_refuses_a_file_or_a_non_empty_directory(run_glam: RunGlam, tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    code, _, err = run_glam("watch", "random", *LEVEL, "--record", str(a_file))
    assert "it is a file" in _one_error(code, err)
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.jsonl").write_text("mine")
    code, _, err = run_glam("watch", "random", *LEVEL, "--record", str(full))
    assert "the directory is not empty" in _one_error(code, err)
    assert a_file.read_text() == "mine" and [p.name for p in full.iterdir()] == ["old.jsonl"]
