"""Evaluation reports: the data, and its three renderings (rich table, JSON, Markdown).

Building a ``rich`` table is rendering, not printing: the CLI decides where it goes.
The table adapts to the width it is given (:class:`FitWidth`): where the whole
table fits it is a table, else (a CI log, a file, an 80-column terminal) every
test is a short block of lines, so no cell is ever cut.

Every result keeps its episodes (``outcomes``: seed, success, return, length,
family), one line each in the JSON, so that ``glam compare`` can pair agents
episode by episode. Baselines played on the same tests and seeds
(``glam evaluate --baselines``) are reports of their own inside the report,
shown as extra columns.

A report may be partial: ``glam evaluate`` writes it after every test, so a run
stopped mid-suite keeps what finished (``pending`` names the tests not run yet),
and a test that raised is listed in ``failures`` with its error rather than
losing the others. Columns about the spread across seeds appear only when more
than one seed was played.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from glam_apps.evaluation.stats import CI_METHOD, CONFIDENCE, EpisodeSummary, SeedSpread
from glam_apps.runs.atomic import atomic_write_text

#: How the across-seeds columns are computed, as written in the reports.
SEEDS_CI_METHOD = "student-t over per-seed success rates"
PAPER_CI_METHOD = "z * std / sqrt(seeds) (the paper's test_results.py)"


@dataclass(frozen=True)
class EvalResult:
    """One test of a suite (a level, a text variant, a prompt template) and its outcome.

    ``summary`` pools the episodes of every seed; ``across_seeds`` (only when
    more than one seed was played) is the spread of the per-seed success rates.
    """

    name: str
    level: str
    summary: EpisodeSummary
    variant: str | None = None
    template: str | None = None
    group: str = "test"
    across_seeds: SeedSpread | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "group": self.group,
            "level": self.level,
            "variant": self.variant,
            "template": self.template,
            **self.summary.to_dict(),
        }
        if self.across_seeds is not None:
            data["across_seeds"] = self.across_seeds.to_dict()
        if self.summary.outcomes:
            data["outcomes"] = [outcome.to_dict() for outcome in self.summary.outcomes]
        return data


@dataclass(frozen=True)
class TestFailure:
    """A test that raised instead of finishing: its name, level and the error, on one line."""

    name: str
    level: str
    error: str

    __test__ = False  # not a pytest class

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "error": self.error}


@dataclass(frozen=True)
class EvaluationReport:
    """Everything ``glam evaluate`` measured, with what is needed to reproduce it.

    ``episodes`` is per test and per seed; seed ``k`` of ``seeds`` plays the
    episode seeds ``seed + k * episodes`` onwards (:attr:`seed_starts`).
    ``baselines``: other agents on the same tests and seeds, one report each.
    """

    agent: str
    suite: str
    episodes: int
    seed: int
    greedy: bool
    results: list[EvalResult]
    metadata: dict[str, Any] = field(default_factory=dict)
    seeds: int = 1
    num_envs: int | None = None
    failures: list[TestFailure] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    baselines: list[EvaluationReport] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every test of the suite was played (finished or failed), by every baseline too."""
        return not self.pending and all(b.complete for b in self.baselines)

    @property
    def all_failures(self) -> list[tuple[str, TestFailure]]:
        """``(agent, failure)`` of the agent's failed tests, then of its baselines'."""
        return [(self.agent, f) for f in self.failures] + [
            (b.agent, f) for b in self.baselines for f in b.failures
        ]

    @property
    def seed_starts(self) -> list[int]:
        """The first episode seed of each seed's block of episodes."""
        return [self.seed + k * self.episodes for k in range(self.seeds)]

    def result(self, name: str) -> EvalResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "agent": self.agent,
            "suite": self.suite,
            "episodes_per_test": self.episodes * self.seeds,
        }
        if self.seeds > 1:
            data.update(
                seeds=self.seeds,
                episodes_per_seed=self.episodes,
                seed_starts=self.seed_starts,
                across_seeds_ci_method=SEEDS_CI_METHOD,
                paper_ci_method=PAPER_CI_METHOD,
            )
        data.update(
            seed=self.seed,
            actions="greedy" if self.greedy else "sampled",
            confidence=CONFIDENCE,
            ci_method=CI_METHOD,
        )
        if self.num_envs is not None:
            data["num_envs"] = self.num_envs
        data.update(
            complete=self.complete,
            pending=list(self.pending),
            failed=[failure.to_dict() for failure in self.failures],
            metadata=self.metadata,
            results=[result.to_dict() for result in self.results],
        )
        if self.baselines:
            data["baselines"] = [
                {
                    "agent": baseline.agent,
                    "complete": baseline.complete,
                    "pending": list(baseline.pending),
                    "failed": [failure.to_dict() for failure in baseline.failures],
                    "results": [result.to_dict() for result in baseline.results],
                }
                for baseline in self.baselines
            ]
        return data


def _ci(low: float, high: float) -> str:
    return f"[{low:.2f}, {high:.2f}]"


def success_cell(summary: EpisodeSummary) -> str:
    """``0.420 [0.25, 0.61]``: a success rate and its interval, as one cell."""
    return f"{summary.success_rate:.3f} {_ci(summary.success_ci_low, summary.success_ci_high)}"


def _seed_cells(result: EvalResult) -> list[str]:
    spread = result.across_seeds
    if spread is None:
        return ["-", "-", "-"]
    return [
        f"{spread.mean:.3f}",
        _ci(spread.ci_low, spread.ci_high),
        f"±{spread.paper_half_width:.3f}",
    ]


def _baseline_cell(baseline: EvaluationReport, name: str) -> str:
    """A baseline's success on the test ``name``, ``failed``, or ``-`` (not played)."""
    for result in baseline.results:
        if result.name == name:
            return success_cell(result.summary)
    if any(failure.name == name for failure in baseline.failures):
        return "failed"
    return "-"


def _title(report: EvaluationReport) -> str:
    mode = "greedy" if report.greedy else "sampled"
    if report.seeds > 1:
        amount = (
            f"{report.seeds} seeds x {report.episodes} episodes per test, "
            f"episode seeds from {report.seed}"
        )
    else:
        amount = f"{report.episodes} episodes per test, seed {report.seed}"
    protocol = report.metadata.get("protocol")
    if isinstance(protocol, dict) and protocol.get("name"):
        changed = protocol.get("overridden") or []
        amount += f", {protocol['name']} protocol" + (
            f" (overridden: {', '.join(changed)})" if changed else ""
        )
    baselines = (
        f"; baselines on the same seeds: {', '.join(b.agent for b in report.baselines)}"
        if report.baselines
        else ""
    )
    return (
        f"{report.agent} on suite '{report.suite}' ({amount}, {mode} actions; "
        f"success {CONFIDENCE:.0%} CI: {CI_METHOD}{baselines})"
    )


def _headers(report: EvaluationReport) -> list[str]:
    confidence = f"{CONFIDENCE:.0%}"
    if report.seeds > 1:
        middle = [
            f"{confidence} CI episodes",
            "seed mean",
            f"{confidence} CI seeds (t)",
            "paper ± (z)",
        ]
    else:
        middle = [f"{confidence} CI"]
    baselines = [f"{b.agent} [{confidence} CI]" for b in report.baselines]
    return ["test", "level", "success", *middle, "return", "length", "episodes", *baselines]


def _row(report: EvaluationReport, result: EvalResult) -> list[str]:
    s = result.summary
    seeds = _seed_cells(result) if report.seeds > 1 else []
    return [
        result.name,
        result.level,
        f"{s.success_rate:.3f}",
        _ci(s.success_ci_low, s.success_ci_high),
        *seeds,
        f"{s.mean_return:.3f}",
        f"{s.mean_length:.1f}",
        str(s.episodes),
        *(_baseline_cell(b, result.name) for b in report.baselines),
    ]


def _failed_row(report: EvaluationReport, failure: TestFailure) -> list[str]:
    own = len(_headers(report)) - 3 - len(report.baselines)
    return [
        failure.name,
        failure.level,
        "failed",
        *["-"] * own,
        *(_baseline_cell(b, failure.name) for b in report.baselines),
    ]


def _status_lines(report: EvaluationReport) -> list[str]:
    lines = [
        f"Failed: {failure.name} ({failure.level}): {failure.error}" for failure in report.failures
    ]
    lines += [
        f"Failed ({baseline.agent}): {failure.name} ({failure.level}): {failure.error}"
        for baseline in report.baselines
        for failure in baseline.failures
    ]
    pending = _pending(report)
    if pending:
        lines.append(f"Incomplete: not run yet: {', '.join(pending)}.")
    return lines


def _pending(report: EvaluationReport) -> list[str]:
    """Tests not played yet: the agent's, then each baseline's (named with it)."""
    return list(report.pending) + [
        f"{name} ({baseline.agent})" for baseline in report.baselines for name in baseline.pending
    ]


class FitWidth:
    """A wide table where it fits on the console, else a narrow rendering of the same.

    ``rich`` squeezes a table that is too wide by cutting its cells ("…") or
    breaking them letter by letter, which is what a CI log or a file (80 columns)
    got. Here the table is measured unwrapped first: if it does not fit, the
    narrow rendering (short lines that wrap at spaces) is drawn instead.
    """

    def __init__(self, wide: Table, narrow: Callable[[], RenderableType]) -> None:
        self.wide = wide
        self.narrow = narrow

    def fits(self, console: Console, options: ConsoleOptions) -> bool:
        """Whether the wide table fits in ``options.max_width`` without wrapping a cell."""
        unbounded = options.update_width(100_000)
        return Measurement.get(console, unbounded, self.wide).maximum <= options.max_width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.wide if self.fits(console, options) else self.narrow()


def _wide_table(report: EvaluationReport) -> Table:
    table = Table(title=Text(_title(report)), title_justify="left")
    for position, header in enumerate(_headers(report)):  # Text: names may hold brackets
        table.add_column(Text(header), overflow="fold", justify="left" if position < 2 else "right")
    previous_group = None
    for result in report.results:
        if previous_group is not None and result.group != previous_group:
            table.add_section()
        previous_group = result.group
        table.add_row(*map(Text, _row(report, result)))
    if report.failures:
        table.add_section()
        for failure in report.failures:
            table.add_row(*map(Text, _failed_row(report, failure)), style="red")
    pending = _pending(report)
    if pending:
        table.caption = Text(f"not run yet: {', '.join(pending)}")
    return table


def _narrow_lines(report: EvaluationReport) -> Iterator[Text]:
    """One block per test: its name and level, then its figures, a few to a line."""
    yield Text(_title(report), style="italic")
    for result in report.results:
        s = result.summary
        yield Text(f"{result.name} · {result.level}", style="bold")
        yield Text(
            f"  success {success_cell(s)}  return {s.mean_return:.3f}  "
            f"length {s.mean_length:.1f}  episodes {s.episodes}"
        )
        spread = result.across_seeds
        if report.seeds > 1 and spread is not None:
            yield Text(
                f"  seeds: mean {spread.mean:.3f}  {CONFIDENCE:.0%} CI (t) "
                f"{_ci(spread.ci_low, spread.ci_high)}  paper ±{spread.paper_half_width:.3f}"
            )
        for baseline in report.baselines:
            yield Text(f"  {baseline.agent}: {_baseline_cell(baseline, result.name)}")
    for failure in report.failures:
        yield Text(f"{failure.name} · {failure.level}: failed", style="bold red")
        for baseline in report.baselines:
            yield Text(f"  {baseline.agent}: {_baseline_cell(baseline, failure.name)}")
    pending = _pending(report)
    if pending:
        yield Text(f"not run yet: {', '.join(pending)}", style="dim")


def rich_table(report: EvaluationReport) -> FitWidth:
    """The report for a ``rich`` console: a table with one row per test where it fits,
    else one block per test (failed tests marked ``failed``; baselines as extra columns)."""
    return FitWidth(_wide_table(report), lambda: Group(*_narrow_lines(report)))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: EvaluationReport) -> str:
    """The report as a Markdown table, with a header saying how it was measured."""
    headers = _headers(report)
    lines = [
        f"# Evaluation: {report.agent}",
        "",
        _title(report) + ".",
        f"Success rate with a {CONFIDENCE:.0%} confidence interval ({CI_METHOD} score"
        + (" on the episodes of all seeds" if report.seeds > 1 else "")
        + "); return and length are per-episode means.",
    ]
    if report.seeds > 1:
        lines.append(
            "Across seeds: the mean of the per-seed success rates with a Student-t "
            f"{CONFIDENCE:.0%} interval (very wide for few seeds), and the paper's "
            "± z·std/√seeds."
        )
    if report.baselines:
        lines.append(
            "Baseline columns: each baseline's success rate and its "
            f"{CONFIDENCE:.0%} {CI_METHOD} interval on the same tests and episode seeds "
            "(`glam compare` on this file gives the paired differences)."
        )
    lines += [
        "",
        "| " + " | ".join(headers) + " |",
        "|---|---|" + "---:|" * (len(headers) - 2),
    ]
    rows = [_row(report, result) for result in report.results]
    rows += [_failed_row(report, failure) for failure in report.failures]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    status = _status_lines(report)
    if status:
        lines += ["", *(f"- {line}" for line in status)]
    return "\n".join(lines) + "\n"


#: Stands for a list of outcomes while the rest of the report is indented.
_OUTCOMES_TOKEN = re.compile(r'^( *)("outcomes": )"@outcomes:(\d+)@"', re.MULTILINE)


def report_json(data: dict[str, Any]) -> str:
    """``data`` as indented JSON, except that each episode outcome takes one line.

    Plain indentation would spend seven lines on every episode (tens of thousands
    for the paper's protocol); one line each keeps the file readable and diffable.
    """
    lists: list[list[Any]] = []

    def hide(value: Any) -> Any:
        if isinstance(value, dict):
            copy = {}
            for key, item in value.items():
                if key == "outcomes" and isinstance(item, list):
                    lists.append(item)
                    copy[key] = f"@outcomes:{len(lists) - 1}@"
                else:
                    copy[key] = hide(item)
            return copy
        if isinstance(value, list):
            return [hide(item) for item in value]
        return value

    text = json.dumps(hide(data), indent=2)

    def show(match: re.Match[str]) -> str:
        indent, key, number = match.group(1), match.group(2), int(match.group(3))
        items = lists[number]
        if not items:
            return f"{indent}{key}[]"
        inner = ",\n".join(f"{indent}  {json.dumps(item)}" for item in items)
        return f"{indent}{key}[\n{inner}\n{indent}]"

    return _OUTCOMES_TOKEN.sub(show, text) + "\n"


def write_report(
    report: EvaluationReport, directory: str | os.PathLike[str], stem: str
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` atomically; return both paths."""
    folder = Path(directory)
    json_path = atomic_write_text(folder / f"{stem}.json", report_json(report.to_dict()))
    md_path = atomic_write_text(folder / f"{stem}.md", to_markdown(report))
    return json_path, md_path
