"""Small MLP heads on the language model's hidden state: the critic and NPAE's actor.

Both read the same vector the scorer returns (decoder-only: the last prompt
token; encoder-decoder: the first decoder position, last layer), so they cost no
extra pass through the language model. Heads run in float32 whatever the LM's
dtype: they are tiny, and the value regression is sensitive to rounding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn

from glam_policy.errors import PolicyInputError

logger = logging.getLogger(__name__)

#: How many distinct renamed action lists an action head remembers having logged.
_MAX_LOGGED_RENAMINGS = 64

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


def build_mlp(
    in_features: int, hidden_sizes: Sequence[int], out_features: int, activation: str
) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none at the end).

    GLAM's value head is ``build_mlp(d, [1024, 1024], 1, "sigmoid")``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; allowed: {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class ValueHead(nn.Module):
    """The critic: hidden state ``(batch, d)`` to value ``(batch,)``."""

    def __init__(self, hidden_size: int, hidden_sizes: Sequence[int], activation: str) -> None:
        super().__init__()
        self.mlp = build_mlp(hidden_size, hidden_sizes, 1, activation)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.mlp(hidden.float()).squeeze(-1)


class ActionHead(nn.Module):
    """NPAE's actor: one logit per action of a fixed list, masked to the admissible ones.

    An observation's logits come back in the order of its own admissible list
    (action index ``j`` means ``admissible_actions[j]``, as with scoring),
    ``-inf`` past its length. Each admissible action is matched to an output:

    * **by name** when every admissible action is in the fixed list (any
      subset, any order);
    * else **by position** when the admissible list is as long as the fixed
      list and each of its names that the list knows sits at the same place:
      output ``j`` is then the ``j``-th admissible action. This is how the
      paper's action heads work (their output ``j`` is played as the
      environment's action ``j``; the names only appear in the prompt), and
      what the generalization tests that rename actions (synonyms, French)
      need: BabyAI-Text always offers the environment's whole action list in
      its own order, renamed by position;
    * else a :class:`~glam_policy.errors.PolicyInputError` saying why neither
      applies.
    """

    def __init__(
        self,
        hidden_size: int,
        actions: Sequence[str],
        hidden_sizes: Sequence[int],
        activation: str,
    ) -> None:
        super().__init__()
        if not actions:
            raise ValueError("the action heads need a non-empty fixed action list")
        self.actions: tuple[str, ...] = tuple(actions)
        self._index = {action: i for i, action in enumerate(self.actions)}
        if len(self._index) != len(self.actions):
            raise ValueError("the action heads' fixed action list has duplicates")
        self.mlp = build_mlp(hidden_size, hidden_sizes, len(self.actions), activation)
        self._logged_renamings: set[tuple[str, ...]] = set()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits over the whole fixed list, ``(batch, len(actions))``."""
        return self.mlp(hidden.float())

    def outputs_for(self, actions: Sequence[str], observation: int = 0) -> list[int]:
        """The head output of each admissible action (by name, else by position).

        ``observation`` only numbers the observation in the error message.
        """
        unknown = [a for a in actions if a not in self._index]
        if not unknown:
            return [self._index[a] for a in actions]
        reason = self._position_mismatch(actions)
        if reason is None:
            self._log_renaming(tuple(actions))
            return list(range(len(actions)))
        raise PolicyInputError(
            f"observation {observation}: action(s) {', '.join(map(repr, unknown))} are not in "
            f"the action heads' fixed list ({', '.join(self.actions)}), and the admissible "
            f"actions cannot be read by position either: {reason}"
        )

    def _position_mismatch(self, actions: Sequence[str]) -> str | None:
        """Why ``actions`` cannot map onto the outputs by position (``None``: it can)."""
        if len(actions) != len(self.actions):
            return (
                f"there are {len(actions)} of them for the heads' {len(self.actions)} outputs "
                "(renamed actions must be the whole list, in its order)"
            )
        for position, action in enumerate(actions):
            known = self._index.get(action)
            if known is not None and known != position:
                return f"{action!r} is admissible action {position} but output {known} of the heads"
        return None

    def _log_renaming(self, actions: tuple[str, ...]) -> None:
        # Once per renamed list (a few per suite), not once per step.
        if (
            actions in self._logged_renamings
            or len(self._logged_renamings) >= _MAX_LOGGED_RENAMINGS
        ):
            return
        self._logged_renamings.add(actions)
        logger.info(
            "action heads: reading the admissible actions (%s) by position as (%s)",
            ", ".join(actions),
            ", ".join(self.actions),
        )

    def select(self, logits: torch.Tensor, admissible: Sequence[Sequence[str]]) -> torch.Tensor:
        """``(batch, max_admissible)`` logits in each observation's admissible order."""
        rows = [self.outputs_for(actions, i) for i, actions in enumerate(admissible)]
        width = max(len(r) for r in rows)
        index = torch.tensor(
            [r + [0] * (width - len(r)) for r in rows], dtype=torch.long, device=logits.device
        )
        counts = torch.tensor([len(r) for r in rows], device=logits.device)
        present = torch.arange(width, device=logits.device)[None, :] < counts[:, None]
        return logits.gather(1, index).masked_fill(~present, float("-inf"))
