"""DRRN as a glam_ppo policy: observation dicts in, masked Q-values out.

:class:`DRRNPolicy` bundles the network with the tokenizer and the choice of
state fields, so that it answers glam_ppo's actor-critic contract
(``policy(observations) -> (logits, values)``, see ``glam_ppo.policy``): the
logits are the Q-values divided by a temperature (greedy evaluation takes their
argmax, a sampling evaluator gets a Boltzmann policy) and the values are
``max_a Q(s, a)``. Existing evaluation code written for PPO policies therefore
evaluates a DRRN unchanged.

Calling the policy never grows the vocabulary (unknown words read as
``<unk>``); the trainer calls :meth:`DRRNPolicy.observe` on the texts it
trains on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from glam_ppo.drrn.config import DRRNConfig
from glam_ppo.drrn.encoding import EncodedBatch, encode_batch
from glam_ppo.drrn.network import DRRNNetwork
from glam_ppo.drrn.tokenizer import FIELD_SEPARATOR, WordTokenizer

ADMISSIBLE_ACTIONS = "admissible_actions"


def state_text(observation: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The state of ``observation``: the texts under ``keys``, joined by the field separator.

    A key holding a sequence of texts (an observation or action history) gives
    one field per item.
    """
    parts: list[str] = []
    for key in keys:
        if key not in observation:
            raise KeyError(
                f"observation has no {key!r} (DRRNConfig.state_keys); it has {sorted(observation)}"
            )
        value = observation[key]
        if isinstance(value, str):
            parts.append(value)
        else:
            parts.extend(str(item) for item in value)
    return FIELD_SEPARATOR.join(parts)


def admissible_actions(observation: Mapping[str, Any]) -> tuple[str, ...]:
    """The observation's admissible action strings, as a tuple."""
    return tuple(str(action) for action in observation[ADMISSIBLE_ACTIONS])


def masked_max(q: torch.Tensor) -> torch.Tensor:
    """``max_a Q`` per row; 0 for a row without any action (all ``-inf``)."""
    best = q.max(dim=-1).values
    return torch.where(torch.isfinite(best), best, torch.zeros_like(best))


class DRRNPolicy(nn.Module):
    """The online Q-network with its tokenizer; an ``ActorCriticPolicy``.

    Args:
        network: the Q-network.
        tokenizer: shared with the target network (it holds no parameters).
        state_keys: observation keys forming the state text.
        max_state_tokens: a longer state keeps its last tokens.
        temperature: logits are ``Q / temperature``.
    """

    def __init__(
        self,
        network: DRRNNetwork,
        tokenizer: WordTokenizer,
        state_keys: Sequence[str],
        max_state_tokens: int,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.network = network
        self.tokenizer = tokenizer
        self.state_keys = tuple(state_keys)
        self.max_state_tokens = max_state_tokens
        self.temperature = temperature

    @classmethod
    def from_config(cls, config: DRRNConfig) -> DRRNPolicy:
        """A freshly initialised policy (draws from torch's global generator)."""
        tokenizer = WordTokenizer(config.max_words)
        network = DRRNNetwork(tokenizer.table_size, config.embedding_dim, config.hidden_size)
        return cls(
            network.to(config.device),
            tokenizer,
            config.state_keys,
            config.max_state_tokens,
            config.temperature,
        )

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def states(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        return [state_text(obs, self.state_keys) for obs in observations]

    def observe(self, observations: Iterable[Mapping[str, Any]]) -> None:
        """Add the words of these observations (state and actions) to the vocabulary."""
        for obs in observations:
            self.tokenizer.add([state_text(obs, self.state_keys), *admissible_actions(obs)])

    def encode(self, states: Sequence[str], actions: Sequence[Sequence[str]]) -> EncodedBatch:
        """Padded ids of state texts and their action lists, on the network's device."""
        return encode_batch(self.tokenizer, states, actions, self.max_state_tokens, self.device)

    def encode_observations(self, observations: Sequence[Mapping[str, Any]]) -> EncodedBatch:
        return self.encode(self.states(observations), [admissible_actions(o) for o in observations])

    def q_values(self, observations: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        """Q(s, a) for each observation's admissible actions: ``(B, max count)``, ``-inf`` pad."""
        return self.network(self.encode_observations(observations))

    def forward(
        self, observations: Sequence[Mapping[str, Any]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Q / temperature, max_a Q)``: glam_ppo's ``(logits, values)``."""
        q = self.q_values(observations)
        return q / self.temperature, masked_max(q)

    def predict_values(self, observations: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        return masked_max(self.q_values(observations))
