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


class RemoteCodeError(ModelLoadError):
    """A model or a saved policy asks to run Python code of its own, and nobody opted in.

    Loading such a model imports a file that came with it: running a stranger's
    program. A file (a saved policy's ``policy_config.json``, a model's
    ``config.json`` with an ``auto_map``) can only ask; the caller decides, per
    call, with ``trust_remote_code=True`` (``glam ... --trust-remote-code``).
    ``path`` is the file (or hub model) that asked, ``what`` how it asked.
    """

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = " ".join(str(what).split())
        self.model = path
        self.reason = f"asks to run Python code shipped with the model ({self.what})"
        RuntimeError.__init__(
            self,
            f"{path} {self.reason}; refused: only the caller can allow it, with "
            "trust_remote_code=True (glam: --trust-remote-code)",
        )


class SavedPolicyError(ValueError):
    """A saved policy's file is missing, truncated or not what its name says.

    The message names the file, so that the one line a user sees says which
    file to restore (nothing is ever unpickled to find out).
    """


class PolicyInputError(ValueError):
    """An observation the policy cannot score (no action, an action without tokens, ...)."""
