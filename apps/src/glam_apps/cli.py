"""The `glam` command line: a thin Typer layer over the library calls."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from glam_apps import __version__
from glam_apps.errors import UserError

app = typer.Typer(
    name="glam",
    help="Ground language models in interactive text environments with online RL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
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
        console.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
