"""Reward scaling: a constant factor and, optionally, return-based normalisation.

The constant factor is the paper's ``reward x 20``. Normalisation divides rewards
by the running standard deviation of the discounted return (the reward half of
SB3's ``VecNormalize`` / Gymnasium's ``NormalizeReward``), which keeps value
targets of order one whatever the reward's unit. Only the learning signal is
scaled; episode statistics always report raw rewards.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RunningMeanStd:
    """Mean and variance of a stream of batches (parallel algorithm of Chan et al.)."""

    def __init__(self) -> None:
        self.mean = 0.0
        self.var = 1.0
        self.count = 1e-4

    def update(self, batch: np.ndarray) -> None:
        if batch.size == 0:
            return
        batch_mean = float(np.mean(batch))
        batch_var = float(np.var(batch))
        batch_count = float(batch.size)
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        m2 = (
            self.var * self.count
            + batch_var * batch_count
            + delta**2 * self.count * batch_count / total
        )
        self.var = m2 / total
        self.count = total


class RewardScaler:
    """``scale(rewards, episode_ended, valid)`` -> the rewards PPO learns from."""

    def __init__(
        self, num_envs: int, scale: float, normalize: bool, gamma: float, epsilon: float = 1e-8
    ) -> None:
        self.scale = scale
        self.normalize = normalize
        self.gamma = gamma
        self.epsilon = epsilon
        self.stats = RunningMeanStd()
        self._returns = np.zeros(num_envs, dtype=np.float64)

    def __call__(
        self, rewards: np.ndarray, episode_ended: np.ndarray, valid: np.ndarray
    ) -> np.ndarray:
        scaled = rewards.astype(np.float64) * self.scale
        if not self.normalize:
            return scaled.astype(np.float32)
        self._returns = np.where(valid, self._returns * self.gamma + scaled, self._returns)
        self.stats.update(self._returns[valid])
        self._returns[episode_ended] = 0.0
        return (scaled / np.sqrt(self.stats.var + self.epsilon)).astype(np.float32)

    def reset_episodes(self) -> None:
        """Forget the returns of running episodes (environments were reset)."""
        self._returns[:] = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {
            "mean": self.stats.mean,
            "var": self.stats.var,
            "count": self.stats.count,
            "returns": self._returns.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stats.mean = float(state["mean"])
        self.stats.var = float(state["var"])
        self.stats.count = float(state["count"])
        self._returns = np.asarray(state["returns"], dtype=np.float64)
