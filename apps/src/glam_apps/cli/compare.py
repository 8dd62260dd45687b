"""``glam compare``: agents side by side from evaluation reports and runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from glam_apps.cli.app import app, console, out
from glam_apps.errors import UserError

# ---------------------------------------------------------------------- compare


@app.command()
def compare(
    reports: Annotated[
        list[str],
        typer.Argument(
            help="Evaluation reports (.json of glam evaluate) or run directories "
            "(their eval/final.json).",
            metavar="REPORT_OR_RUN...",
            show_default=False,
        ),
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            help="The agent the others are compared with, episode by episode (default: the first).",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            help="A name for each report's agent, in order (repeat once per report).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="What to print: table, markdown or json.")
    ] = "table",
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Also write the comparison to this file (.json or .md).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Compare agents on the tests and seeds their reports share.

    Tests are rows and agents columns: each agent's success rate with its 99%
    interval, then the reference agent minus each other one, paired by episode
    seed, with its interval and p-value.
    """
    from glam_apps.analysis.compare import (
        FORMATS,
        check_output,
        rich_comparison,
        to_markdown,
        write_comparison,
    )
    from glam_apps.analysis.compare import compare as run_comparison

    if output_format not in FORMATS:
        raise UserError(f"unknown format {output_format!r}; choose {', '.join(FORMATS)}")
    if output is not None:
        check_output(output)
    comparison = run_comparison(reports, reference=reference, labels=label or None)
    for source in comparison.sources:  # text, not markup: names and paths may hold brackets
        agents = ", ".join(column.name for column in source.agents)
        read = f"run {source.given}: {source.path}" if source.run else str(source.path)
        console.print(Text(f"{read} ({agents})", style="dim"), soft_wrap=True)
    for note in comparison.notes:
        console.print(Text.assemble(("note: ", "yellow"), note), soft_wrap=True)
    if output_format == "json":
        text = json.dumps(comparison.to_dict(), indent=2)
        out.print(text, markup=False, highlight=False, soft_wrap=True)
    elif output_format == "markdown":
        out.print(to_markdown(comparison), end="", markup=False, soft_wrap=True)
    else:
        out.print(rich_comparison(comparison))
    if output is not None:
        console.print(f"wrote {write_comparison(comparison, output)}", highlight=False)
