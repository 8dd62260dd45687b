"""The `glam` command line: a thin Typer layer over the library calls.

Every command calls one function of ``glam_apps`` (``train.train``,
``evaluate.evaluate``, ``play.PlaySession``, ``plot.plot_runs``) and only renders
its results; that is the only place of the package that prints.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from glam_apps import __version__
from glam_apps.errors import UserError

app = typer.Typer(
    name="glam",
    help="Ground language models in interactive text environments with online RL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
#: Diagnostics and errors go to stderr; results (tables, the game) to stdout.
console = Console(stderr=True)
out = Console(highlight=False)
_state = {"debug": False}


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"glam {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Ground language models in interactive text environments with online RL."""
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


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
    from glam_apps.plot import plot_runs

    path = plot_runs(run_dirs, output, labels=label or None, smooth=smooth, title=title)
    console.print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one red line and exit code 2 (traceback with --debug).

    Typer (standalone mode) already reports usage errors such as an unknown command
    or option as one line with exit code 2; library errors we expect reach here.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args)
    except UserError as error:
        if "--debug" in args:
            raise
        # Text, not markup: the message may hold brackets; soft_wrap keeps it one line.
        console.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
