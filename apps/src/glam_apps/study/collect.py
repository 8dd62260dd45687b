"""Read what each cell of a study left on disk: its curve, final evaluation, generalization.

Everything is read back from the cells' folders (the runs' own files), so the outputs
can be rebuilt at any time, from a study that is finished, running or stopped. A
cell that has not got as far says why (``note``): not started, interrupted at N env
steps, or the error of its last attempt.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glam_apps.runs.rundir import STEP_KEY, SUCCESS_KEY, RunDir, read_jsonl
from glam_apps.study.plan import Cell, State, StudyPlan, cell_state

logger = logging.getLogger(__name__)

FAMILY_PREFIX = "family: "


@dataclass(frozen=True)
class Rate:
    """Successes over episodes."""

    successes: int
    episodes: int

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0


@dataclass(frozen=True)
class FinalResult:
    """A cell's final evaluation on its level (``eval/final.json``)."""

    rate: Rate
    env_steps: int | None
    families: dict[str, Rate]
    """Per task family, on levels that mix families (MixedTrainLocal...)."""


@dataclass(frozen=True)
class SuiteResult:
    """A cell's generalization report: each test's success, failures, tests not played."""

    tests: dict[str, Rate]
    families: dict[str, Rate]
    failed: dict[str, str]
    not_applicable: tuple[str, ...]
    complete: bool


@dataclass(frozen=True)
class CellCost:
    """Where a cell's time went: the study's profile, one cell at a time.

    ``seconds`` is the wall time of the cell's last attempt when that attempt ran the
    whole cell (start to finish, not resumed), else ``None``. The training split comes
    from the run's ``metrics.jsonl`` (every update's rollout and PPO-update seconds);
    the rest of a cell is start-up, the periodic and final evaluations and the
    generalization suite.
    """

    seconds: float | None
    env_steps: int | None
    rollout_seconds: float
    update_seconds: float

    @property
    def training_seconds(self) -> float:
        return self.rollout_seconds + self.update_seconds


@dataclass
class CellData:
    cell: Cell
    state: State
    curve: list[tuple[int, float]] = field(default_factory=list)
    final: FinalResult | None = None
    suite: SuiteResult | None = None
    note: str | None = None
    cost: CellCost | None = None


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        logger.warning("%s is unreadable (%s): left out", path, error)
        return None
    return data if isinstance(data, dict) else None


def _rate(result: dict[str, Any]) -> Rate | None:
    successes, episodes = result.get("successes"), result.get("episodes")
    if isinstance(successes, int) and isinstance(episodes, int) and episodes > 0:
        return Rate(successes, episodes)
    return None


def _results(report: dict[str, Any], group: str) -> dict[str, Rate]:
    found: dict[str, Rate] = {}
    for result in report.get("results") or []:
        if not isinstance(result, dict) or result.get("group", "test") != group:
            continue
        rate = _rate(result)
        if rate is not None:
            name = str(result.get("name", ""))
            found[name.removeprefix(FAMILY_PREFIX) if group == "family" else name] = rate
    return found


def read_final(path: Path) -> FinalResult | None:
    """The agent's own row (the first ``test`` result) and its task families."""
    report = _read_json(path)
    if report is None or not report.get("complete", True):
        return None
    tests = _results(report, "test")
    if not tests:
        return None
    steps = (report.get("metadata") or {}).get("env_steps")
    return FinalResult(
        next(iter(tests.values())),
        int(steps) if isinstance(steps, int) else None,
        _results(report, "family"),
    )


def read_suite(path: Path) -> SuiteResult | None:
    report = _read_json(path)
    if report is None:
        return None
    failed = {
        str(f.get("name")): str(f.get("error", ""))
        for f in report.get("failed") or []
        if isinstance(f, dict)
    }
    skipped = (report.get("metadata") or {}).get("not_applicable") or []
    return SuiteResult(
        _results(report, "test"),
        _results(report, "family"),
        failed,
        tuple(str(name) for name in skipped),
        bool(report.get("complete", False)),
    )


def read_curve(run: RunDir) -> list[tuple[int, float]]:
    """``(env steps, success rate)`` of every periodic evaluation of a run."""
    points = []
    for record in read_jsonl(run.evaluations):
        step, value = record.get(STEP_KEY), record.get(SUCCESS_KEY)
        if isinstance(step, (int, float)) and isinstance(value, (int, float)):
            points.append((int(step), float(value)))
    return sorted(points)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_cost(plan: StudyPlan, cell: Cell, state: State) -> CellCost | None:
    """The cell's wall time and training split, from its attempt file and metrics."""
    if state != "done":
        return None
    attempt = _read_json(plan.attempt_file(cell)) or {}
    whole = attempt.get("outcome") == "finished" and attempt.get("state_before") == "new"
    seconds = _number(attempt.get("seconds")) if whole else None
    rollout = update = 0.0
    steps: int | None = None
    if cell.role == "trained":
        for record in read_jsonl(RunDir(cell.root).metrics):
            parts = _number(record.get("rollout_seconds")), _number(record.get("update_seconds"))
            if parts[0] is not None and parts[1] is not None:
                rollout, update = rollout + parts[0], update + parts[1]
            step = _number(record.get(STEP_KEY))
            steps = int(step) if step is not None else steps
    if seconds is None and rollout + update == 0:
        return None
    return CellCost(seconds, steps, rollout, update)


def _note(plan: StudyPlan, cell: Cell, state: State) -> str | None:
    if state == "done":
        return None
    attempt = _read_json(plan.attempt_file(cell)) or {}
    if attempt.get("outcome") == "failed":
        return f"failed: {attempt.get('error') or 'see ' + str(plan.log_file(cell))}"
    if cell.role == "trained" and state == "resume":
        status = RunDir(cell.root).read_status()
        steps = status.get("global_step")
        where = f" at {steps} env steps" if isinstance(steps, int) else ""
        return f"{status.get('status', 'stopped')}{where}"
    if state == "evaluate":
        return "evaluation not finished"
    return "not run yet"


def collect(plan: StudyPlan) -> list[CellData]:
    """Every cell's data, in the plan's order."""
    study = plan.study
    data = []
    for cell in plan.cells:
        state = cell_state(cell, study)
        item = CellData(cell, state, note=_note(plan, cell, state))
        if cell.role == "trained":
            item.curve = read_curve(RunDir(cell.root))
        item.final = read_final(cell.final_report)
        item.cost = read_cost(plan, cell, state)
        if study.generalization is not None:
            item.suite = read_suite(cell.generalization_report(study.generalization.suite))
        data.append(item)
    return data
