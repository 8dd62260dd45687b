"""``glam plot``: learning curves of run directories as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from glam_apps.cli.app import app, console, out

# ---------------------------------------------------------------------- plot


@app.command()
def plot(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories, or folders of runs (the seed-K runs of glam train --seeds).",
            show_default=False,
        ),
    ],
    output: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path(
        "curves.png"
    ),
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="A metric to plot, one panel each (repeatable): a metrics.jsonl key, "
            "eval/KEY, or a TensorBoard tag (see --list-metrics). "
            "Default: success rate and return.",
        ),
    ] = None,
    group: Annotated[
        bool,
        typer.Option(
            "--group/--no-group",
            help="Draw runs that differ only by seed as one mean curve with a 95% band.",
        ),
    ] = True,
    list_metrics: Annotated[
        bool, typer.Option("--list-metrics", help="List the metrics the runs have and exit.")
    ] = False,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="Legend name of each line, in order (default: dir name)."),
    ] = None,
    smooth: Annotated[
        int, typer.Option(help="Moving-average window over training updates.", min=1)
    ] = 1,
    title: Annotated[str | None, typer.Option(help="Figure title.")] = None,
) -> None:
    """Learning curves of one or several runs against env steps, as a PNG."""
    from glam_apps.analysis.plot import metric_names, plot_runs

    if list_metrics:
        infos, total = metric_names(run_dirs)
        for info in infos:
            where = "" if info.runs == total else f"  ({info.runs} of {total} runs)"
            tag = f" ({info.tag})" if info.tag else ""
            out.print(Text(f"{info.name}{tag}  {info.source}{where}"), soft_wrap=True)
        return
    path = plot_runs(
        run_dirs,
        output,
        metrics=metric or None,
        group=group,
        labels=label or None,
        smooth=smooth,
        title=title,
    )
    console.print(Text(f"wrote {path}"), soft_wrap=True)
