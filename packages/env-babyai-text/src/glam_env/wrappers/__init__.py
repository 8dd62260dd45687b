"""Gymnasium wrappers for the text games of this package."""

from glam_env.wrappers.history import HistoryWrapper

__all__ = ["HistoryWrapper"]
