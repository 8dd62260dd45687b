"""Errors raised by glam_ppo, so that callers can tell training failures apart."""

from __future__ import annotations


class PPOError(Exception):
    """Base class of every error glam_ppo raises on purpose."""


class NonFiniteLossError(PPOError, FloatingPointError):
    """A loss or gradient was NaN or infinite; the update was not applied.

    Applying such an update would silently destroy the parameters, so the trainer
    stops (``on_nonfinite="raise"``, the default) or skips the minibatch
    (``on_nonfinite="skip"``) and counts it in the metrics.
    """


class PolicyOutputError(PPOError, ValueError):
    """The policy answered with logits or values of the wrong shape or type."""


class EnvironmentSpecError(PPOError, ValueError):
    """The vector environment cannot be trained on (action space, autoreset mode...)."""


class CheckpointError(PPOError, RuntimeError):
    """A checkpoint is missing, incomplete or does not fit the current trainer."""
