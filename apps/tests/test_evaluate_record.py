"""``glam evaluate --record N``: transcripts of each test's first episodes beside the reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glam_apps.errors import UserError
from glam_apps.evaluation.evaluate import evaluate


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


def test_record_keeps_the_first_episodes_of_every_test(tmp_path: Path) -> None:
    report, _ = evaluate(
        "bot", suite="quick", episodes=3, num_envs=2, record=2, output_dir=tmp_path
    )
    folder = Path(report.metadata["transcripts"])
    assert folder == tmp_path / "quick-sampled-seed0-transcripts"
    saved = json.loads((tmp_path / "quick-sampled-seed0.json").read_text())
    tests = [result for result in saved["results"] if result["group"] == "test"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(_slug(t["name"]) for t in tests)
    for result in tests:
        test_dir = folder / _slug(result["name"])
        summary = json.loads((test_dir / "summary.json").read_text())
        assert summary["test"] == result["name"]
        assert [e["seed"] for e in summary["episodes"]] == [0, 1]
        for recorded, outcome in zip(summary["episodes"], result["outcomes"][:2], strict=True):
            # The bot is scripted: its transcript is the evaluated episode itself.
            assert recorded["seed"] == outcome["seed"]
            assert recorded["return"] == pytest.approx(outcome["return"])
            assert recorded["steps"] == outcome["length"]
        steps = [json.loads(line) for line in (test_dir / "episode-001.jsonl").open()]
        assert steps[-1]["done"] and not any(step["done"] for step in steps[:-1])
        assert {"goal", "observation", "actions", "probabilities", "reward"} <= set(steps[0])


def test_record_needs_a_folder_and_a_count(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="give --out"):
        evaluate("bot", suite="level", level="GoToLocal", episodes=1, record=1)
    with pytest.raises(UserError, match="record must be >= 0"):
        evaluate(
            "bot", suite="level", level="GoToLocal", episodes=1, record=-1, output_dir=tmp_path
        )


def test_an_unknown_checkpoint_kind_is_refused_for_every_agent(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown checkpoint 'newest'; choose auto, final"):
        evaluate("bot", suite="level", level="GoToLocal", episodes=1, checkpoint="newest",
                 output_dir=tmp_path)  # fmt: skip
    assert not any(tmp_path.iterdir())  # refused before anything was written
