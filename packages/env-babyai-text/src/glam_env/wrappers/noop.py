"""A penalty for steps that change nothing: reward shaping, and so a change of the task.

BabyAI pays only on success (``1 - 0.9 t / max_steps``), so a step wasted on a
blocked ``go forward`` (an object or a wall just ahead), a ``pick up`` with nothing
to pick or a ``drop`` with nothing held costs the agent about 0.014 of return on a
64-step level: too little for a critic that explains nothing to tell apart from
noise. Charging such a step at once gives the policy gradient a signal in the step
it is taken. It is off by default (the paper has no such term), and a run using it
solves a different task: say so when reporting it. Success is unchanged.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["NoOpPenaltyWrapper", "minigrid_state"]

NOOP_INFO = "noop"
"""``info`` key: whether the step changed nothing."""


def minigrid_state(env: gym.Env[Any, Any]) -> tuple[Any, ...]:
    """What a step can change: the agent's cell, direction and load, and the grid."""
    base = env.unwrapped.minigrid_env  # type: ignore[attr-defined]
    carrying = None if base.carrying is None else base.carrying.encode()
    return (tuple(base.agent_pos), int(base.agent_dir), carrying, base.grid.encode().tobytes())


class NoOpPenaltyWrapper(gym.Wrapper[dict[str, Any], int, dict[str, Any], int]):
    """Subtract ``penalty`` from the reward of a step after which the state is unchanged."""

    def __init__(self, env: gym.Env[dict[str, Any], int], penalty: float) -> None:
        if not np.isfinite(penalty) or penalty < 0:
            raise ValueError(f"penalty must be a finite number >= 0, got {penalty!r}")
        super().__init__(env)
        self.penalty = float(penalty)
        self._state: tuple[Any, ...] | None = None
        """The state after the last reset or step: the next step's "before"."""

    def reset(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        result = self.env.reset(**kwargs)
        self._state = minigrid_state(self.env)
        return result

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        before = self._state if self._state is not None else minigrid_state(self.env)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._state = minigrid_state(self.env)
        noop = not terminated and self._state == before
        info = {**info, NOOP_INFO: noop}
        if noop:
            reward = float(reward) - self.penalty
        return obs, reward, terminated, truncated, info
