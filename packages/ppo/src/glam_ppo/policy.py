"""The contract between the PPO and any actor-critic policy.

The PPO never assumes what an observation is (an array, a dict of strings, a
list): it stores observations as Python objects and hands a sequence of them
back to the policy. The policy answers with masked logits and values:

* ``logits``: float tensor of shape ``(batch, max_actions)``. Observation ``i``
  may have fewer admissible actions than ``max_actions``; the logits of its
  missing actions are ``-inf`` (or the dtype's lowest value). The PPO builds a
  categorical distribution from them. ``max_actions`` may differ between calls
  (for example the largest action count in this batch).
* ``values``: float tensor of shape ``(batch,)``.

What the policy receives: for a vector environment whose observations are a
``Box``, a stacked ``numpy`` array ``(batch, *shape)`` (a fast path for MLPs);
for any other observation space (notably a ``Dict`` of ``Text`` spaces), a
``list`` with one observation object per row, e.g.
``{"mission": str, "observation": str, "admissible_actions": tuple[str, ...]}``.

A policy may also implement ``predict_values(observations) -> Tensor`` for the
cheaper value-only pass used to bootstrap truncated episodes; without it the
PPO calls ``forward`` and keeps the values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from glam_ppo.errors import PolicyOutputError


@runtime_checkable
class ActorCriticPolicy(Protocol):
    """Anything callable on a batch of observations that returns (logits, values)."""

    def __call__(self, observations: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...


@runtime_checkable
class ValuePredictor(Protocol):
    """Optional: a policy that can compute values without the action logits."""

    def predict_values(self, observations: Sequence[Any]) -> torch.Tensor: ...


def check_output(logits: Any, values: Any, batch_size: int) -> None:
    """Raise :class:`PolicyOutputError` naming what is wrong with a policy's answer."""
    if not isinstance(logits, torch.Tensor) or not isinstance(values, torch.Tensor):
        raise PolicyOutputError(
            "the policy must return (logits, values) as two torch tensors, got "
            f"({type(logits).__name__}, {type(values).__name__})"
        )
    if logits.dim() != 2 or logits.shape[0] != batch_size:
        raise PolicyOutputError(
            f"logits must have shape (batch={batch_size}, max_actions), got {tuple(logits.shape)}"
        )
    if values.shape != (batch_size,):
        raise PolicyOutputError(
            f"values must have shape (batch={batch_size},), got {tuple(values.shape)}"
        )
    if not logits.is_floating_point() or not values.is_floating_point():
        raise PolicyOutputError(f"logits and values must be float, got {logits.dtype}")


def predict_values(policy: ActorCriticPolicy, observations: Sequence[Any]) -> torch.Tensor:
    """Values of ``observations``, through ``predict_values`` when the policy has it."""
    if isinstance(policy, ValuePredictor):
        return policy.predict_values(observations)
    return policy(observations)[1]
