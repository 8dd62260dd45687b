"""Gymnasium registration of the text levels (filled in by the env issue)."""

from __future__ import annotations


def register_envs() -> None:
    """Register every text level with Gymnasium; safe to call more than once."""
