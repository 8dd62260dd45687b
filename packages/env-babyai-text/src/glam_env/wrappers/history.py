"""Recent observations and actions in the observation, like frame stacking for text.

The paper's prompt shows the last 3 observations and the 2 actions taken
between them. Keeping that history in the environment (instead of in the
policy) lets policies stay stateless and lets vector envs clear it per
sub-env at each episode start, which is the only place that knows when an
episode starts.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from typing import Any, SupportsInt

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from glam_env.protocol import (
    ACTION_HISTORY,
    ADMISSIBLE_ACTIONS,
    OBSERVATION,
    OBSERVATION_HISTORY,
)

__all__ = ["HistoryWrapper"]


def _validated_length(num_observations: object) -> int:
    if isinstance(num_observations, bool) or not isinstance(num_observations, int | np.integer):
        raise TypeError(
            f"num_observations must be an integer >= 1, got {type(num_observations).__name__}"
        )
    if num_observations < 1:
        raise ValueError(
            f"num_observations must be >= 1 (1 keeps only the current observation), "
            f"got {num_observations}"
        )
    return int(num_observations)


def _history_spaces(space: gym.Space[Any]) -> spaces.Dict:
    """The wrapped env's Dict space plus two ``Sequence(Text)`` history entries.

    The observation history reuses the env's observation ``Text`` space and the
    action history the ``Text`` space of one admissible action (or, lacking
    one, the observation's), so both accept exactly the characters the env
    may produce.
    """
    if not isinstance(space, spaces.Dict) or OBSERVATION not in space.spaces:
        raise TypeError(
            "HistoryWrapper needs a text game whose observation_space is a gymnasium Dict "
            f"with an {OBSERVATION!r} entry (see glam_env.protocol), got {space}"
        )
    for key in (OBSERVATION_HISTORY, ACTION_HISTORY):
        if key in space.spaces:
            raise ValueError(
                f"the observation already has {key!r}: the env is wrapped in HistoryWrapper twice"
            )
    observation_text = space[OBSERVATION]
    admissible = space.spaces.get(ADMISSIBLE_ACTIONS)
    if isinstance(admissible, spaces.Sequence):
        action_text = admissible.feature_space
    elif isinstance(admissible, spaces.Tuple) and admissible.spaces:
        action_text = admissible.spaces[0]
    else:
        action_text = observation_text
    return spaces.Dict(
        {
            **space.spaces,
            OBSERVATION_HISTORY: spaces.Sequence(copy.deepcopy(observation_text)),
            ACTION_HISTORY: spaces.Sequence(copy.deepcopy(action_text)),
        }
    )


class HistoryWrapper(gym.Wrapper[dict[str, Any], SupportsInt, dict[str, Any], SupportsInt]):
    """Add the last K observation texts and the K-1 actions taken between them.

    ``obs["observation_history"]`` holds up to ``num_observations`` observation
    texts, oldest first, the current one last; ``obs["action_history"]`` the
    action strings taken between them (always one fewer). Both are tuples,
    cleared at every reset. Actions are recorded as the admissible action
    string of the index taken, read from the env before stepping (the list may
    change from one step to the next in games like TextWorld).
    """

    def __init__(self, env: gym.Env[dict[str, Any], SupportsInt], num_observations: int = 3):
        length = _validated_length(num_observations)
        super().__init__(env)
        self.num_observations = length
        self.observation_space = _history_spaces(env.observation_space)
        self._observations: deque[str] = deque(maxlen=length)
        self._actions: deque[str] = deque(maxlen=length - 1)
        self._last_admissible: tuple[str, ...] = ()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._observations.clear()
        self._actions.clear()
        return self._record(obs), info

    def step(self, action: SupportsInt) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if not self._observations:
            raise RuntimeError("HistoryWrapper.step() called before reset()")
        names = self._admissible_actions()
        obs, reward, terminated, truncated, info = self.env.step(action)
        index = int(action)
        if not 0 <= index < len(names):
            raise IndexError(
                f"action index {index} is outside the {len(names)} admissible actions "
                f"{list(names)} the env offered before this step"
            )
        self._actions.append(names[index])
        return self._record(obs), reward, terminated, truncated, info

    def _admissible_actions(self) -> Sequence[str]:
        """The action strings offered now: the env's attribute, else the last observation's."""
        try:
            names = self.env.get_wrapper_attr(ADMISSIBLE_ACTIONS)
        except AttributeError:
            names = self._last_admissible
        return tuple(names)

    def _record(self, obs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(obs, dict) or OBSERVATION not in obs:
            raise TypeError(
                f"HistoryWrapper expects dict observations with an {OBSERVATION!r} entry, "
                f"got {type(obs).__name__}"
            )
        self._observations.append(obs[OBSERVATION])
        self._last_admissible = tuple(obs.get(ADMISSIBLE_ACTIONS, ()))
        return {
            **obs,
            OBSERVATION_HISTORY: tuple(self._observations),
            ACTION_HISTORY: tuple(self._actions),
        }
