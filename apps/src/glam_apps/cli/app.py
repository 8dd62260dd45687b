"""What every ``glam`` command shares: the Typer app, the two consoles, small formatters."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from glam_apps import __version__
from glam_apps.errors import launch_rank

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
#: How long a rank that raises rank 0's error waits before exiting (see main()).
_AGREED_ERROR_GRACE_SECONDS = 2.0
#: Help of --trust-remote-code, the only way to let a model run its own Python code.
_TRUST_HELP = (
    "Let the model run Python code shipped with it (an auto_map in its config.json). "
    "Off unless given: a run, a saved policy or a config that asks for it is refused."
)


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


def _quiet_transformers() -> None:
    """No download/loading progress bars from transformers under our own display."""
    if _state["debug"]:
        return
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency of glam_policy
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return format(value, spec)


def _error_line(message: object) -> None:
    """One red ``error:`` line on stderr (text, not markup: messages may hold brackets)."""
    text = " ".join(str(message).split())
    where = f"rank {launch_rank()}: " if "WORLD_SIZE" in os.environ else ""
    console.print(Text.assemble((f"{where}error: ", "bold red"), text), soft_wrap=True)


def _unreadable_file(error: BaseException) -> bool:
    """Whether ``error`` is a library's "this file is missing or corrupt" error.

    Looked up in ``sys.modules``: an error of a package never imported cannot
    have been raised, and the CLI stays quick to start.
    """
    for module, name in (("glam_ppo.errors", "CheckpointError"),):
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(error, cls):
            return True
    return False
