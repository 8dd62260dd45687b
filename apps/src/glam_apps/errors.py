"""Errors the CLI reports as one clear line (exit code 2) instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user asked for: bad config, missing file, unloadable model."""


class ConfigError(UserError):
    """A configuration that cannot be used: unknown key, bad value, unreadable file."""


class IncompatibleCheckpointError(UserError):
    """A checkpoint written by a run whose configuration does not match this one."""
