"""``results.md``, ``results.json`` and ``generalization.md`` of a study.

Every number is read back from the cells' run directories (see collect.py) and
every table says how it was measured: the evaluation episodes, the interval and
its method (aggregate.py), which cells are missing and why.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from glam_apps.study.aggregate import (
    BOOTSTRAP,
    CONFIDENCE,
    NO_INTERVAL,
    WILSON_EPISODES,
    WILSON_NO_SEEDS,
    Estimate,
)
from glam_apps.study.plan import RECIPES, Cell
from glam_apps.study.summary import AgentSummary, StudySummary

NOT_REACHED = "not reached"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _value(estimate: Estimate | None) -> str:
    return "-" if estimate is None else f"{estimate.mean:.3f}"


def _interval(estimate: Estimate | None) -> str:
    if estimate is None or estimate.low is None or estimate.high is None:
        return "-"
    return f"[{estimate.low:.2f}, {estimate.high:.2f}]"


def _with_interval(estimate: Estimate | None) -> str:
    if estimate is None:
        return "-"
    interval = _interval(estimate)
    return _value(estimate) if interval == "-" else f"{_value(estimate)} {interval}"


def _steps(step: int | None) -> str:
    return NOT_REACHED if step is None else f"{step:,}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _evaluation(cells: list[Cell]) -> dict[str, Any]:
    """The final evaluation's settings of an agent's cells (the first cell's)."""
    run = cells[0].config.run
    return {
        "episodes": run.eval_episodes,
        "first_episode_seed": run.eval_seed,
        "actions": "greedy" if run.eval_greedy else "sampled",
    }


def _methods_text() -> str:
    return (
        f"Intervals are {CONFIDENCE:.0%}: {BOOTSTRAP} (scipy.stats.bootstrap, 10,000 "
        f"resamples) for a learning agent with several seeds; {WILSON_EPISODES} when an "
        f"agent has one seed done (no seed-to-seed spread to measure; curves: {NO_INTERVAL}); "
        f"{WILSON_NO_SEEDS} for agents that do not learn. With 2-3 seeds a bootstrap "
        "interval is the range of the seeds at best: read the per-seed values too."
    )


# ---------------------------------------------------------------------- results


def results_json(summary: StudySummary) -> dict[str, Any]:
    plan = summary.plan
    study = plan.study
    levels: dict[str, Any] = {}
    for level, agents in summary.levels.items():
        rows = []
        for agent in agents:
            data = agent.to_dict()
            data["evaluation"] = _evaluation(plan.agent_cells(agent.agent, level))
            data["generalization"] = {
                "tests": {name: e.to_dict() for name, e in agent.tests.items()},
                "failed": agent.failed_tests,
                "not_applicable": agent.not_applicable,
            }
            rows.append(data)
        levels[level] = {"agents": rows}
    return {
        "study": study.name,
        "description": study.description,
        "steps": study.steps,
        "seeds": study.seeds,
        "levels_order": study.levels,
        "thresholds": study.thresholds,
        "confidence": CONFIDENCE,
        "generated": _now(),
        "cells": summary.cells,
        "cells_done": summary.cells - len(summary.missing),
        "missing": [{"cell": key, "why": why} for key, why in summary.missing],
        "levels": levels,
    }


def _header(summary: StudySummary, what: str) -> list[str]:
    study = summary.plan.study
    seeds = ", ".join(map(str, study.seeds))
    lines = [f"# Study `{study.name}`: {what}", ""]
    if study.description:
        lines += [study.description.strip(), ""]
    done = summary.cells - len(summary.missing)
    lines += [
        f"Levels {', '.join(study.levels)}; seeds {seeds}; every learning agent trains for "
        f"{study.steps:,} env steps. Generated from the run directories at {_now()}: "
        f"{done} of {summary.cells} cells done.",
        "",
    ]
    return lines


def _missing_lines(summary: StudySummary) -> list[str]:
    missing = summary.missing
    if not missing:
        return []
    return [
        "## Missing cells",
        "",
        "Not finished: their final numbers are not in the tables (the curves show their "
        "evaluations so far); run `glam study` again to continue:",
        "",
        *(f"- `{key}`: {why}" for key, why in missing),
        "",
    ]


def _final_table(agents: list[AgentSummary], summary: StudySummary, level: str) -> list[str]:
    thresholds = summary.plan.study.thresholds
    headers = [
        "agent",
        "kind",
        "seeds done",
        "final success",
        f"{CONFIDENCE:.0%} CI",
        "per seed",
        "evaluation",
        *(f"steps to {t:g}" for t in thresholds),
    ]
    lines = [_row(headers), "|---|---|---:|---:|---|---|---|" + "---:|" * len(thresholds)]
    for agent in agents:
        evaluation = _evaluation(summary.plan.agent_cells(agent.agent, level))
        per_seed = ", ".join(f"{v:.3f}" for v in agent.final_per_seed.values()) or "-"
        steps = {t.threshold: t.mean_curve for t in agent.thresholds}
        reached = [
            _steps(steps[t]) if agent.role == "trained" and t in steps else "-" for t in thresholds
        ]
        lines.append(
            _row(
                [
                    agent.agent,
                    agent.kind,
                    f"{agent.done}/{agent.cells}" if agent.role != "evaluated" else "-",
                    _value(agent.final),
                    _interval(agent.final),
                    per_seed,
                    f"{evaluation['episodes']} ep., {evaluation['actions']}",
                    *reached,
                ]
            )
        )
    return lines


def _per_seed_steps(agents: list[AgentSummary], thresholds: list[float]) -> list[str]:
    trained = [a for a in agents if a.thresholds]
    if not trained:
        return []
    lines = [
        "Env steps to reach each success rate, per seed (first evaluation at or above it):",
        "",
        _row(["agent", *(f"{t:g}" for t in thresholds)]),
        "|---|" + "---|" * len(thresholds),
    ]
    for agent in trained:
        by_threshold = {t.threshold: t for t in agent.thresholds}
        lines.append(
            _row(
                [
                    agent.agent,
                    *(
                        "; ".join(
                            f"seed {seed}: {_steps(step)}"
                            for seed, step in by_threshold[t].per_seed.items()
                        )
                        for t in thresholds
                    ),
                ]
            )
        )
    return [*lines, ""]


def _family_table(agents: list[AgentSummary]) -> list[str]:
    families = sorted({f for a in agents for f in a.families})
    if not families:
        return []
    lines = [
        "Final success per task family (the final evaluation's episodes of each family):",
        "",
        _row(["agent", *families]),
        "|---|" + "---:|" * len(families),
    ]
    for agent in agents:
        lines.append(
            _row([agent.agent, *(_with_interval(agent.families.get(f)) for f in families)])
        )
    return [*lines, ""]


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _cost_table(summary: StudySummary) -> list[str]:
    """Where the study's time went, per agent: its profile, measured on its own cells."""
    rows = [
        (level, agent)
        for level, agents in summary.levels.items()
        for agent in agents
        if agent.cost is not None
    ]
    if not rows:
        return []
    lines = [
        "## Cost",
        "",
        "Measured on this study's cells. Minutes per cell: the wall time of the cells that "
        "ran whole in one attempt (resumed cells are left out; cells ran side by side "
        "with `--jobs`). Training env steps/s: env steps over the time spent in "
        "rollouts and PPO updates (`metrics.jsonl`), and the PPO update's share of that "
        "time. Training share: training time over the cell's wall time; the rest is "
        "start-up, the periodic and final evaluations and the generalization suite.",
        "",
        "| level | agent | cells timed | minutes per cell | training env steps/s | "
        "PPO update share | training share |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for level, agent in rows:
        cost = agent.cost
        assert cost is not None
        speed = cost.steps_per_second
        lines.append(
            _row(
                [
                    level,
                    agent.label,
                    str(cost.timed_cells),
                    _minutes(cost.minutes_per_cell),
                    "-" if speed is None else f"{speed:,.0f}",
                    _share(cost.update_share),
                    _share(cost.training_share),
                ]
            )
        )
    return [*lines, ""]


def results_markdown(summary: StudySummary) -> str:
    study = summary.plan.study
    lines = _header(summary, "final success and sample efficiency")
    lines += [
        "Final success: each cell's final evaluation on its level (the same episodes for "
        "every agent of a level: the evaluation column says how many, sampled or greedy "
        "actions), mean over seeds. Steps to a threshold: the first periodic evaluation "
        f"where the mean over seeds reaches it ({NOT_REACHED}: never within the budget). "
        + _methods_text(),
        "",
        "Agents: "
        + "; ".join(
            f"`{name}` ({study.kind_of(name)}: {RECIPES[study.kind_of(name)].description})"
            for name in study.agents
        )
        + ".",
        "",
    ]
    for level, agents in summary.levels.items():
        lines += [f"## {level}", ""]
        lines += _final_table(agents, summary, level)
        lines += [""]
        lines += _per_seed_steps(agents, study.thresholds)
        lines += _family_table(agents)
    lines += _cost_table(summary)
    lines += _missing_lines(summary)
    lines += ["Figure: `curves.png`. Generalization: `generalization.md`.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------- generalization


def _test_cell(agent: AgentSummary, test: str) -> str:
    if test in agent.tests:
        return _with_interval(agent.tests[test])
    if test in agent.failed_tests:
        return "failed"
    if test in agent.not_applicable:
        return "n/a"
    return "-"


def generalization_markdown(summary: StudySummary) -> str:
    study = summary.plan.study
    settings = study.generalization
    assert settings is not None
    lines = _header(summary, f"generalization (suite `{settings.suite}`)")
    lines += [
        f"Each agent's final policy on every test of the `{settings.suite}` suite, "
        f"{settings.episodes} episodes per test and seed, from the first episode seed of "
        "the final evaluation (the same episodes for every agent), actions as in its final "
        "evaluation; mean success over seeds with its interval. `failed`: the test raised "
        "(its error is in the cell's report and log); `n/a`: not applicable (a goal-phrasing "
        "test changes only the prompt template, which this agent does not read); `-`: not "
        "evaluated yet. " + _methods_text(),
        "",
    ]
    for level, agents in summary.levels.items():
        tests: list[str] = []
        for agent in agents:
            tests += [t for t in agent.test_order if t not in tests and not t.startswith("family")]
        for agent in agents:
            tests += [t for t in agent.not_applicable if t not in tests]
        tests += sorted({t for a in agents for t in a.test_order if t.startswith("family")})
        lines += [f"## {level}", ""]
        if not tests:
            lines += ["No generalization report yet.", ""]
            continue
        lines += [
            _row(["test", *(a.agent for a in agents)]),
            "|---|" + "---:|" * len(agents),
            *(_row([test, *(_test_cell(a, test) for a in agents)]) for test in tests),
            "",
        ]
        failures = [
            f"- `{a.agent}`, {name}: {error}"
            for a in agents
            for name, error in a.failed_tests.items()
        ]
        if failures:
            lines += ["Failed tests:", "", *failures, ""]
    lines += _missing_lines(summary)
    return "\n".join(lines)
