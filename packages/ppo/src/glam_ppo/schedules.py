"""Hyperparameter schedules as pure functions of training progress.

``factor(kind, iteration, num_iterations)`` multiplies a base value (each
parameter group's learning rate, the clip coefficient). ``"linear"`` anneals to
zero as in CleanRL: the first update uses the full value, update ``i`` (0-based)
of ``n`` uses ``1 - i / n``. Being a function of the iteration counter only, a
schedule needs no state of its own to resume exactly.
"""

from __future__ import annotations

from typing import Literal


def schedule_factor(
    kind: Literal["constant", "linear"], iteration: int, num_iterations: int
) -> float:
    """Multiplier of the base value at 0-based ``iteration`` out of ``num_iterations``."""
    if kind == "constant":
        return 1.0
    if kind == "linear":
        if num_iterations <= 0:
            raise ValueError(f"num_iterations must be positive, got {num_iterations}")
        return max(0.0, 1.0 - iteration / num_iterations)
    raise ValueError(f"unknown schedule {kind!r}; choose 'constant' or 'linear'")
