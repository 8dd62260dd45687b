"""A failing test never loses the finished ones; NPAE plays the renamed-action tests."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from glam_apps.errors import UserError
from glam_apps.evaluation.agents import RandomAgent
from glam_apps.evaluation.evaluate import LoadedAgent, evaluate_agent, suite_tests
from glam_env import BabyAITextConfig

QUICK = ("--suite", "quick", "--level", "GoToRedBallNoDists", "--episodes", "2")
PAPER_ACTIONS = ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"]


def fail_on_renamed_actions(
    monkeypatch: pytest.MonkeyPatch, error: type[BaseException] = RuntimeError
) -> None:
    """The random agent raises ``error`` in the synonym-actions test, and only there."""
    act = RandomAgent.act

    def act_or_fail(
        self: RandomAgent, slots: Sequence[int], observations: Sequence[dict[str, Any]]
    ) -> list[int]:
        if any("rotate left" in obs["admissible_actions"] for obs in observations):
            raise error("boom [at step 0]")
        return act(self, slots, observations)

    monkeypatch.setattr(RandomAgent, "act", act_or_fail)


def test_a_failed_test_is_reported_and_the_others_are_kept(
    run_glam: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail_on_renamed_actions(monkeypatch)
    code, out, err = run_glam("evaluate", "random", *QUICK, "--out", str(tmp_path))
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "test 'synonym actions' failed: RuntimeError: boom [at step 0]" in lines
    assert lines[-1].startswith("error: 1 test(s) failed: 'synonym actions'")
    assert str(tmp_path / "quick-sampled-seed0.json") in lines[-1]
    data = json.loads((tmp_path / "quick-sampled-seed0.json").read_text())
    assert [r["name"] for r in data["results"]] == ["no change", "invented words", "new objects"]
    assert data["failed"] == [
        {
            "name": "synonym actions",
            "level": "GoToRedBallNoDists",
            "error": "RuntimeError: boom [at step 0]",
        }
    ]
    assert data["complete"] is True and data["pending"] == []
    markdown = (tmp_path / "quick-sampled-seed0.md").read_text()
    assert "| synonym actions | GoToRedBallNoDists | failed |" in markdown
    assert "- Failed: synonym actions (GoToRedBallNoDists): RuntimeError: boom" in markdown
    assert "failed" in out  # the table on screen marks it too


def test_with_debug_the_failed_test_has_its_traceback(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    fail_on_renamed_actions(monkeypatch)
    caplog.set_level(logging.DEBUG, logger="glam_apps.evaluation.evaluate")
    from glam_apps.cli import main

    with pytest.raises(UserError, match="1 test\\(s\\) failed: 'synonym actions'"):
        main(["--debug", "evaluate", "random", *QUICK, "--out", str(tmp_path)])
    traced = [r for r in caplog.records if r.exc_info is not None]
    assert len(traced) == 1 and "synonym actions" in traced[0].getMessage()
    assert isinstance(traced[0].exc_info[1], RuntimeError)
    assert (tmp_path / "quick-sampled-seed0.json").is_file()  # written before the error


def test_a_stop_mid_suite_keeps_the_finished_tests(
    run_glam: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail_on_renamed_actions(monkeypatch, KeyboardInterrupt)  # Ctrl-C in the third test
    code, _, err = run_glam("evaluate", "random", *QUICK, "--out", str(tmp_path))
    assert code == 130, err
    data = json.loads((tmp_path / "quick-sampled-seed0.json").read_text())
    assert [r["name"] for r in data["results"]] == ["no change", "invented words"]
    assert data["complete"] is False and data["pending"] == ["synonym actions", "new objects"]
    markdown = (tmp_path / "quick-sampled-seed0.md").read_text()
    assert "Incomplete: not run yet: synonym actions, new objects." in markdown
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_without_keep_going_a_failure_still_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training's own evaluations (one test) keep failing loudly."""
    fail_on_renamed_actions(monkeypatch)
    loaded = LoadedAgent(RandomAgent(0), "random", BabyAITextConfig())
    with pytest.raises(RuntimeError, match="boom"):
        evaluate_agent(loaded, suite="quick", level="GoToRedBallNoDists", episodes=1)
    progress: list[list[str]] = []
    report = evaluate_agent(
        loaded,
        suite="quick",
        level="GoToRedBallNoDists",
        episodes=1,
        keep_going=True,
        on_progress=lambda partial: progress.append(partial.pending),
    )
    assert [f.name for f in report.failures] == ["synonym actions"]
    assert progress == [
        ["invented words", "synonym actions", "new objects"],
        ["synonym actions", "new objects"],
        ["new objects"],
        [],
    ]


@pytest.fixture(scope="module")
def npae_policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved NPAE policy: a nano GPT-2 with random weights and six action heads."""
    from glam_policy import LLMPolicy, make_tiny_model_dir

    root = tmp_path_factory.mktemp("npae")
    model = make_tiny_model_dir(root / "model", kind="decoder", size="nano", seed=0)
    policy = LLMPolicy.from_config(
        {
            "model": str(model),
            "pretrained": False,
            "head": "action_heads",
            "actions": PAPER_ACTIONS,
            "action_head_hidden_sizes": [16],
            "value_hidden_sizes": [16],
            "device": "cpu",
        }
    )
    return policy.save_pretrained(root / "policy")


def test_npae_plays_every_test_of_the_paper_suite(
    run_glam: Callable[..., tuple[int, str, str]], npae_policy_dir: Path, tmp_path: Path
) -> None:
    """Synonym actions and French rename the actions: the heads read them by position."""
    code, _, err = run_glam(
        "evaluate", str(npae_policy_dir), "--suite", "paper",
        "--level", "GoToRedBallNoDists", "--episodes", "1", "--num-envs", "1",
        "--env-set", "max_steps=3", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    data = json.loads((tmp_path / "paper-sampled-seed0.json").read_text())
    assert data["failed"] == [] and data["complete"] is True
    names = [r["name"] for r in data["results"]]
    assert names == [t.name for t in suite_tests("paper", "GoToRedBallNoDists")]
    assert "synonym actions" in names and "French" in names
    assert all(r["episodes"] == 1 and r["mean_length"] > 0 for r in data["results"])


def test_an_unknown_level_is_one_short_line_with_close_matches(
    run_glam: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    code, _, err = run_glam(
        "evaluate", "random", "--suite", "level", "--level", "PickupLocal", "--out", str(tmp_path)
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "Did you mean" in err and "list_levels()" in err
    assert "pydantic.dev" not in err and len(err) < 700
