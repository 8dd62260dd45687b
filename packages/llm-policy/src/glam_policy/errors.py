"""Errors of the policy package, each saying what went wrong in one line.

The command line shows these messages as they are, so they name the thing at
fault (the model, the observation, the action) and the reason.
"""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A language model or its tokenizer could not be loaded.

    ``model`` is the hub name or path that was asked for, ``reason`` the cause
    (a missing file, an unknown architecture, a refused remote code, ...).
    """

    #: Longest reason kept in the message (HF errors may list every supported class).
    MAX_REASON = 400

    def __init__(self, model: str, reason: str) -> None:
        self.model = model
        reason = " ".join(str(reason).split())  # one line, whatever the cause printed
        if len(reason) > self.MAX_REASON:
            reason = reason[: self.MAX_REASON - 3] + "..."
        self.reason = reason
        super().__init__(f"cannot load model {model!r}: {self.reason}")


class PolicyInputError(ValueError):
    """An observation the policy cannot score (no action, an action without tokens, ...)."""
