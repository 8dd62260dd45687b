"""Errors the CLI reports as one clear line (exit code 2) instead of a traceback."""

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


def launch_rank() -> int:
    """This process's rank under torchrun (``RANK``), 0 otherwise; no torch import needed."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0
