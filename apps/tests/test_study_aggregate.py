"""A study's numbers on runs with known curves: bootstrap intervals (scipy's), steps to a
threshold (exact, or "not reached"), per-family results, generalization, missing cells."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.stats

from glam_apps.runs.atomic import atomic_write_json, atomic_write_yaml
from glam_apps.study.aggregate import (
    BOOTSTRAP,
    NO_INTERVAL,
    RESAMPLES,
    WILSON_EPISODES,
    WILSON_NO_SEEDS,
    aggregate_curves,
    bootstrap_ci,
    seed_estimate,
    steps_to_threshold,
    success_estimate,
)
from glam_apps.study.config import StudyConfig
from glam_apps.study.outputs import write_outputs
from glam_apps.study.plan import Cell, StudyPlan, plan_study

# ---------------------------------------------------------------------- pure numbers


def test_bootstrap_interval_is_scipys_percentile_bootstrap_and_holds_the_mean() -> None:
    values = [0.2, 0.5, 0.9, 0.4]
    low, high = bootstrap_ci(values)
    expected = scipy.stats.bootstrap(
        (np.asarray(values),),
        np.mean,
        confidence_level=0.95,
        n_resamples=RESAMPLES,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert (low, high) == pytest.approx((expected.low, expected.high))
    assert min(values) <= low < np.mean(values) < high <= max(values)
    assert bootstrap_ci(values) == (low, high)  # a fixed generator: the same tables each call


def test_bootstrap_with_one_seed_or_equal_values() -> None:
    assert bootstrap_ci([0.7]) is None
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    one = seed_estimate([0.7])
    assert one.mean == 0.7 and one.low is None and one.method == NO_INTERVAL
    several = seed_estimate([0.2, 0.6])
    assert several.method == BOOTSTRAP and several.mean == pytest.approx(0.4)
    assert several.low is not None and several.high is not None
    assert 0.2 <= several.low <= 0.4 <= several.high <= 0.6


def test_final_success_falls_back_to_wilson_over_episodes() -> None:
    one_seed = success_estimate([(30, 100)])
    assert one_seed.method == WILSON_EPISODES and one_seed.mean == pytest.approx(0.3)
    assert one_seed.low is not None and one_seed.high is not None
    assert one_seed.low < 0.3 < one_seed.high
    no_seeds = success_estimate([(30, 100)], seeds=False)
    assert no_seeds.method == WILSON_NO_SEEDS
    two = success_estimate([(30, 100), (50, 100)])
    assert two.method == BOOTSTRAP and two.values == (0.3, 0.5)


def test_steps_to_threshold_is_the_first_evaluation_at_or_above_it() -> None:
    points = [(300, 0.9), (100, 0.2), (200, 0.5)]
    assert steps_to_threshold(points, 0.5) == 200  # reached exactly, in step order
    assert steps_to_threshold(points, 0.8) == 300
    assert steps_to_threshold(points, 0.95) is None
    assert steps_to_threshold([], 0.5) is None


def test_curves_average_the_seeds_evaluated_at_each_step() -> None:
    curve = aggregate_curves(
        {0: [(100, 0.2), (200, 0.6)], 1: [(100, 0.4), (200, 0.8)], 2: [(100, 0.6)]}
    )
    assert curve.steps == (100, 200)
    assert curve.mean == pytest.approx((0.4, 0.7))
    assert curve.seeds == (3, 2)
    assert (curve.low[0], curve.high[0]) == pytest.approx(bootstrap_ci([0.2, 0.4, 0.6]))


# ---------------------------------------------------------------------- synthetic study


#: Known curves (env steps, success) per seed of the learning agent.
CURVES = {
    0: [(1000, 0.1), (2000, 0.55), (3000, 0.6)],
    1: [(1000, 0.3), (2000, 0.45), (3000, 0.7)],
    2: [(1000, 0.2), (2000, 0.5), (3000, 0.9)],
}
#: Final evaluation per seed: (successes, episodes), and go_to / pick_up families.
FINALS = {0: (60, 100), 1: (70, 100), 2: (90, 100)}
FAMILIES = {
    0: {"go_to": (40, 50), "pick_up": (20, 50)},
    1: {"go_to": (45, 50), "pick_up": (25, 50)},
    2: {"go_to": (50, 50), "pick_up": (40, 50)},
}


def _result(name: str, group: str, successes: int, episodes: int) -> dict[str, Any]:
    return {
        "name": name,
        "group": group,
        "episodes": episodes,
        "successes": successes,
        "success_rate": successes / episodes,
    }


def _report(results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"complete": True, "failed": [], "results": results, **extra}


def _fake_run(cell: Cell, seed: int) -> None:
    """What glam train leaves: config, status, periodic and final evaluations."""
    atomic_write_yaml(cell.root / "config.yaml", cell.config.to_yaml_dict())
    atomic_write_json(cell.root / "status.json", {"status": "finished", "global_step": 3000})
    (cell.eval_dir).mkdir(parents=True, exist_ok=True)
    (cell.eval_dir / "evaluations.jsonl").write_text(
        "".join(json.dumps({"global_step": s, "success_rate": v}) + "\n" for s, v in CURVES[seed])
    )
    (cell.root / "metrics.jsonl").write_text(
        "".join(
            json.dumps({"global_step": step, "rollout_seconds": 1.0, "update_seconds": 3.0}) + "\n"
            for step in (1500, 3000)
        )
    )
    families = [_result(f"family: {f}", "family", *r) for f, r in FAMILIES[seed].items()]
    atomic_write_json(
        cell.final_report,
        _report(
            [_result("no change", "test", *FINALS[seed]), *families,
             _result("random baseline", "baseline", 1, 100)],
            metadata={"env_steps": 3000},
        ),
    )  # fmt: skip


def _fake_suite(cell: Cell, rates: dict[str, tuple[int, int]], failed: dict[str, str]) -> None:
    atomic_write_json(
        cell.generalization_report("quick"),
        _report(
            [_result(name, "test", *r) for name, r in rates.items()],
            suite="quick",
            episodes_per_test=10,
            failed=[{"name": n, "level": "MixedTestLocal", "error": e} for n, e in failed.items()],
        ),
    )


def _fake_attempt(plan: StudyPlan, cell: Cell, seconds: float, state_before: str) -> None:
    atomic_write_json(
        plan.attempt_file(cell),
        {"cell": cell.key, "state_before": state_before, "outcome": "finished",
         "seconds": seconds},
    )  # fmt: skip


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[StudyPlan, dict[str, Any]]:
    study = StudyConfig.model_validate(
        {
            "name": "synthetic",
            "levels": ["MixedTrainLocal"],
            "seeds": [0, 1, 2, 3],
            "steps": 3000,
            "agents": {"glam": {}, "random": {}},
            "generalization": {"suite": "quick", "episodes": 10},
        }
    )
    plan = plan_study(study, tmp_path / "study")
    cells = {cell.key: cell for cell in plan.cells}
    for seed in (0, 1, 2):  # seed 3 never ran: a missing cell
        cell = cells[f"glam/MixedTrainLocal/seed-{seed}"]
        _fake_run(cell, seed)
        _fake_suite(cell, {"no change": (seed + 5, 10), "invented words": (seed, 10)},
                    {"new objects": "ValueError: boom"})  # fmt: skip
        # seeds 0 and 1 ran whole in one attempt; seed 2's last attempt resumed it
        _fake_attempt(plan, cell, 16.0, "new" if seed < 2 else "resume")
    random = cells["random/MixedTrainLocal"]
    atomic_write_json(random.final_report, _report([_result("no change", "test", 25, 100)]))
    _fake_attempt(plan, random, 6.0, "new")
    _fake_suite(
        random, {"no change": (3, 10), "invented words": (2, 10), "new objects": (1, 10)}, {}
    )
    write_outputs(plan)
    return plan, json.loads((plan.root / "results.json").read_text())


def _agent(results: dict[str, Any], name: str) -> dict[str, Any]:
    rows = results["levels"]["MixedTrainLocal"]["agents"]
    return next(row for row in rows if row["agent"] == name)


def test_final_success_is_the_seed_mean_with_its_bootstrap_interval(synthetic) -> None:
    _, results = synthetic
    glam = _agent(results, "glam")
    final = glam["final_success"]
    rates = [0.6, 0.7, 0.9]
    assert final["values"] == rates and final["mean"] == pytest.approx(np.mean(rates))
    assert (final["ci_low"], final["ci_high"]) == pytest.approx(bootstrap_ci(rates))
    assert final["ci_method"] == BOOTSTRAP and final["confidence"] == 0.95
    assert glam["cells"] == 4 and glam["cells_done"] == 3
    random = _agent(results, "random")["final_success"]
    assert random["mean"] == 0.25 and random["ci_method"] == WILSON_NO_SEEDS


def test_steps_to_thresholds_on_the_mean_curve_and_per_seed(synthetic) -> None:
    _, results = synthetic
    glam = _agent(results, "glam")
    assert glam["curve"]["steps"] == [1000, 2000, 3000]
    assert glam["curve"]["mean"] == pytest.approx([0.2, 0.5, 0.7333333])
    by_threshold = {t["threshold"]: t for t in glam["steps_to_threshold"]}
    assert by_threshold[0.5]["seed_mean"] == 2000  # the mean is exactly 0.5 there
    assert by_threshold[0.5]["per_seed"] == {"0": 2000, "1": 3000, "2": 2000}
    assert by_threshold[0.8]["seed_mean"] is None  # 0.733 at the end: not reached
    assert by_threshold[0.8]["per_seed"] == {"0": None, "1": None, "2": 3000}
    markdown = (synthetic[0].root / "results.md").read_text()
    assert "seed 0: not reached; seed 1: not reached; seed 2: 3,000" in markdown
    assert "| 2,000 | not reached |" in markdown


def test_per_family_results_on_a_mixed_level(synthetic) -> None:
    plan, results = synthetic
    families = _agent(results, "glam")["families"]
    assert sorted(families) == ["go_to", "pick_up"]
    assert families["go_to"]["values"] == [0.8, 0.9, 1.0]
    assert families["pick_up"]["mean"] == pytest.approx(np.mean([0.4, 0.5, 0.8]))
    assert "| agent | go_to | pick_up |" in (plan.root / "results.md").read_text()


def test_generalization_table_tests_as_rows_agents_as_columns(synthetic) -> None:
    plan, _ = synthetic
    text = (plan.root / "generalization.md").read_text()
    assert "| test | glam | random |" in text
    no_change = bootstrap_ci([0.5, 0.6, 0.7])
    assert f"| no change | 0.600 [{no_change[0]:.2f}, {no_change[1]:.2f}] |" in text
    row = next(line for line in text.splitlines() if line.startswith("| new objects |"))
    assert row.split("|")[2].strip() == "failed" and row.split("|")[3].strip().startswith("0.100")
    assert "ValueError: boom" in text


def test_missing_cells_are_listed_in_every_output(synthetic) -> None:
    plan, results = synthetic
    assert results["cells"] == 5 and results["cells_done"] == 4
    assert results["missing"] == [{"cell": "glam/MixedTrainLocal/seed-3", "why": "not run yet"}]
    for name in ("results.md", "generalization.md"):
        assert "`glam/MixedTrainLocal/seed-3`: not run yet" in (plan.root / name).read_text()
    png = (plan.root / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_cost_is_each_agents_measured_time(synthetic) -> None:
    """The study's profile: wall time of whole cells, training speed and its split."""
    plan, results = synthetic
    cost = _agent(results, "glam")["cost"]
    assert cost["timed_cells"] == 2 and cost["minutes_per_cell"] == pytest.approx(16 / 60)
    assert cost["training_env_steps"] == 9000 and cost["training_seconds"] == 24.0
    assert cost["training_env_steps_per_second"] == pytest.approx(375.0)
    assert cost["ppo_update_share_of_training"] == pytest.approx(0.75)
    assert cost["training_share_of_cell"] == pytest.approx(0.5)  # 8 s of 16, seeds 0-1
    random = _agent(results, "random")["cost"]
    assert random["timed_cells"] == 1 and random["training_env_steps_per_second"] is None
    markdown = (plan.root / "results.md").read_text()
    assert "| MixedTrainLocal | glam | 2 | 0.3 | 375 | 75% | 50% |" in markdown
    assert "| MixedTrainLocal | random | 1 | 0.1 | - | - | - |" in markdown
