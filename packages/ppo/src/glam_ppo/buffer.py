"""Rollout storage and the flat batch of transitions the update learns from.

The :class:`RolloutBuffer` holds one rollout as ``(num_steps, num_envs)`` arrays
filled step by step; :meth:`RolloutBuffer.finish` computes advantages and keeps
only the valid transitions (reset steps of NEXT_STEP autoreset are dropped) as a
:class:`Batch`. Observations keep whatever type the environment produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from glam_ppo.advantages import compute_gae
from glam_ppo.observations import ObservationStore


@dataclass
class Batch:
    """Transitions to learn from, flat; all tensors on the CPU, shape ``(size,)``.

    ``capacity`` is the rollout's ``num_steps * num_envs`` before invalid rows were
    dropped: every rank derives its number of minibatches from it, so all ranks of
    a data-parallel run take the same number of optimizer steps.
    """

    observations: np.ndarray | list[Any]
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    capacity: int

    @property
    def size(self) -> int:
        return int(self.actions.shape[0])

    def observations_at(self, indices: np.ndarray) -> np.ndarray | list[Any]:
        if isinstance(self.observations, np.ndarray):
            return self.observations[indices]
        return [self.observations[i] for i in indices]

    def select(self, indices: np.ndarray) -> Batch:
        """The transitions at ``indices`` (a numpy integer array), same capacity."""
        index = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        return Batch(
            observations=self.observations_at(indices),
            actions=self.actions[index],
            logprobs=self.logprobs[index],
            values=self.values[index],
            advantages=self.advantages[index],
            returns=self.returns[index],
            capacity=self.capacity,
        )

    @staticmethod
    def concatenate(batches: Sequence[Batch]) -> Batch:
        """One batch holding all transitions of ``batches`` in order (capacities add up)."""
        first = batches[0].observations
        if isinstance(first, np.ndarray):
            observations: np.ndarray | list[Any] = np.concatenate(
                [np.asarray(b.observations) for b in batches]
            )
        else:
            observations = [o for b in batches for o in b.observations]
        return Batch(
            observations=observations,
            actions=torch.cat([b.actions for b in batches]),
            logprobs=torch.cat([b.logprobs for b in batches]),
            values=torch.cat([b.values for b in batches]),
            advantages=torch.cat([b.advantages for b in batches]),
            returns=torch.cat([b.returns for b in batches]),
            capacity=sum(b.capacity for b in batches),
        )


class RolloutBuffer:
    """``num_steps x num_envs`` transitions; row ``t`` is filled by one vector step."""

    def __init__(self, num_steps: int, num_envs: int, single_observation_space: spaces.Space[Any]):
        self.num_steps = num_steps
        self.num_envs = num_envs
        shape = (num_steps, num_envs)
        self.observations = ObservationStore(num_steps, num_envs, single_observation_space)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.logprobs = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        #: V(o_{t+1}) of the real successor; filled by the collector (see advantages.py).
        self.next_values = np.zeros(shape, dtype=np.float32)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=bool)
        self.truncated = np.zeros(shape, dtype=bool)
        self.valid = np.ones(shape, dtype=bool)

    def finish(self, gamma: float, gae_lambda: float) -> Batch:
        """Advantages and returns by GAE; the valid transitions as a flat batch."""
        advantages, returns = compute_gae(
            self.rewards,
            self.values,
            self.next_values,
            self.terminated,
            self.truncated,
            gamma,
            gae_lambda,
            valid=self.valid,
        )
        flat_valid = np.flatnonzero(self.valid.reshape(-1))
        index = torch.from_numpy(flat_valid)

        def flat(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array.reshape(-1))[index]

        return Batch(
            observations=self.observations.select(flat_valid),
            actions=flat(self.actions),
            logprobs=flat(self.logprobs),
            values=flat(self.values),
            advantages=flat(advantages),
            returns=flat(returns),
            capacity=self.num_steps * self.num_envs,
        )
