"""``glam compare``: agents side by side on the tests and episode seeds their reports share.

The inputs are evaluation reports (the JSON of ``glam evaluate``) and run
directories (a run stands for its final report, ``eval/final.json``). Each report
brings one agent, plus its baselines: the ``--baselines`` of ``glam evaluate`` and
the ``run.eval_baselines`` rows of a final report. Tests are matched by name and
level; only the tests every agent played are compared, and the notes say which
were left out and where they were missing.

Each agent's success rate comes with its Wilson interval (over all its episodes,
as in its report). The reference agent (the first, unless chosen) is then compared
with each other agent episode by episode: the episodes both played on the same
seed are paired, and the difference of success rates gets Newcombe's paired
interval and an exact McNemar p-value (:func:`glam_apps.evaluation.stats.paired_difference`),
the difference of returns a paired t interval. Reports written before glam kept
per-episode outcomes still compare, on their aggregate figures, without a paired
difference. A report is data: it is parsed and checked, never run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from glam_apps.config.loading import format_validation_error
from glam_apps.errors import UserError
from glam_apps.evaluation.report import FitWidth
from glam_apps.evaluation.stats import (
    CI_METHOD,
    CONFIDENCE,
    PAIRED_CI_METHOD,
    PAIRED_RETURN_METHOD,
    PAIRED_TEST,
    EpisodeOutcome,
    PairedDifference,
    PairedMeanDifference,
    paired_difference,
    paired_mean_difference,
)
from glam_apps.runs.atomic import atomic_write_json, atomic_write_text
from glam_apps.runs.rundir import RunDir

__all__ = [
    "FORMATS",
    "AgentColumn",
    "Comparison",
    "Difference",
    "ReportSource",
    "TestFigures",
    "check_output",
    "compare",
    "read_source",
    "rich_comparison",
    "to_markdown",
    "write_comparison",
]

#: What ``glam compare --format`` prints.
FORMATS: tuple[str, ...] = ("table", "markdown", "json")
#: The test a final report's baseline rows played (training evaluates its level alone).
FINAL_BASELINE_TEST = "no change"
BASELINE_SUFFIX = " baseline"

TestKey = tuple[str, str]
"""A test: its name and the level it was played on."""


# ---------------------------------------------------------------------- reading


class _Outcome(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    seed: int
    success: bool
    episode_return: float = Field(alias="return")
    length: int
    family: str | None = None


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    level: str
    group: str = "test"
    episodes: int = Field(ge=0)
    successes: int = Field(ge=0)
    success_rate: float
    success_ci_low: float
    success_ci_high: float
    mean_return: float
    mean_length: float
    outcomes: list[_Outcome] | None = None


class _Baseline(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent: str
    results: list[_Result] = Field(default_factory=list)


class _Report(BaseModel):
    """The part of an evaluation report a comparison reads."""

    model_config = ConfigDict(extra="ignore")

    agent: str
    suite: str
    results: list[_Result]
    seed: int | None = None
    actions: str | None = None
    baselines: list[_Baseline] = Field(default_factory=list)


@dataclass(frozen=True)
class TestFigures:
    """One agent on one test: its figures, and its episodes when the report kept them."""

    name: str
    level: str
    episodes: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_return: float
    mean_length: float
    outcomes: tuple[EpisodeOutcome, ...] | None

    __test__ = False  # not a pytest class

    @property
    def key(self) -> TestKey:
        return (self.name, self.level)

    def by_seed(self) -> dict[int, EpisodeOutcome]:
        return {o.seed: o for o in self.outcomes or ()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "success_ci_low": self.ci_low,
            "success_ci_high": self.ci_high,
            "mean_return": self.mean_return,
            "mean_length": self.mean_length,
            "per_episode_outcomes": self.outcomes is not None,
        }


@dataclass(frozen=True)
class AgentColumn:
    """One agent of a report: its name, where it was read, and its tests."""

    name: str
    source: Path
    actions: str | None
    tests: dict[TestKey, TestFigures]

    @property
    def has_outcomes(self) -> bool:
        return all(figures.outcomes is not None for figures in self.tests.values())

    def same_figures(self, other: AgentColumn) -> bool:
        """The same agent read twice (a baseline in two reports of the same seeds)."""
        return self.tests == other.tests and self.actions == other.actions


@dataclass(frozen=True)
class ReportSource:
    """What one argument of ``glam compare`` named, and the report file read for it."""

    given: str
    path: Path
    run: Path | None
    agents: list[AgentColumn]


def read_source(spec: str | os.PathLike[str]) -> ReportSource:
    """A report JSON file, or a run directory (its ``eval/final.json``), as agent columns."""
    given = str(spec)
    path = Path(spec).expanduser()
    run: Path | None = None
    if path.is_dir():
        rundir = RunDir.at(path)
        if not rundir.is_run():
            raise UserError(
                f"{given} is a folder but not a run directory (no config.yaml); "
                "give evaluation report files (.json) or run directories"
            )
        run = rundir.root
        path = rundir.eval / "final.json"
        if not path.is_file():
            raise UserError(
                f"run {given} has no final report ({path} is missing: the run has not "
                f"finished); evaluate it with 'glam evaluate {given}' and compare that report"
            )
    elif not path.exists():
        raise UserError(f"report not found: {given} (give a report .json file or a run directory)")
    report = _parse(path)
    return ReportSource(given, path, run, _columns(report, path))


def _parse(path: Path) -> _Report:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise UserError(
            f"{path} is not a glam evaluation report: not JSON ({error.msg}, line {error.lineno})"
        ) from error
    if not isinstance(data, dict) or not {"agent", "suite", "results"} <= data.keys():
        raise UserError(
            f"{path} is not a glam evaluation report (one has 'agent', 'suite' and 'results'; "
            "glam evaluate and glam train write them)"
        )
    try:
        report = _Report.model_validate(data)
    except ValidationError as error:
        raise UserError(
            f"{path} is not a glam evaluation report: {format_validation_error(error)}"
        ) from error
    for result in [*report.results, *(r for b in report.baselines for r in b.results)]:
        _check_outcomes(path, result)
    return report


def _check_outcomes(path: Path, result: _Result) -> None:
    """A report's outcomes agree with its own figures (it is someone else's file)."""
    if result.outcomes is None:
        return
    seeds = [o.seed for o in result.outcomes]
    wins = sum(o.success for o in result.outcomes)
    problem = None
    if len(seeds) != result.episodes:
        problem = f"lists {len(seeds)} outcomes for {result.episodes} episodes"
    elif wins != result.successes:
        problem = f"has {wins} successful outcomes for {result.successes} successes"
    elif len(set(seeds)) != len(seeds):
        problem = "repeats an episode seed"
    if problem:
        raise UserError(
            f"{path} is not a consistent glam evaluation report: test {result.name!r} {problem}"
        )


def _figures(result: _Result, name: str | None = None) -> TestFigures:
    outcomes = None
    if result.outcomes is not None:
        outcomes = tuple(
            EpisodeOutcome(i, o.seed, o.success, o.episode_return, o.length, o.family)
            for i, o in enumerate(result.outcomes)
        )
    return TestFigures(
        name=name or result.name,
        level=result.level,
        episodes=result.episodes,
        successes=result.successes,
        success_rate=result.success_rate,
        ci_low=result.success_ci_low,
        ci_high=result.success_ci_high,
        mean_return=result.mean_return,
        mean_length=result.mean_length,
        outcomes=outcomes,
    )


def _columns(report: _Report, path: Path) -> list[AgentColumn]:
    """The report's agent, its ``--baselines``, and a final report's baseline rows."""
    own: dict[TestKey, TestFigures] = {}
    rows: dict[str, dict[TestKey, TestFigures]] = {}
    for result in report.results:
        if result.group == "baseline" and result.name.endswith(BASELINE_SUFFIX):
            figures = _figures(result, FINAL_BASELINE_TEST)
            rows.setdefault(result.name.removesuffix(BASELINE_SUFFIX), {})[figures.key] = figures
        else:
            figures = _figures(result)
            own[figures.key] = figures
    columns = [AgentColumn(report.agent, path, report.actions, own)]
    for baseline in report.baselines:
        tests = {f.key: f for f in map(_figures, baseline.results)}
        columns.append(AgentColumn(baseline.agent, path, "sampled", tests))
    for name, tests in rows.items():
        columns.append(AgentColumn(name, path, "sampled", tests))
    return columns


# ---------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class Difference:
    """The reference agent minus another on one test, paired by episode seed.

    ``success`` and ``returns`` are ``None`` when the episodes cannot be paired;
    ``reason`` then says why (no per-episode outcomes, no shared seed, ...).
    """

    test: TestKey
    reference: str
    other: str
    success: PairedDifference | None
    returns: PairedMeanDifference | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "other": self.other,
            "success": None if self.success is None else self.success.to_dict(),
            "return": None if self.returns is None else self.returns.to_dict(),
            "not_paired": self.reason,
        }


@dataclass(frozen=True)
class Comparison:
    """Agents (columns) on the tests they all played (rows), and the paired differences."""

    sources: list[ReportSource]
    agents: list[AgentColumn]
    reference: str
    tests: list[TestKey]
    differences: dict[tuple[TestKey, str], Difference]
    notes: list[str] = field(default_factory=list)
    confidence: float = CONFIDENCE

    def agent(self, name: str) -> AgentColumn:
        for column in self.agents:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def others(self) -> list[str]:
        return [column.name for column in self.agents if column.name != self.reference]

    def difference(self, test: TestKey, other: str) -> Difference:
        return self.differences[(test, other)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "ci_method": CI_METHOD,
            "paired_ci_method": PAIRED_CI_METHOD,
            "paired_test": PAIRED_TEST,
            "paired_return_method": PAIRED_RETURN_METHOD,
            "sources": [
                {
                    "given": source.given,
                    "report": str(source.path),
                    "agents": [column.name for column in source.agents],
                }
                for source in self.sources
            ],
            "agents": [
                {"name": c.name, "report": str(c.source), "actions": c.actions} for c in self.agents
            ],
            "reference": self.reference,
            "tests": [
                {
                    "name": name,
                    "level": level,
                    "agents": {c.name: c.tests[(name, level)].to_dict() for c in self.agents},
                    "differences": [
                        self.difference((name, level), other).to_dict() for other in self.others
                    ],
                }
                for name, level in self.tests
            ],
            "notes": list(self.notes),
        }


def compare(
    specs: Sequence[str | os.PathLike[str]],
    *,
    reference: str | None = None,
    confidence: float = CONFIDENCE,
    labels: Sequence[str] | None = None,
) -> Comparison:
    """Read every report (or run) and compare its agents on the tests they share.

    ``labels`` names each argument's agent (its first column; baselines keep their
    names), in order: run directories of a study are all called ``seed-K``.
    Raises a :class:`UserError` for a file that is not a report, fewer than two
    agents, no test common to all, an unknown ``reference`` or a label count that
    is not the number of reports.
    """
    if labels and len(labels) != len(specs):
        raise UserError(
            f"{len(labels)} label(s) for {len(specs)} report(s): give one --label per "
            "report or run, in order"
        )
    sources = [read_source(spec) for spec in specs]
    if labels:
        sources = [_relabel(source, label) for source, label in zip(sources, labels, strict=True)]
    notes: list[str] = []
    agents = _unique_agents(sources, notes)
    if len(agents) < 2:
        found = ", ".join(f"{c.name} ({c.source})" for c in agents)
        raise UserError(
            f"a comparison needs at least two agents; the reports hold one: {found} "
            "(give another report, or evaluate with --baselines)"
        )
    names = [column.name for column in agents]
    if reference is None:
        reference = names[0]
    elif reference not in names:
        raise UserError(
            f"unknown reference agent {reference!r}; the agents are: {', '.join(names)}"
        )
    order: list[TestKey] = []
    for column in agents:
        order += [key for key in column.tests if key not in order]
    shared = [key for key in order if all(key in column.tests for column in agents)]
    if not shared:
        held = "; ".join(f"{c.name}: {', '.join(_test_label(k) for k in c.tests)}" for c in agents)
        raise UserError(f"no test was played by every agent, nothing to compare ({held})")
    notes += _missing_notes(agents, order, shared)
    notes += _outcome_notes(agents)
    actions = {column.actions for column in agents if column.actions is not None}
    if len(actions) > 1:
        notes.append(
            "the agents did not all act the same way: "
            + ", ".join(f"{c.name} {c.actions}" for c in agents if c.actions)
        )
    base = next(column for column in agents if column.name == reference)
    differences = {
        (key, other.name): _difference(key, base, other, confidence, notes)
        for key in shared
        for other in agents
        if other.name != reference
    }
    return Comparison(sources, agents, reference, shared, differences, notes, confidence)


def _relabel(source: ReportSource, label: str) -> ReportSource:
    """``source`` with its first (main) agent called ``label``."""
    main, *others = source.agents
    return dataclasses.replace(source, agents=[dataclasses.replace(main, name=label), *others])


def _unique_agents(sources: Sequence[ReportSource], notes: list[str]) -> list[AgentColumn]:
    """Every agent once: the same agent on the same figures twice is shown once; two
    different agents of one name are told apart by their report's file name."""
    agents: list[AgentColumn] = []
    for source in sources:
        for column in source.agents:
            twin = next((c for c in agents if c.name == column.name), None)
            if twin is None:
                agents.append(column)
            elif twin.same_figures(column):
                notes.append(
                    f"{column.name} is in {twin.source} and {column.source} with the same "
                    "results: shown once"
                )
            else:
                renamed = f"{column.name} [{column.source.name}]"
                suffix = 2
                while any(c.name == renamed for c in agents):
                    renamed = f"{column.name} [{column.source.name} {suffix}]"
                    suffix += 1
                agents.append(AgentColumn(renamed, column.source, column.actions, column.tests))
    return agents


def _test_label(key: TestKey) -> str:
    return f"'{key[0]}' ({key[1]})"


def _missing_notes(
    agents: Sequence[AgentColumn], order: Sequence[TestKey], shared: Sequence[TestKey]
) -> list[str]:
    """One line per set of agents lacking tests: which tests, and who lacks them."""
    missing: dict[tuple[str, ...], list[TestKey]] = {}
    for key in order:
        if key in shared:
            continue
        lacking = tuple(f"{c.name} ({c.source.name})" for c in agents if key not in c.tests)
        missing.setdefault(lacking, []).append(key)
    return [
        f"not compared, missing from {', '.join(lacking)}: {', '.join(map(_test_label, keys))}"
        for lacking, keys in missing.items()
    ]


def _outcome_notes(agents: Sequence[AgentColumn]) -> list[str]:
    return [
        f"{c.name} ({c.source}) has no per-episode outcomes (a report written before glam "
        "kept them): its figures are shown, without a paired difference"
        for c in agents
        if not c.has_outcomes
    ]


def _difference(
    key: TestKey,
    base: AgentColumn,
    other: AgentColumn,
    confidence: float,
    notes: list[str],
) -> Difference:
    a, b = base.tests[key], other.tests[key]

    def unpaired(reason: str) -> Difference:
        notes.append(f"{_test_label(key)}: {base.name} − {other.name} not paired, {reason}")
        return Difference(key, base.name, other.name, None, None, reason)

    if a.outcomes is None or b.outcomes is None:  # said once per agent (_outcome_notes)
        lacking = base.name if a.outcomes is None else other.name
        return Difference(
            key, base.name, other.name, None, None, f"{lacking} has no per-episode outcomes"
        )
    mine, theirs = a.by_seed(), b.by_seed()
    seeds = sorted(mine.keys() & theirs.keys())
    if not seeds:
        return unpaired("no episode seed in common")
    if any(
        mine[s].family is not None
        and theirs[s].family is not None
        and mine[s].family != theirs[s].family
        for s in seeds
    ):
        return unpaired("the same seeds gave different missions (other environment settings)")
    if len(seeds) < max(len(mine), len(theirs)):
        notes.append(
            f"{_test_label(key)}: {base.name} and {other.name} are paired on the "
            f"{len(seeds)} episode seeds they share (of {len(mine)} and {len(theirs)})"
        )
    success = paired_difference(
        [mine[s].success for s in seeds], [theirs[s].success for s in seeds], confidence
    )
    returns = paired_mean_difference(
        [mine[s].episode_return for s in seeds],
        [theirs[s].episode_return for s in seeds],
        confidence,
    )
    return Difference(key, base.name, other.name, success, returns)


# ---------------------------------------------------------------------- rendering


def _success(figures: TestFigures) -> str:
    return f"{figures.success_rate:.3f} [{figures.ci_low:.2f}, {figures.ci_high:.2f}]"


def _difference_cell(difference: Difference) -> str:
    d = difference.success
    if d is None:
        return "-"
    return f"{d.difference:+.3f} [{d.ci_low:+.2f}, {d.ci_high:+.2f}] p={_p(d.p_value)}"


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _minus(comparison: Comparison, other: str) -> str:
    return f"{comparison.reference} − {other}"


def _title(comparison: Comparison) -> str:
    confidence = f"{comparison.confidence:.0%}"
    return (
        f"{len(comparison.agents)} agents on {len(comparison.tests)} test(s): success rate "
        f"[{confidence} {CI_METHOD} CI]; {comparison.reference} − each other agent, paired by "
        f"episode seed [{confidence} CI: {PAIRED_CI_METHOD}; p: {PAIRED_TEST}]"
    )


def _headers(comparison: Comparison) -> list[str]:
    return [
        "test",
        "level",
        *(column.name for column in comparison.agents),
        *(_minus(comparison, other) for other in comparison.others),
    ]


def _rows(comparison: Comparison) -> Iterator[list[str]]:
    for key in comparison.tests:
        yield [
            key[0],
            key[1],
            *(_success(column.tests[key]) for column in comparison.agents),
            *(_difference_cell(comparison.difference(key, o)) for o in comparison.others),
        ]


def _wide_table(comparison: Comparison) -> Table:
    table = Table(title=Text(_title(comparison)), title_justify="left")
    for position, header in enumerate(_headers(comparison)):  # Text: names may hold brackets
        table.add_column(Text(header), overflow="fold", justify="left" if position < 2 else "right")
    for row in _rows(comparison):
        table.add_row(*map(Text, row))
    return table


def _narrow_lines(comparison: Comparison) -> Iterator[Text]:
    """One block per test: each agent's success, then each paired difference."""
    yield Text(_title(comparison), style="italic")
    for key in comparison.tests:
        yield Text(f"{key[0]} · {key[1]}", style="bold")
        for column in comparison.agents:
            figures = column.tests[key]
            yield Text(f"  {column.name}: {_success(figures)}, {figures.episodes} episodes")
        for other in comparison.others:
            difference = comparison.difference(key, other)
            if difference.success is None:
                text = f"not paired: {difference.reason}"
            else:
                text = f"{_difference_cell(difference)}, {difference.success.pairs} pairs"
            yield Text(f"  {_minus(comparison, other)}: {text}")


def rich_comparison(comparison: Comparison) -> RenderableType:
    """Tests as rows and agents as columns where that fits, else one block per test."""
    return FitWidth(_wide_table(comparison), lambda: Group(*_narrow_lines(comparison)))


def to_markdown(comparison: Comparison) -> str:
    """The comparison as a Markdown table, with how it was measured and the notes."""
    headers = _headers(comparison)
    lines = [
        "# Comparison",
        "",
        _title(comparison) + ".",
        "Reports: " + "; ".join(f"`{source.path}`" for source in comparison.sources) + ".",
        "",
        "| " + " | ".join(headers) + " |",
        "|---|---|" + "---:|" * (len(headers) - 2),
    ]
    lines += [
        "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in _rows(comparison)
    ]
    if comparison.notes:
        lines += ["", *(f"- {note}" for note in comparison.notes)]
    return "\n".join(lines) + "\n"


def check_output(path: str | os.PathLike[str]) -> Path:
    """The file a comparison may be written to: ``.json`` or ``.md``."""
    target = Path(path)
    if target.suffix not in (".json", ".md"):
        raise UserError(f"cannot write a comparison to {path}: the file must end in .json or .md")
    return target


def write_comparison(comparison: Comparison, path: str | os.PathLike[str]) -> Path:
    """Write the comparison atomically, as JSON (``.json``) or Markdown (``.md``)."""
    target = check_output(path)
    if target.suffix == ".json":
        return atomic_write_json(target, comparison.to_dict())
    return atomic_write_text(target, to_markdown(comparison))
