"""Lamorel's way of scoring candidate actions, re-implemented from its description.

Lamorel (the library behind the GLAM paper) scores the candidate actions of a prompt
with ``pre_encode_inputs``: the prompt is encoded once and its encoding repeated for
each candidate. Written here from that description, for the scoring benchmark only:

* **decoder-only** models: every prompt but its last token is left-padded to the
  longest prompt of the batch and run once with ``use_cache``; the key/value cache is
  then repeated once per candidate, and each candidate row is the prompt's last token
  followed by the candidate's tokens, right-padded, attended with the prompt's mask
  concatenated to the row's. No position ids are given, so the model numbers
  positions from the first (padding) column: a prompt shorter than the longest one has
  its tokens, and its candidates', at shifted positions. With absolute position
  embeddings (GPT-2) that changes the scores, which the benchmark measures;
* **encoder-decoder** models: the right-padded prompts go through the encoder once,
  the encoder output is repeated once per candidate, and the decoder reads
  ``[start] + candidate`` rows, right-padded. T5's relative positions make this exact.

Rows are processed ``minibatch_size`` candidates at a time (Lamorel's
``minibatch_size``), the prompts of a minibatch encoded together. Scores are summed
token log-probabilities (Lamorel multiplies probabilities; the sum of logs is the
same quantity without underflow), ``-inf`` where a prompt has fewer actions.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from transformers.modeling_outputs import BaseModelOutput

TokenIds = Sequence[int]


class LamorelMethodScorer:
    """Scores (prompt, actions) batches the way Lamorel's ``pre_encode_inputs`` does."""

    def __init__(
        self,
        model: Any,
        architecture: str,
        *,
        pad_token_id: int,
        decoder_start_token_id: int | None = None,
        minibatch_size: int = 64,
    ) -> None:
        if architecture not in ("decoder", "encoder-decoder"):
            raise ValueError(f"unknown architecture {architecture!r}")
        if architecture == "encoder-decoder" and decoder_start_token_id is None:
            raise ValueError("an encoder-decoder model needs decoder_start_token_id")
        self.model = model
        self.architecture = architecture
        self.pad_token_id = pad_token_id
        self.decoder_start_token_id = decoder_start_token_id
        self.minibatch_size = minibatch_size
        # transformers renamed past_key_values to cache; take whichever this version reads
        accepted = inspect.signature(model.forward).parameters
        self._cache_argument = "cache" if "cache" in accepted else "past_key_values"

    @property
    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __call__(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> torch.Tensor:
        """Log-likelihood of every action given its prompt, shape (prompts, max actions)."""
        if len(prompts) != len(actions):
            raise ValueError("one list of actions per prompt")
        if self.architecture == "decoder" and min(len(p) for p in prompts) < 2:
            raise ValueError("the decoder method needs prompts of at least 2 tokens")
        n, width = len(prompts), max(len(a) for a in actions)
        scores = torch.full((n, width), float("-inf"), device=self._device)
        longest = max(len(p) for p in prompts)
        for group in self._minibatches(actions):
            if self.architecture == "decoder":
                values = self._decoder_group(prompts, actions, group, longest)
            else:
                values = self._seq2seq_group(prompts, actions, group, longest)
            pairs = [(i, k) for i in group for k in range(len(actions[i]))]
            for (row, column), value in zip(pairs, values, strict=True):
                scores[row, column] = value
        return scores

    def _minibatches(self, actions: Sequence[Sequence[TokenIds]]) -> list[list[int]]:
        """Consecutive prompts whose candidates add up to at most ``minibatch_size`` rows."""
        groups: list[list[int]] = []
        rows = 0
        for i, acts in enumerate(actions):
            if not acts:
                continue
            if groups and rows + len(acts) <= self.minibatch_size:
                groups[-1].append(i)
                rows += len(acts)
            else:
                groups.append([i])
                rows = len(acts)
        return groups

    def _tensor(self, rows: list[list[int]]) -> torch.Tensor:
        return torch.tensor(rows, dtype=torch.long, device=self._device)

    def _right_padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        size = max(len(r) for r in rows)
        ids = [r + [self.pad_token_id] * (size - len(r)) for r in rows]
        mask = [[1] * len(r) + [0] * (size - len(r)) for r in rows]
        return self._tensor(ids), self._tensor(mask)

    @staticmethod
    def _sum_logprobs(logits: torch.Tensor, targets: list[list[int]]) -> list[torch.Tensor]:
        """Sum over each row's targets of log softmax(logits[row, j])[target j]."""
        logp = torch.log_softmax(logits.float(), dim=-1)
        return [
            logp[
                r, torch.arange(len(t), device=logp.device), torch.tensor(t, device=logp.device)
            ].sum()
            for r, t in enumerate(targets)
        ]

    def _decoder_group(
        self,
        prompts: Sequence[TokenIds],
        actions: Sequence[Sequence[TokenIds]],
        group: list[int],
        longest: int,
    ) -> list[torch.Tensor]:
        context = longest - 1  # Lamorel pads every context (prompt minus its last token)
        ids = [
            [self.pad_token_id] * (context - len(prompts[i]) + 1) + list(prompts[i][:-1])
            for i in group
        ]
        mask = [[0] * (context - len(prompts[i]) + 1) + [1] * (len(prompts[i]) - 1) for i in group]
        prompt_mask = self._tensor(mask)
        encoded = self.model(
            input_ids=self._tensor(ids), attention_mask=prompt_mask, use_cache=True
        )
        cache = getattr(encoded, "cache", None) or encoded.past_key_values
        repeat = [g for g, i in enumerate(group) for _ in actions[i]]
        cache.batch_select_indices(self._tensor([repeat])[0])  # the cache once per candidate
        rows = [[int(prompts[i][-1]), *map(int, a)] for i in group for a in actions[i]]
        row_ids, row_mask = self._right_padded(rows)
        out = self.model(
            input_ids=row_ids,
            attention_mask=torch.cat([prompt_mask[self._tensor([repeat])[0]], row_mask], dim=1),
            use_cache=False,
            **{self._cache_argument: cache},
        )
        return self._sum_logprobs(out.logits, [row[1:] for row in rows])

    def _seq2seq_group(
        self,
        prompts: Sequence[TokenIds],
        actions: Sequence[Sequence[TokenIds]],
        group: list[int],
        longest: int,
    ) -> list[torch.Tensor]:
        ids = [list(prompts[i]) + [self.pad_token_id] * (longest - len(prompts[i])) for i in group]
        mask = [[1] * len(prompts[i]) + [0] * (longest - len(prompts[i])) for i in group]
        prompt_mask = self._tensor(mask)
        encoder = self.model.get_encoder()
        hidden = encoder(input_ids=self._tensor(ids), attention_mask=prompt_mask).last_hidden_state
        repeat = self._tensor([[g for g, i in enumerate(group) for _ in actions[i]]])[0]
        start = int(self.decoder_start_token_id)  # type: ignore[arg-type]
        targets = [list(map(int, a)) for i in group for a in actions[i]]
        dec_ids, dec_mask = self._right_padded([[start, *t] for t in targets])
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden[repeat]),
            attention_mask=prompt_mask[repeat],
            decoder_input_ids=dec_ids,
            decoder_attention_mask=dec_mask,
            use_cache=False,
        )
        return self._sum_logprobs(out.logits, targets)
