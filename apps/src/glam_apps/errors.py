"""Errors the CLI reports as one clear line instead of a traceback.

Exit codes: 2 for a :class:`UserError` (bad input: config, file, model, checkpoint),
3 for a :class:`TrainingDivergedError` (the input was fine, training itself failed).
"""

from __future__ import annotations

import os


class UserError(Exception):
    """A problem with what the user asked for: bad config, missing file, unloadable model."""


class ConfigError(UserError):
    """A configuration that cannot be used: unknown key, bad value, unreadable file."""


class IncompatibleCheckpointError(UserError):
    """A checkpoint written by a run whose configuration does not match this one."""


class RankAgreedError(UserError):
    """An error rank 0 found and every rank of a torchrun launch raises; rank 0 reports it."""


class TrainingDivergedError(Exception):
    """Training stopped because an update's loss or gradient was NaN or infinite.

    Not a :class:`UserError`: nothing the user gave was wrong, so the CLI exits
    with its own code (:data:`EXIT_CODE`) that scripts can tell apart. The run's
    status is ``failed`` and its last checkpoint is left as it was.
    """

    EXIT_CODE = 3


def launch_rank() -> int:
    """This process's rank under torchrun (``RANK``), 0 otherwise; no torch import needed."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0
