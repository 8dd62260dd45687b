"""From state texts and admissible-action lists to the padded id tensors the network reads.

A batch has ``B`` states, each with its own number of admissible actions.
Action texts repeat a lot (BabyAI's six actions in every row), so each distinct
action string is encoded once per batch and the rows point at it
(``action_index``); ``action_mask`` marks which of the ``A = max count`` slots
of a row hold a real action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from glam_ppo.drrn.tokenizer import PAD, WordTokenizer


@dataclass(frozen=True)
class EncodedBatch:
    """Padded ids of ``B`` states and of the ``U`` distinct actions among their rows."""

    state_ids: torch.Tensor  # (B, L) int64
    state_lengths: torch.Tensor  # (B,) int64
    action_ids: torch.Tensor  # (U, La) int64
    action_lengths: torch.Tensor  # (U,) int64
    action_index: torch.Tensor  # (B, A) int64 into the U actions (0 where masked)
    action_mask: torch.Tensor  # (B, A) bool: True for a real action

    @property
    def batch_size(self) -> int:
        return int(self.state_ids.shape[0])


def _pad(
    sequences: Sequence[tuple[int, ...]], device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, longest) ids padded with ``PAD``, and lengths; an empty text becomes one ``PAD``.

    A GRU cannot read a sequence of length 0; one padding token (a zero
    embedding) gives an empty text a well-defined, constant encoding.
    """
    rows = [seq if seq else (PAD,) for seq in sequences]
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.int64)
    ids = torch.full((len(rows), int(lengths.max())), PAD, dtype=torch.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return ids.to(device), lengths.to(device)


def encode_batch(
    tokenizer: WordTokenizer,
    states: Sequence[str],
    actions: Sequence[Sequence[str]],
    max_state_tokens: int,
    device: torch.device | str = "cpu",
) -> EncodedBatch:
    """Encode ``states[i]`` with its admissible ``actions[i]`` (any count, even none)."""
    if len(states) != len(actions):
        raise ValueError(f"{len(states)} states but {len(actions)} action lists")
    if not states:
        raise ValueError("cannot encode an empty batch")
    state_tokens = [tokenizer.encode(text)[-max_state_tokens:] for text in states]
    state_ids, state_lengths = _pad(state_tokens, device)
    unique: dict[str, int] = {}
    for row in actions:
        for text in row:
            unique.setdefault(text, len(unique))
    width = max(1, max(len(row) for row in actions))
    index = torch.zeros((len(actions), width), dtype=torch.int64)
    mask = torch.zeros((len(actions), width), dtype=torch.bool)
    for i, row in enumerate(actions):
        if row:
            index[i, : len(row)] = torch.tensor([unique[text] for text in row], dtype=torch.int64)
            mask[i, : len(row)] = True
    action_ids, action_lengths = _pad([tokenizer.encode(text) for text in unique] or [()], device)
    return EncodedBatch(
        state_ids=state_ids,
        state_lengths=state_lengths,
        action_ids=action_ids,
        action_lengths=action_lengths,
        action_index=index.to(device),
        action_mask=mask.to(device),
    )
