"""Generalised advantage estimation (Schulman et al. 2016), as one pure function.

All arrays have shape ``(num_steps, num_envs)``; row ``t`` describes the
transition from observation ``o_t`` by action ``a_t`` to ``o_{t+1}``:

* ``values[t] = V(o_t)``, ``next_values[t] = V(o_{t+1})`` where ``o_{t+1}`` is the
  *real* successor: on the last step of an episode it is the episode's final
  observation, never the first observation of the next episode.
* ``terminated[t]``: the episode ended in a terminal state; its value is 0, so
  there is no bootstrap: ``delta = r - V(o_t)``.
* ``truncated[t]``: the episode was cut (time limit); the final observation is not
  terminal, so ``delta = r + gamma * V(final observation) - V(o_t)``.
* In both cases the advantage does not flow from the next episode into this one.
* ``valid[t] = False`` marks rows that are not transitions at all: with
  Gymnasium's NEXT_STEP autoreset, the step after an episode's end only resets the
  environment (the action is ignored, the reward is 0). Such rows get advantage 0
  and must not be learned from; they also break the recursion.
"""

from __future__ import annotations

import numpy as np


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float,
    gae_lambda: float,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(advantages, returns)`` with ``returns = advantages + values``.

    ``A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}`` with
    ``delta_t = r_t + gamma * (1 - terminated_t) * V(o_{t+1}) - V(o_t)`` and
    ``done_t = terminated_t or truncated_t``. Computed in float64, returned as float32.
    """
    shape = rewards.shape
    for name, array in (
        ("values", values),
        ("next_values", next_values),
        ("terminated", terminated),
        ("truncated", truncated),
    ):
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}, rewards has {shape}")
    if valid is None:
        valid = np.ones(shape, dtype=bool)
    elif valid.shape != shape:
        raise ValueError(f"valid has shape {valid.shape}, rewards has {shape}")

    rewards64 = rewards.astype(np.float64)
    values64 = values.astype(np.float64)
    not_terminal = 1.0 - terminated.astype(np.float64)
    continues = 1.0 - (terminated | truncated).astype(np.float64)
    deltas = rewards64 + gamma * next_values.astype(np.float64) * not_terminal - values64
    decay = gamma * gae_lambda

    advantages = np.zeros(shape, dtype=np.float64)
    running = np.zeros(shape[1:], dtype=np.float64)
    for t in range(shape[0] - 1, -1, -1):
        running = deltas[t] + decay * continues[t] * running
        running = np.where(valid[t], running, 0.0)
        advantages[t] = running
    returns = np.where(valid, advantages + values64, 0.0)
    return advantages.astype(np.float32), returns.astype(np.float32)
