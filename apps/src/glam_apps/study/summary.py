"""From the cells' data to one summary per (level, agent): what the figure and tables show.

A cell counts once it is done; a learning agent's curve also uses the evaluations
of its runs still in progress (a curve is useful before the end), and says how many
seeds each point averages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glam_apps.study.aggregate import (
    CurveSummary,
    Estimate,
    ThresholdSteps,
    aggregate_curves,
    success_estimate,
    threshold_steps,
)
from glam_apps.study.collect import CellCost, CellData, Rate
from glam_apps.study.plan import RECIPES, Role, StudyPlan


@dataclass(frozen=True)
class AgentCost:
    """An agent's cells' time, summed over the cells that report it (see ``CellCost``)."""

    timed_cells: int
    """Cells that ran whole in one attempt: the minutes per cell average these."""
    minutes_per_cell: float | None
    env_steps: int
    training_seconds: float
    update_seconds: float
    training_share: float | None
    """Training time over wall time, on the timed cells that trained."""

    @property
    def steps_per_second(self) -> float | None:
        if not self.env_steps or self.training_seconds <= 0:
            return None
        return self.env_steps / self.training_seconds

    @property
    def update_share(self) -> float | None:
        if self.training_seconds <= 0:
            return None
        return self.update_seconds / self.training_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "timed_cells": self.timed_cells,
            "minutes_per_cell": self.minutes_per_cell,
            "training_env_steps": self.env_steps,
            "training_seconds": self.training_seconds,
            "training_env_steps_per_second": self.steps_per_second,
            "ppo_update_share_of_training": self.update_share,
            "training_share_of_cell": self.training_share,
        }


def agent_cost(costs: list[CellCost]) -> AgentCost | None:
    if not costs:
        return None
    timed = [c for c in costs if c.seconds is not None]
    minutes = sum(c.seconds or 0.0 for c in timed) / 60 / len(timed) if timed else None
    trained = [c for c in timed if c.training_seconds > 0 and c.seconds]
    share = (
        sum(c.training_seconds for c in trained) / sum(c.seconds or 0.0 for c in trained)
        if trained
        else None
    )
    return AgentCost(
        timed_cells=len(timed),
        minutes_per_cell=minutes,
        env_steps=sum(c.env_steps or 0 for c in costs if c.training_seconds > 0),
        training_seconds=sum(c.training_seconds for c in costs),
        update_seconds=sum(c.update_seconds for c in costs),
        training_share=share,
    )


@dataclass
class AgentSummary:
    """One agent on one level, over its seeds."""

    agent: str
    kind: str
    role: Role
    level: str
    cells: int
    done: int
    """Cells with a final evaluation (their training, or cloning, is over)."""
    curve: CurveSummary | None = None
    final: Estimate | None = None
    final_per_seed: dict[int, float] = field(default_factory=dict)
    thresholds: list[ThresholdSteps] = field(default_factory=list)
    families: dict[str, Estimate] = field(default_factory=dict)
    tests: dict[str, Estimate] = field(default_factory=dict)
    test_order: list[str] = field(default_factory=list)
    failed_tests: dict[str, str] = field(default_factory=dict)
    not_applicable: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    """``(cell, why)`` of the cells not done."""
    cost: AgentCost | None = None

    @property
    def label(self) -> str:
        return self.agent

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "kind": self.kind,
            "role": self.role,
            "description": RECIPES[self.kind].description,
            "level": self.level,
            "cells": self.cells,
            "cells_done": self.done,
            "final_success": None if self.final is None else self.final.to_dict(),
            "final_success_per_seed": {str(s): v for s, v in self.final_per_seed.items()},
            "steps_to_threshold": [t.to_dict() for t in self.thresholds],
            "families": {name: e.to_dict() for name, e in self.families.items()},
            "curve": None if self.curve is None else self.curve.to_dict(),
            "missing": [{"cell": key, "why": why} for key, why in self.missing],
            "cost": None if self.cost is None else self.cost.to_dict(),
        }


@dataclass
class StudySummary:
    plan: StudyPlan
    levels: dict[str, list[AgentSummary]]
    """Per level, one summary per agent in the study's order."""

    @property
    def missing(self) -> list[tuple[str, str]]:
        return [m for agents in self.levels.values() for a in agents for m in a.missing]

    @property
    def cells(self) -> int:
        return len(self.plan.cells)


def _estimate(per_seed: list[Rate], seeds: bool) -> Estimate | None:
    if not per_seed:
        return None
    return success_estimate([(r.successes, r.episodes) for r in per_seed], seeds=seeds)


def summarize_agent(agent: str, level: str, items: list[CellData], plan: StudyPlan) -> AgentSummary:
    study = plan.study
    kind = study.kind_of(agent)
    role = RECIPES[kind].role
    seeds = role != "evaluated"
    done = [item for item in items if item.state == "done"]
    finals = [(item.cell.seed, item.final) for item in items if item.final is not None]
    summary = AgentSummary(agent, kind, role, level, len(items), len(finals))
    summary.missing = [
        (item.cell.key, item.note or "not done") for item in items if item not in done
    ]
    summary.final = _estimate([final.rate for _, final in finals], seeds)
    summary.cost = agent_cost([item.cost for item in items if item.cost is not None])
    summary.final_per_seed = {
        seed: final.rate.rate for seed, final in finals if seed is not None and seeds
    }
    families = sorted({name for _, final in finals for name in final.families})
    for family in families:
        rates = [final.families[family] for _, final in finals if family in final.families]
        estimate = _estimate(rates, seeds)
        if estimate is not None:
            summary.families[family] = estimate
    if role == "trained":
        per_seed = {item.cell.seed or 0: item.curve for item in items if item.curve}
        if per_seed:
            summary.curve = aggregate_curves(per_seed)
            summary.thresholds = [
                threshold_steps(per_seed, summary.curve, t) for t in study.thresholds
            ]
    suites = [item.suite for item in done if item.suite is not None]
    order: list[str] = []
    for suite in suites:
        order += [name for name in [*suite.tests, *suite.failed] if name not in order]
        summary.failed_tests.update(suite.failed)
        summary.not_applicable += [
            n for n in suite.not_applicable if n not in summary.not_applicable
        ]
    summary.test_order = order
    for name in order:
        estimate = _estimate([s.tests[name] for s in suites if name in s.tests], seeds)
        if estimate is not None:
            summary.tests[name] = estimate
    for family in sorted({f for s in suites for f in s.families}):
        estimate = _estimate([s.families[family] for s in suites if family in s.families], seeds)
        if estimate is not None:
            summary.tests[f"family: {family}"] = estimate
            summary.test_order.append(f"family: {family}")
    return summary


def summarize(plan: StudyPlan, data: list[CellData]) -> StudySummary:
    levels: dict[str, list[AgentSummary]] = {}
    for level in plan.study.levels:
        levels[level] = [
            summarize_agent(
                agent,
                level,
                [d for d in data if d.cell.agent == agent and d.cell.level == level],
                plan,
            )
            for agent in plan.study.agents
        ]
    return StudySummary(plan, levels)
