"""Small MLP heads on the language model's hidden state: the critic and NPAE's actor.

Both read the same vector the scorer returns (decoder-only: the last prompt
token; encoder-decoder: the first decoder position, last layer), so they cost no
extra pass through the language model. Heads run in float32 whatever the LM's
dtype: they are tiny, and the value regression is sensitive to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from glam_policy.errors import PolicyInputError

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

    Each observation's admissible actions must all belong to the fixed list; its
    logits come back in the order of its own admissible list (so that action
    index ``j`` means ``admissible_actions[j]``, as with scoring), ``-inf`` past
    its length.
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

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits over the whole fixed list, ``(batch, len(actions))``."""
        return self.mlp(hidden.float())

    def select(self, logits: torch.Tensor, admissible: Sequence[Sequence[str]]) -> torch.Tensor:
        """``(batch, max_admissible)`` logits in each observation's admissible order."""
        rows: list[list[int]] = []
        for i, actions in enumerate(admissible):
            unknown = [a for a in actions if a not in self._index]
            if unknown:
                raise PolicyInputError(
                    f"observation {i}: action(s) {', '.join(map(repr, unknown))} are not in "
                    f"the action heads' fixed list ({', '.join(self.actions)})"
                )
            rows.append([self._index[a] for a in actions])
        width = max(len(r) for r in rows)
        index = torch.tensor(
            [r + [0] * (width - len(r)) for r in rows], dtype=torch.long, device=logits.device
        )
        counts = torch.tensor([len(r) for r in rows], device=logits.device)
        present = torch.arange(width, device=logits.device)[None, :] < counts[:, None]
        return logits.gather(1, index).masked_fill(~present, float("-inf"))
