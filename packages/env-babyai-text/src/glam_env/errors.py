"""Exceptions of glam_env, one per way a caller can misuse an environment.

Each subclasses the built-in (or Gymnasium) exception a caller would already
catch for that mistake, so ``except ValueError`` keeps working, while
``except GlamEnvError`` catches everything this package raises on purpose.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from gymnasium.error import ResetNeeded


class GlamEnvError(Exception):
    """Base class of the errors glam_env raises on purpose."""


class UnknownLevelError(GlamEnvError, ValueError):
    """A level name that no registered BabyAI-Text level matches."""

    def __init__(self, name: str, valid: Iterable[str]) -> None:
        valid = sorted(valid)
        close = difflib.get_close_matches(name, valid, n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        # The paper's levels name the common case; the full list (100+) would bury
        # the hint, so it is one call away instead.
        paper = [v for v in valid if v.endswith(("Local", "French"))][:8]
        super().__init__(
            f"unknown level {name!r}.{hint} {len(valid)} levels exist, e.g. "
            f"{', '.join(paper)}; glam_env.list_levels() lists them all"
        )
        self.name = name
        self.close_matches = tuple(close)


class InvalidActionError(GlamEnvError, ValueError):
    """An action that is not the index of one of the admissible actions."""


class ResetNeededError(GlamEnvError, ResetNeeded):
    """``step`` was called before the first ``reset``."""


class EpisodeEndedError(ResetNeededError):
    """``step`` was called after the episode terminated or was truncated, without ``reset``."""


class LevelGenerationError(GlamEnvError, RuntimeError):
    """A level could not generate an episode within its budget of attempts."""


class ExpertFailure(GlamEnvError, RuntimeError):
    """The BabyAI bot cannot give an action for the current state (or cannot solve the level)."""
