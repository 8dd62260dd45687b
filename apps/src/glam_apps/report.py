"""Evaluation reports: the data, and its three renderings (rich table, JSON, Markdown).

Building a ``rich`` table is rendering, not printing: the CLI decides where it goes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from glam_apps.atomic import atomic_write_json, atomic_write_text
from glam_apps.stats import CI_METHOD, CONFIDENCE, EpisodeSummary


@dataclass(frozen=True)
class EvalResult:
    """One test of a suite (a level, a text variant, a prompt template) and its outcome."""

    name: str
    level: str
    summary: EpisodeSummary
    variant: str | None = None
    template: str | None = None
    group: str = "test"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "level": self.level,
            "variant": self.variant,
            "template": self.template,
            **self.summary.to_dict(),
        }


@dataclass(frozen=True)
class EvaluationReport:
    """Everything ``glam evaluate`` measured, with what is needed to reproduce it."""

    agent: str
    suite: str
    episodes: int
    seed: int
    greedy: bool
    results: list[EvalResult]
    metadata: dict[str, Any] = field(default_factory=dict)

    def result(self, name: str) -> EvalResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "suite": self.suite,
            "episodes_per_test": self.episodes,
            "seed": self.seed,
            "actions": "greedy" if self.greedy else "sampled",
            "confidence": CONFIDENCE,
            "ci_method": CI_METHOD,
            "metadata": self.metadata,
            "results": [result.to_dict() for result in self.results],
        }


def _ci(summary: EpisodeSummary) -> str:
    return f"[{summary.success_ci_low:.2f}, {summary.success_ci_high:.2f}]"


def _title(report: EvaluationReport) -> str:
    mode = "greedy" if report.greedy else "sampled"
    return (
        f"{report.agent} on suite '{report.suite}' ({report.episodes} episodes per test, "
        f"seed {report.seed}, {mode} actions; success {CONFIDENCE:.0%} CI: {CI_METHOD})"
    )


def rich_table(report: EvaluationReport) -> Table:
    """The report as a ``rich`` table, one row per test."""
    table = Table(title=_title(report), title_justify="left")
    table.add_column("test", overflow="fold")
    table.add_column("level", overflow="fold")
    table.add_column("success", justify="right")
    table.add_column(f"{CONFIDENCE:.0%} CI", justify="right")
    table.add_column("return", justify="right")
    table.add_column("length", justify="right")
    table.add_column("episodes", justify="right")
    previous_group = None
    for result in report.results:
        if previous_group is not None and result.group != previous_group:
            table.add_section()
        previous_group = result.group
        s = result.summary
        table.add_row(
            result.name,
            result.level,
            f"{s.success_rate:.3f}",
            _ci(s),
            f"{s.mean_return:.3f}",
            f"{s.mean_length:.1f}",
            str(s.episodes),
        )
    return table


def to_markdown(report: EvaluationReport) -> str:
    """The report as a Markdown table, with a header saying how it was measured."""
    lines = [
        f"# Evaluation: {report.agent}",
        "",
        _title(report) + ".",
        f"Success rate with a {CONFIDENCE:.0%} confidence interval ({CI_METHOD} score); "
        "return and length are per-episode means.",
        "",
        f"| test | level | success | {CONFIDENCE:.0%} CI | return | length | episodes |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in report.results:
        s = result.summary
        lines.append(
            f"| {result.name} | {result.level} | {s.success_rate:.3f} | {_ci(s)} | "
            f"{s.mean_return:.3f} | {s.mean_length:.1f} | {s.episodes} |"
        )
    return "\n".join(lines) + "\n"


def write_report(
    report: EvaluationReport, directory: str | os.PathLike[str], stem: str
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` atomically; return both paths."""
    folder = Path(directory)
    json_path = atomic_write_json(folder / f"{stem}.json", report.to_dict())
    md_path = atomic_write_text(folder / f"{stem}.md", to_markdown(report))
    return json_path, md_path
