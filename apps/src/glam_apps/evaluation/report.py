"""Evaluation reports: the data, and its three renderings (rich table, JSON, Markdown).

Building a ``rich`` table is rendering, not printing: the CLI decides where it goes.

A report may be partial: ``glam evaluate`` writes it after every test, so a run
stopped mid-suite keeps what finished (``pending`` names the tests not run yet),
and a test that raised is listed in ``failures`` with its error rather than
losing the others. Columns about the spread across seeds appear only when more
than one seed was played.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from glam_apps.evaluation.stats import CI_METHOD, CONFIDENCE, EpisodeSummary, SeedSpread
from glam_apps.runs.atomic import atomic_write_json, atomic_write_text

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

    @property
    def complete(self) -> bool:
        """Every test of the suite was played (finished or failed)."""
        return not self.pending

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
        return data


def _ci(low: float, high: float) -> str:
    return f"[{low:.2f}, {high:.2f}]"


def _seed_cells(result: EvalResult) -> list[str]:
    spread = result.across_seeds
    if spread is None:
        return ["-", "-", "-"]
    return [
        f"{spread.mean:.3f}",
        _ci(spread.ci_low, spread.ci_high),
        f"±{spread.paper_half_width:.3f}",
    ]


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
    return (
        f"{report.agent} on suite '{report.suite}' ({amount}, {mode} actions; "
        f"success {CONFIDENCE:.0%} CI: {CI_METHOD})"
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
    return ["test", "level", "success", *middle, "return", "length", "episodes"]


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
    ]


def _failed_row(report: EvaluationReport, failure: TestFailure) -> list[str]:
    return [failure.name, failure.level, "failed", *["-"] * (len(_headers(report)) - 3)]


def _status_lines(report: EvaluationReport) -> list[str]:
    lines = [
        f"Failed: {failure.name} ({failure.level}): {failure.error}" for failure in report.failures
    ]
    if report.pending:
        lines.append(f"Incomplete: not run yet: {', '.join(report.pending)}.")
    return lines


def rich_table(report: EvaluationReport) -> Table:
    """The report as a ``rich`` table, one row per test (failed tests marked ``failed``)."""
    table = Table(title=_title(report), title_justify="left")
    for position, header in enumerate(_headers(report)):
        table.add_column(header, overflow="fold", justify="left" if position < 2 else "right")
    previous_group = None
    for result in report.results:
        if previous_group is not None and result.group != previous_group:
            table.add_section()
        previous_group = result.group
        table.add_row(*_row(report, result))
    if report.failures:
        table.add_section()
        for failure in report.failures:
            table.add_row(*_failed_row(report, failure), style="red")
    if report.pending:
        table.caption = f"not run yet: {', '.join(report.pending)}"
    return table


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


def write_report(
    report: EvaluationReport, directory: str | os.PathLike[str], stem: str
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` atomically; return both paths."""
    folder = Path(directory)
    json_path = atomic_write_json(folder / f"{stem}.json", report.to_dict())
    md_path = atomic_write_text(folder / f"{stem}.md", to_markdown(report))
    return json_path, md_path
