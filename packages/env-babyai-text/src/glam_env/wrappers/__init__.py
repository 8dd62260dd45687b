"""Gymnasium wrappers for the text games of this package."""

from glam_env.wrappers.history import HistoryWrapper
from glam_env.wrappers.noop import NoOpPenaltyWrapper

__all__ = ["HistoryWrapper", "NoOpPenaltyWrapper"]
