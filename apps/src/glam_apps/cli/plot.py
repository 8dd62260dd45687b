"""``glam plot``: learning curves of run directories as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glam_apps.cli.app import app, console

# ---------------------------------------------------------------------- plot


@app.command()
def plot(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="One or more run directories.", show_default=False)
    ],
    output: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path(
        "curves.png"
    ),
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="Legend name of each run, in order (default: dir name)."),
    ] = None,
    smooth: Annotated[
        int, typer.Option(help="Moving-average window over training updates.", min=1)
    ] = 1,
    title: Annotated[str | None, typer.Option(help="Figure title.")] = None,
) -> None:
    """Success rate and return against env steps for one or several runs, as a PNG."""
    from glam_apps.analysis.plot import plot_runs

    path = plot_runs(run_dirs, output, labels=label or None, smooth=smooth, title=title)
    console.print(f"wrote {path}")
