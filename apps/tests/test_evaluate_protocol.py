"""Evaluation over several seeds: the across-seeds statistic, protocols, and the reports."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from glam_apps.errors import UserError
from glam_apps.evaluation.evaluate import PROTOCOLS, resolve_settings
from glam_apps.evaluation.report import EvalResult, EvaluationReport, to_markdown
from glam_apps.evaluation.stats import across_seeds, summarize, t_quantile

# ------------------------------------------------------------------ statistic


@pytest.mark.parametrize(
    ("confidence", "dof", "table"),
    [
        (0.99, 1, 63.657),
        (0.99, 2, 9.925),
        (0.99, 3, 5.841),
        (0.99, 10, 3.169),
        (0.99, 30, 2.750),
        (0.95, 1, 12.706),
        (0.95, 7, 2.365),
    ],
)
def test_t_quantile_matches_the_tables(confidence: float, dof: int, table: float) -> None:
    assert t_quantile(confidence, dof) == pytest.approx(table, abs=1e-3)


def test_t_quantile_tends_to_the_normal_one_and_rejects_nonsense() -> None:
    assert t_quantile(0.99, 5000) == pytest.approx(2.5758, abs=2e-3)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0.99, 0)
    with pytest.raises(ValueError, match="confidence"):
        t_quantile(1.0, 3)


def test_across_two_seeds_on_hand_computed_numbers() -> None:
    # 0.6 and 0.8: mean 0.7, std (n - 1) = sqrt(0.02) = 0.141421, standard error 0.1;
    # t(99%, 1 dof) = 63.657 -> +-6.3657; the paper's z = 2.5758 -> +-0.25758.
    spread = across_seeds([0.6, 0.8])
    assert spread.seeds == 2 and spread.values == (0.6, 0.8)
    assert spread.mean == pytest.approx(0.7)
    assert spread.std == pytest.approx(math.sqrt(0.02))
    assert spread.ci_low == pytest.approx(0.7 - 6.36567, abs=1e-4)
    assert spread.ci_high == pytest.approx(0.7 + 6.36567, abs=1e-4)
    assert spread.paper_half_width == pytest.approx(0.257583, abs=1e-5)


def test_across_three_seeds_on_hand_computed_numbers() -> None:
    # 0.5, 0.7, 0.9: mean 0.7, std 0.2, standard error 0.2 / sqrt(3) = 0.115470;
    # t(99%, 2 dof) = 9.92484 -> +-1.14602; z -> +-0.297431.
    spread = across_seeds([0.5, 0.7, 0.9])
    assert spread.std == pytest.approx(0.2)
    assert spread.ci_high - spread.mean == pytest.approx(1.14602, abs=1e-4)
    assert spread.mean - spread.ci_low == pytest.approx(1.14602, abs=1e-4)
    assert spread.paper_half_width == pytest.approx(0.297431, abs=1e-5)
    same = across_seeds([0.4, 0.4, 0.4])
    assert same.ci_low == pytest.approx(0.4) and same.ci_high == pytest.approx(0.4)
    assert same.paper_half_width == pytest.approx(0.0)


def test_across_seeds_needs_two() -> None:
    with pytest.raises(ValueError, match="at least 2 seeds, got 1"):
        across_seeds([0.5])


# ------------------------------------------------------------------ protocols


def test_settings_default_paper_and_overrides() -> None:
    default = resolve_settings()
    assert (default.seeds, default.episodes, default.num_envs, default.greedy) == (1, 50, 8, False)
    assert default.metadata() == {}
    paper = resolve_settings("paper")
    assert (paper.seeds, paper.episodes, paper.num_envs, paper.greedy) == (2, 1000, 32, False)
    assert PROTOCOLS["paper"].seeds == 2 and paper.overridden == ()
    cheap = resolve_settings("paper", episodes=10, num_envs=32, greedy=True)
    assert (cheap.seeds, cheap.episodes, cheap.num_envs) == (2, 10, 32)
    assert cheap.overridden == ("episodes", "greedy")  # 32 envs is the paper's value
    assert cheap.metadata()["protocol"]["overridden"] == ["episodes", "greedy"]
    assert resolve_settings(seeds=3).seeds == 3
    with pytest.raises(UserError, match="unknown protocol 'nope'; choose one of paper"):
        resolve_settings("nope")
    with pytest.raises(UserError, match="seeds must be >= 1, got 0"):
        resolve_settings(seeds=0)


# ------------------------------------------------------------------ reports


def _report(seeds: int) -> EvaluationReport:
    spread = across_seeds([0.5, 1.0]) if seeds > 1 else None
    summary = summarize([True, False, True, True], [0.9, 0.0, 0.8, 0.7], [3, 6, 4, 5])
    return EvaluationReport(
        agent="x",
        suite="level",
        episodes=2,
        seed=0,
        greedy=False,
        results=[EvalResult("no change", "GoToLocal", summary, across_seeds=spread)],
        seeds=seeds,
    )


def test_seed_columns_only_with_several_seeds() -> None:
    one = _report(1)
    assert "across_seeds" not in one.to_dict()["results"][0]
    assert "seeds" not in one.to_dict() and one.to_dict()["episodes_per_test"] == 2
    assert "seeds (t)" not in to_markdown(one)
    two = _report(2)
    data = two.to_dict()
    assert data["seeds"] == 2 and data["episodes_per_seed"] == 2
    assert data["episodes_per_test"] == 4 and data["seed_starts"] == [0, 2]
    assert data["results"][0]["across_seeds"]["values"] == [0.5, 1.0]
    markdown = to_markdown(two)
    assert "| 99% CI episodes | seed mean | 99% CI seeds (t) | paper ± (z) |" in markdown
    # 0.5 and 1.0: mean 0.75, standard error 0.25: t +-15.914, z +-0.644.
    assert "| 0.750 | [-15.16, 16.66] | ±0.644 |" in markdown


def _results(path: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads(path.read_text())["results"]}


def test_cli_two_seeds_report_both_intervals(
    run_glam: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    common = ("--suite", "quick", "--level", "GoToRedBallNoDists", "--num-envs", "2")
    code, out, err = run_glam(
        "evaluate", "random", *common, "--seeds", "2", "--episodes", "6",
        "--out", str(tmp_path / "two"),
    )  # fmt: skip
    assert code == 0, err
    assert "2 seeds x 6 episodes per test" in " ".join(out.split())
    path = tmp_path / "two" / "quick-sampled-seed0-2seeds.json"
    data = json.loads(path.read_text())
    assert data["seeds"] == 2 and data["seed_starts"] == [0, 6] and data["num_envs"] == 2
    assert data["complete"] is True and data["failed"] == []
    results = _results(path)
    assert list(results) == ["no change", "invented words", "synonym actions", "new objects"]
    for result in results.values():
        spread = result["across_seeds"]
        assert result["episodes"] == 12 and len(spread["values"]) == 2
        # Equal blocks: the pooled rate is the mean of the per-seed rates.
        assert spread["mean"] == pytest.approx(result["success_rate"])
        assert result["success_ci_low"] <= result["success_rate"] <= result["success_ci_high"]
        assert spread["ci_low"] <= spread["mean"] <= spread["ci_high"]
    assert any(r["successes"] for r in results.values())  # random does win some here
    markdown = (tmp_path / "two" / "quick-sampled-seed0-2seeds.md").read_text()
    assert "99% CI episodes" in markdown and "99% CI seeds (t)" in markdown

    # Seed 0 of two is exactly the one-seed evaluation; seed 1 is the next block of seeds.
    for name, episodes_from in (("one", "0"), ("next", "6")):
        code, _, err = run_glam(
            "evaluate", "random", *common, "--episodes", "6", "--seed", episodes_from,
            "--out", str(tmp_path / name),
        )  # fmt: skip
        assert code == 0, err
    one = _results(tmp_path / "one" / "quick-sampled-seed0.json")
    following = _results(tmp_path / "next" / "quick-sampled-seed6.json")
    for name, result in results.items():
        assert result["across_seeds"]["values"] == [
            one[name]["success_rate"],
            following[name]["success_rate"],
        ]
        assert "across_seeds" not in one[name]
    assert "seeds" not in json.loads((tmp_path / "one" / "quick-sampled-seed0.json").read_text())


def test_cli_paper_protocol_with_overrides(
    run_glam: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    code, out, err = run_glam(
        "evaluate", "random", "--protocol", "paper", "--suite", "level",
        "--level", "GoToRedBallNoDists", "--episodes", "3", "--num-envs", "2",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    data = json.loads((tmp_path / "level-sampled-seed0-2seeds.json").read_text())
    assert data["seeds"] == 2 and data["episodes_per_seed"] == 3 and data["num_envs"] == 2
    assert data["metadata"]["protocol"] == {
        "name": "paper",
        "seeds": 2,
        "episodes_per_seed": 3,
        "num_envs": 2,
        "actions": "sampled",
        "overridden": ["episodes", "num_envs"],
    }
    assert "paper protocol (overridden: episodes, num_envs)" in " ".join(out.split())


def test_cli_unknown_protocol_is_one_clear_line(
    run_glam: Callable[..., tuple[int, str, str]],
) -> None:
    code, _, err = run_glam("evaluate", "random", "--protocol", "nope")
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "error: unknown protocol 'nope'; choose one of paper",
    ]
