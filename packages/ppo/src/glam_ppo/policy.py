"""The contract between the PPO and any actor-critic policy.

The PPO never assumes what an observation is (an array, a dict of strings, a
list): it stores observations as Python objects and hands a sequence of them
back to the policy. The policy answers with masked logits and values:

* ``logits``: float tensor of shape ``(batch, max_actions)``. Observation ``i``
  may have fewer admissible actions than ``max_actions``; the logits of its
  missing actions are ``-inf`` (or the dtype's lowest value). The PPO builds a
  categorical distribution from them.
* ``values``: float tensor of shape ``(batch,)``.

A policy may also implement ``predict_values(observations) -> Tensor`` for the
cheaper value-only pass used to bootstrap truncated episodes; without it the
PPO calls ``forward`` and keeps the values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class ActorCriticPolicy(Protocol):
    """Anything callable on a batch of observations that returns (logits, values)."""

    def __call__(self, observations: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...
