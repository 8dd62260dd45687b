"""``glam study``: agents x levels x seeds as ordinary runs, into a figure and tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from glam_apps.cli.app import _error_line, _quiet_transformers, app, console, out

#: Exit code when some cells failed (the others ran; the outputs were written).
CELLS_FAILED = 1


@app.command()
def study(
    config: Annotated[
        str,
        typer.Argument(
            help="A packaged study (smoke, quickstart, laptop, paper) or a YAML file.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Study folder (default: runs/studies/<name>)."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cells run at once.", min=1)] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show each cell's state and what would run.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this agent's cells (repeatable)."),
    ] = None,
) -> None:
    """Run a study: every (agent, level, seed) as a run, then curves.png and the tables.

    Cells already done are skipped, interrupted ones resumed; the outputs are
    rebuilt from the run directories on every call.
    """
    from glam_apps.study.runner import StudyEvent, run_study

    def on_event(event: StudyEvent) -> None:
        if event.kind == "start":
            console.print(f"[{event.position}/{event.total}] {event.message}", highlight=False)
        elif event.kind == "end":
            style = "red" if ": failed" in event.message else None
            console.print(Text(f"  {event.message}", style=style or ""), soft_wrap=True)
        elif event.kind == "note":
            console.print(Text(event.message, style="dim"), soft_wrap=True)

    _quiet_transformers()
    result = run_study(config, output, jobs=jobs, only=only, dry_run=dry_run, on_event=on_event)
    if dry_run:
        out.print(_plan_table(result))
        return
    for path in result.outputs:
        console.print(f"wrote {path}", highlight=False)
    skipped = len(result.cells) - len(result.ran)
    console.print(
        f"study folder {result.root}: {len(result.ran)} cell(s) run, {skipped} already done"
        + (f", {len(result.missing)} not done" if result.missing else ""),
        highlight=False,
        soft_wrap=True,
    )
    if result.interrupted:
        console.print(f"interrupted: continue with glam study {config} --out {result.root}")
        raise typer.Exit(130)
    if result.failed:
        names = ", ".join(cell.key for cell in result.failed)
        _error_line(
            f"{len(result.failed)} cell(s) failed: {names} (logs in {result.root / 'logs'}); "
            "the next call tries them again"
        )
        raise typer.Exit(CELLS_FAILED)


def _plan_table(result: Any) -> Table:
    table = Table(
        title=f"study {result.plan.study.name} in {result.root} (dry run: nothing written)",
        title_justify="left",
        caption="each cell runs as: python -m glam_apps.study STUDY_FOLDER CELL",
    )
    table.add_column("cell", overflow="fold")
    table.add_column("state")
    table.add_column("what runs", overflow="fold")
    roles = {cell.key: cell.role for cell in result.plan.cells}
    first = {"trained": "train", "cloned": "clone", "evaluated": "evaluate"}
    for item in result.cells:
        role = roles[item.key]
        what = {
            "done": "nothing",
            "new": f"{first[role]}, evaluate" if role != "evaluated" else "evaluate",
            "resume": "resume (glam train --resume), evaluate",
            "evaluate": "evaluate",
        }[item.state]
        table.add_row(item.key, item.state, what)
    return table
