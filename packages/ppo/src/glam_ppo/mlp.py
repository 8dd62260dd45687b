"""A multilayer-perceptron actor-critic for vector observations and discrete actions.

Separate actor and critic networks with orthogonal initialisation, as in the
standard PPO recipe (Engstrom et al. 2020; CleanRL; SB3): hidden layers with gain
sqrt(2), the policy head with gain 0.01 (nearly uniform first policy), the value
head with gain 1, all biases zero.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}
_FUNCTIONS = {"tanh": torch.tanh, "relu": torch.relu}


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    return layer


def _mlp(
    sizes: Sequence[int], activation: type[nn.Module], out: int, out_gain: float
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [_orthogonal(nn.Linear(fan_in, fan_out), math.sqrt(2.0)), activation()]
    layers.append(_orthogonal(nn.Linear(sizes[-1], out), out_gain))
    return nn.Sequential(*layers)


class MLPActorCritic(nn.Module):
    """``forward(observations) -> (logits (B, num_actions), values (B,))``.

    ``observations`` may be a ``(B, obs_dim)`` numpy array (what the PPO passes
    for ``Box`` spaces), a tensor, or a sequence of per-row arrays; observations
    with more dimensions are flattened.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: Literal["tanh", "relu"] = "tanh",
    ) -> None:
        super().__init__()
        if obs_dim <= 0 or num_actions <= 0:
            raise ValueError(
                f"obs_dim and num_actions must be positive, got {obs_dim}, {num_actions}"
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        sizes = [obs_dim, *hidden_sizes]
        self.obs_dim = obs_dim
        self.actor = _mlp(sizes, _ACTIVATIONS[activation], num_actions, 0.01)
        self.critic = _mlp(sizes, _ACTIVATIONS[activation], 1, 1.0)
        self._activation = _FUNCTIONS[activation]
        self._actor_layers = [m for m in self.actor if isinstance(m, nn.Linear)]
        self._critic_layers = [m for m in self.critic if isinstance(m, nn.Linear)]

    @classmethod
    def for_spaces(cls, observation_space: Any, action_space: Any, **kwargs: Any) -> MLPActorCritic:
        """Build from a Gymnasium ``Box`` observation space and ``Discrete`` action space."""
        return cls(int(np.prod(observation_space.shape)), int(action_space.n), **kwargs)

    def _as_tensor(self, observations: Any) -> torch.Tensor:
        if isinstance(observations, torch.Tensor):
            x = observations
        elif isinstance(observations, np.ndarray):
            x = torch.from_numpy(observations)
        else:
            x = torch.from_numpy(np.stack([np.asarray(o) for o in observations]))
        if x.dim() != 2 or x.shape[1] != self.obs_dim:
            x = x.reshape(x.shape[0], self.obs_dim)
        weight = self._actor_layers[0].weight
        if x.dtype != weight.dtype or x.device != weight.device:
            x = x.to(device=weight.device, dtype=weight.dtype)
        return x

    def _run(self, layers: list[nn.Linear], x: torch.Tensor) -> torch.Tensor:
        # Same computation as the nn.Sequential, without a module call per layer: on
        # small batches, Python call overhead is most of the cost of a forward pass.
        for layer in layers[:-1]:
            x = self._activation(F.linear(x, layer.weight, layer.bias))
        last = layers[-1]
        return F.linear(x, last.weight, last.bias)

    def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._as_tensor(observations)
        return self._run(self._actor_layers, x), self._run(self._critic_layers, x).squeeze(-1)

    def predict_values(self, observations: Any) -> torch.Tensor:
        """The critic alone: what bootstrapping needs."""
        return self._run(self._critic_layers, self._as_tensor(observations)).squeeze(-1)
