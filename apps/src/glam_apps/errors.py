"""Errors the CLI reports as one clear line (exit code 2) instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user asked for: bad config, missing file, unloadable model."""
