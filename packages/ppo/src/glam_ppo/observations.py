"""Turning a vector environment's batched observation into what the policy receives.

Gymnasium vector environments batch observations by space: a ``Box`` becomes one
stacked array, but a ``Dict`` of ``Text`` spaces becomes a dict of tuples
(``{"mission": ("go to ...", "pick up ..."), ...}``). Policies want one object
per environment, so non-array observations are split into a list of per-env
objects; array observations stay one array (no per-row Python objects on the
fast path of small MLPs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import iterate

#: Single-env observation spaces whose batch is one numeric numpy array.
ARRAY_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def is_array_space(single_space: spaces.Space[Any]) -> bool:
    """Whether a batch of this space's observations is a single numeric array."""
    return isinstance(single_space, ARRAY_SPACES)


def split_observations(batched_space: spaces.Space[Any], batch: Any) -> list[Any]:
    """One observation object per environment, from a vector env's batched observation.

    ``batched_space`` is the vector env's ``observation_space`` (not the single one).
    """
    return list(iterate(batched_space, batch))


def policy_input(
    single_space: spaces.Space[Any], batched_space: spaces.Space[Any], batch: Any
) -> np.ndarray | list[Any]:
    """The stacked array for array spaces, else the list of per-env observations."""
    if is_array_space(single_space):
        return np.asarray(batch)
    return split_observations(batched_space, batch)


def stack_observations(
    single_space: spaces.Space[Any], items: Sequence[Any]
) -> np.ndarray | list[Any]:
    """Several single observations (e.g. final observations) in policy-input form."""
    if is_array_space(single_space):
        return np.stack([np.asarray(item) for item in items])
    return list(items)


class ObservationStore:
    """Observations of a rollout, ``num_steps x num_envs``, addressed by flat index.

    Flat index ``t * num_envs + i`` is step ``t`` of environment ``i``. Array
    observations live in one preallocated array; anything else in nested lists.
    """

    def __init__(self, num_steps: int, num_envs: int, single_space: spaces.Space[Any]) -> None:
        self.num_steps = num_steps
        self.num_envs = num_envs
        self.array_mode = is_array_space(single_space)
        self._array: np.ndarray | None = None
        if self.array_mode:
            shape = single_space.shape or ()
            dtype = single_space.dtype if single_space.dtype is not None else np.float32
            self._array = np.zeros((num_steps * num_envs, *shape), dtype=dtype)
        self._objects: list[Any] = [None] * (num_steps * num_envs)

    def put(self, step: int, observations: np.ndarray | list[Any]) -> None:
        """Store the policy-input form of step ``step``'s observations."""
        start = step * self.num_envs
        if self._array is not None:
            self._array[start : start + self.num_envs] = observations
        else:
            self._objects[start : start + self.num_envs] = observations

    def select(self, flat_indices: np.ndarray) -> np.ndarray | list[Any]:
        """The observations at ``flat_indices``, in policy-input form."""
        if self._array is not None:
            return self._array[flat_indices]
        return [self._objects[i] for i in flat_indices]
