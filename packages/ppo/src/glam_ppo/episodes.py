"""Episode bookkeeping for vector environments: return, length and success.

Counts only real transitions: with Gymnasium's NEXT_STEP autoreset the step after
an episode's end is a reset step (reward 0, action ignored) that belongs to no
episode. Success comes from ``info["success"]`` on the episode's last step when
the environment reports it (text games do); with SAME_STEP autoreset Gymnasium
moves that info to ``info["final_info"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EpisodeRecord:
    """One finished episode of one environment (raw, unscaled reward)."""

    env_index: int
    episode_return: float
    length: int
    terminated: bool
    success: bool | None


def _info_flags(info: dict[str, Any], key: str, num_envs: int) -> tuple[np.ndarray, np.ndarray]:
    """(has_value, value) per env for a vectorised info key, both boolean arrays."""
    if key not in info:
        return np.zeros(num_envs, dtype=bool), np.zeros(num_envs, dtype=bool)
    values = np.asarray(info[key]).astype(bool).reshape(num_envs)
    mask = info.get("_" + key)
    has = np.ones(num_envs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    return has, values


class EpisodeTracker:
    """Accumulates per-env returns and lengths; emits a record when an episode ends."""

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self._returns = np.zeros(num_envs, dtype=np.float64)
        self._lengths = np.zeros(num_envs, dtype=np.int64)

    def reset(self) -> None:
        """Forget the running episodes (the environments were reset)."""
        self._returns[:] = 0.0
        self._lengths[:] = 0

    def step(
        self,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        valid: np.ndarray,
        info: dict[str, Any],
        same_step_autoreset: bool,
    ) -> list[EpisodeRecord]:
        """Account one vector step; return the episodes that ended on it."""
        self._returns += np.where(valid, rewards, 0.0)
        self._lengths += valid
        ended = (terminated | truncated) & valid
        if not ended.any():
            return []
        success_info = info.get("final_info", {}) if same_step_autoreset else info
        has_success, success = _info_flags(success_info, "success", self.num_envs)
        records = []
        for i in np.flatnonzero(ended):
            records.append(
                EpisodeRecord(
                    env_index=int(i),
                    episode_return=float(self._returns[i]),
                    length=int(self._lengths[i]),
                    terminated=bool(terminated[i]),
                    success=bool(success[i]) if has_success[i] else None,
                )
            )
        self._returns[ended] = 0.0
        self._lengths[ended] = 0
        return records

    def state_dict(self) -> dict[str, Any]:
        return {"returns": self._returns.tolist(), "lengths": self._lengths.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._returns = np.asarray(state["returns"], dtype=np.float64)
        self._lengths = np.asarray(state["lengths"], dtype=np.int64)
