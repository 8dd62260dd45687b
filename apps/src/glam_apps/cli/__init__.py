"""The `glam` command line: a thin Typer layer over the library calls.

Each command lives in its own module of this package, calls one function of
``glam_apps`` and only renders its results; this package is the only place of
``glam_apps`` that prints. :func:`main` turns expected errors into one line.
"""

from __future__ import annotations

import sys
import time

from glam_apps.cli import compare, evaluate, play, plot, study, train, watch  # noqa: F401  (registers the commands)
from glam_apps.cli.app import (
    _AGREED_ERROR_GRACE_SECONDS,
    _error_line,
    _unreadable_file,
    app,
    console,
)
from glam_apps.errors import RankAgreedError, TrainingDivergedError, UserError, launch_rank

__all__ = ["app", "main"]

#: The order ``glam --help`` lists the commands in (unlisted ones come last).
COMMAND_ORDER = ("train", "evaluate", "watch", "compare", "plot", "study", "play", "clone")
app.registered_commands.sort(
    key=lambda command: (
        COMMAND_ORDER.index(command.callback.__name__)
        if command.callback is not None and command.callback.__name__ in COMMAND_ORDER
        else len(COMMAND_ORDER)
    )
)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one red line and exit code 2 (traceback with --debug).

    Typer (standalone mode) already reports usage errors such as an unknown command
    or option as one line with exit code 2; library errors we expect reach here.
    Exit codes: 2 bad input (a :class:`UserError`, or a checkpoint file that is
    missing or corrupt), 3 training diverged (a NaN loss: the run is ``failed``),
    130 interrupted.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args)
    except KeyboardInterrupt:
        if "--debug" in args:
            raise
        console.print("interrupted", style="bold red")
        sys.exit(130)
    except UserError as error:
        if "--debug" in args:
            raise
        if isinstance(error, RankAgreedError):
            # Rank 0 reports this one. torchrun ends every rank once one exits: leave
            # rank 0 the moment it needs to print before this exit makes it stop.
            time.sleep(_AGREED_ERROR_GRACE_SECONDS)
            sys.exit(2)
        _error_line(error)
        sys.exit(2)
    except TrainingDivergedError as error:
        if "--debug" in args:
            raise
        if launch_rank() != 0:
            # glam_ppo detects a non-finite loss or gradient over all ranks, so every
            # rank raises this at the same update: rank 0 alone reports it.
            time.sleep(_AGREED_ERROR_GRACE_SECONDS)
        else:
            _error_line(error)
        sys.exit(TrainingDivergedError.EXIT_CODE)
    except Exception as error:
        if "--debug" in args or not _unreadable_file(error):
            raise
        _error_line(error)
        sys.exit(2)
