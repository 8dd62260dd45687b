"""Exact action log-likelihoods for a batch of prompts, each prompt run once.

``score(a) = sum_j log softmax(logits)[a_j]``: the log-probabilities of the
action's tokens given the prompt, with prompt and action tokenized separately
and their ids concatenated (never re-tokenized together, which could merge
tokens across the boundary). This module sees only token ids; building the
prompts and tokenizing them is :mod:`glam_policy.encoding`'s job.

Three strategies give the same numbers (tests check 1e-5 in float32):

``packed`` (the default where the model allows it)
    One forward per chunk of observations, each prompt computed once. Decoder-only
    models: each row holds the (left-padded) prompt followed by the inputs of all
    of its actions, one after the other; a 4-D attention mask lets every action
    token see the whole prompt and the earlier tokens of its own action only, and
    explicit position ids restart every action right after the prompt. This is
    the prompt's key/value cache shared by all its actions, without copying the
    cache once per action. Encoder-decoder models: the encoder runs once per
    prompt and the decoder row holds ``[start] + action`` segments of all actions
    side by side, masked the same way; it needs relative position biases (T5),
    whose value depends on token distances only, which the packing preserves.
    The first decoder position also gives the value head its hidden state.
``expanded`` (any model)
    Decoder-only: the prompts' cache is computed once then selected once per
    action (``Cache.batch_select_indices``) for a second forward over the action
    tokens. Encoder-decoder: the encoder output is repeated once per action and
    the decoder runs on all (prompt, action) rows in one batch.
``naive`` (the reference, and the benchmark's baseline)
    One forward per (prompt, action) pair over ``prompt + action`` ids.

Token budget: observations are sorted by length and grouped so that no forward
pass holds more than ``token_budget`` (padded) tokens; memory stays bounded
whatever the batch size. Results come back in the callers' order.

Precision: with ``autocast_dtype`` the model's forward passes (and only those)
run under ``torch.autocast``; the log-softmax and the sums over an action's
tokens are always float32. The additive attention masks are built in the dtype
the attention computes in (the autocast dtype, else the weights' dtype), so
that their "minus infinity" is the most negative finite value of that dtype.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from transformers.modeling_outputs import BaseModelOutput

from glam_policy.finetuning import is_gradient_checkpointing
from glam_policy.precision import autocast_context

logger = logging.getLogger(__name__)

Architecture = Literal["decoder", "encoder-decoder"]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
Strategy = Literal["packed", "expanded", "naive"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)

TokenIds = Sequence[int]


@dataclass(frozen=True)
class ScoringResult:
    """What one batch gives back.

    ``logprobs``: float32 ``(batch, max_actions)``, the summed token log-probability
    of each action, ``-inf`` where an observation has fewer actions.
    ``hidden``: ``(batch, hidden_size)``, the last layer's hidden state at the
    value position (decoder-only: last prompt token; encoder-decoder: first
    decoder position), in the dtype the model computed it in (heads take
    ``hidden.float()``).
    """

    logprobs: torch.Tensor
    hidden: torch.Tensor


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The Hugging Face model under a ``peft`` wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _forward_parameters(model: torch.nn.Module) -> set[str]:
    return set(inspect.signature(unwrap_model(model).forward).parameters)


def default_strategy(model: torch.nn.Module, architecture: Architecture) -> Strategy:
    """``packed`` when the model honours custom 4-D masks and positions, else ``expanded``.

    Packing needs an attention implementation that applies an explicit mask
    (``sdpa`` or ``eager``) and, for decoder-only models, ``position_ids``; for
    encoder-decoder models, relative positions (the T5 family).
    """
    hf_model = unwrap_model(model)
    config = hf_model.config
    if getattr(config, "_attn_implementation", "eager") not in ("sdpa", "eager"):
        return "expanded"
    if architecture == "decoder":
        return "packed" if "position_ids" in _forward_parameters(hf_model) else "expanded"
    has_relative = getattr(config, "relative_attention_num_buckets", None) is not None
    return "packed" if has_relative else "expanded"


def plan_chunks(costs: Sequence[int], token_budget: int) -> list[list[int]]:
    """Group item indices, longest first, so that ``len(group) * max(cost) <= budget``.

    An item costlier than the budget gets a group of its own (it must be scored).
    """
    if token_budget < 1:
        raise ValueError(f"token_budget must be >= 1, got {token_budget}")
    order = sorted(range(len(costs)), key=lambda i: -costs[i])
    chunks: list[list[int]] = []
    current: list[int] = []
    widest = 0
    for index in order:
        width = max(widest, costs[index])
        if current and (len(current) + 1) * width > token_budget:
            chunks.append(current)
            current, width = [], costs[index]
        current.append(index)
        widest = width
    if current:
        chunks.append(current)
    return chunks


class ActionScorer:
    """Scores actions (token-id lists) given prompts (token-id lists) with one model.

    ``model`` is a Hugging Face causal or sequence-to-sequence LM, possibly
    wrapped by ``peft``. Gradients flow through the results unless the caller
    disables them. ``autocast_dtype`` runs the model's forward passes under
    ``torch.autocast`` in that dtype (``None``: as the weights are).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        architecture: Architecture,
        *,
        pad_token_id: int,
        decoder_start_token_id: int | None = None,
        strategy: Strategy | Literal["auto"] = "auto",
        token_budget: int = 8192,
        naive_batch_size: int = 1,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}"
            )
        if strategy != "auto" and strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be 'auto' or one of {', '.join(STRATEGIES)}, got {strategy!r}"
            )
        if token_budget < 1:
            raise ValueError(f"token_budget must be >= 1, got {token_budget}")
        if naive_batch_size < 1:
            raise ValueError(f"naive_batch_size must be >= 1, got {naive_batch_size}")
        if architecture == "encoder-decoder" and decoder_start_token_id is None:
            raise ValueError("an encoder-decoder model needs a decoder_start_token_id")
        self.model = model
        self.architecture: Architecture = architecture
        self.pad_token_id = int(pad_token_id)
        self.decoder_start_token_id = decoder_start_token_id
        self.strategy: Strategy = (
            default_strategy(model, architecture) if strategy == "auto" else strategy
        )
        self.token_budget = token_budget
        self.naive_batch_size = naive_batch_size
        self.autocast_dtype = autocast_dtype
        self._accepts_logits_to_keep = "logits_to_keep" in _forward_parameters(model)
        logger.debug("action scorer: %s model, %s strategy", architecture, self.strategy)

    # ------------------------------------------------------------------ public

    def __call__(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> ScoringResult:
        """Score ``actions[i]`` (each a non-empty id list) given ``prompts[i]``.

        An observation with no action gives only its hidden state (the value
        pass). Every prompt must be non-empty.
        """
        if len(prompts) != len(actions):
            raise ValueError(f"{len(prompts)} prompts but {len(actions)} action lists")
        if not prompts:
            raise ValueError("cannot score an empty batch")
        for i, prompt in enumerate(prompts):
            if len(prompt) == 0:
                raise ValueError(f"prompt {i} has no tokens")
            for k, action in enumerate(actions[i]):
                if len(action) == 0:
                    raise ValueError(f"action {k} of observation {i} has no tokens")
        costs = [
            len(p) + sum(len(a) for a in acts) for p, acts in zip(prompts, actions, strict=True)
        ]
        if self.strategy == "naive":
            costs = [
                len(p) + max((len(a) for a in acts), default=0)
                for p, acts in zip(prompts, actions, strict=True)
            ]
        chunks = plan_chunks(costs, self.token_budget)
        max_actions = max(len(a) for a in actions)
        logprob_parts: list[torch.Tensor] = []
        hidden_parts: list[torch.Tensor] = []
        for chunk in chunks:
            result = self._score_chunk([prompts[i] for i in chunk], [actions[i] for i in chunk])
            pad = max_actions - result.logprobs.shape[1]
            logprob_parts.append(
                torch.nn.functional.pad(result.logprobs, (0, pad), value=float("-inf"))
            )
            hidden_parts.append(result.hidden)
        order = [i for chunk in chunks for i in chunk]
        logprobs = torch.cat(logprob_parts)
        hidden = torch.cat(hidden_parts)
        if order != list(range(len(order))):
            inverse = torch.empty(len(order), dtype=torch.long)
            inverse[torch.tensor(order)] = torch.arange(len(order))
            inverse = inverse.to(logprobs.device)
            logprobs, hidden = logprobs[inverse], hidden[inverse]
        return ScoringResult(logprobs=logprobs, hidden=hidden)

    # ------------------------------------------------------------------ dispatch

    def _score_chunk(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> ScoringResult:
        if self.strategy == "naive":
            return self._naive(prompts, actions)
        if self.architecture == "decoder":
            if self.strategy == "packed":
                return self._packed_decoder(prompts, actions)
            return self._expanded_decoder(prompts, actions)
        if self.strategy == "packed":
            return self._packed_seq2seq(prompts, actions)
        return self._expanded_seq2seq(prompts, actions)

    @property
    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def _dtype(self) -> torch.dtype:
        """The dtype the attention computes in, hence that of its additive masks.

        Under autocast (this scorer's own, or one the caller opened) the
        attention's inputs are cast to the autocast dtype; otherwise they are in
        the weights' dtype. Asked inside the very context the forward passes run
        in, so that an autocast torch turns off (a device without support for
        it) gives the weights' dtype too.
        """
        device = self._device
        with autocast_context(device, self.autocast_dtype):
            if torch.is_autocast_enabled(device.type):
                return torch.get_autocast_dtype(device.type)
        return next(unwrap_model(self.model).parameters()).dtype

    def _forward(self, module: Any, **kwargs: Any) -> Any:
        """``module(**kwargs)`` under this scorer's autocast (the LM's forward passes only)."""
        with autocast_context(self._device, self.autocast_dtype):
            return module(**kwargs)

    def _tensor(self, rows: list[list[int]]) -> torch.Tensor:
        return torch.tensor(rows, dtype=torch.long, device=self._device)

    def _index(self, values: list[int]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.long, device=self._device)

    def _additive_mask(self, allowed: torch.Tensor) -> torch.Tensor:
        """(n, S, S) booleans to the (n, 1, S, S) additive float mask HF models accept."""
        dtype = self._dtype
        mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        mask = mask.masked_fill(~allowed, torch.finfo(dtype).min)
        return mask.unsqueeze(1)

    # ------------------------------------------------------------------ packed

    def _packed_decoder(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> ScoringResult:
        n = len(prompts)
        prompt_width = max(len(p) for p in prompts)
        region = [sum(len(a) - 1 for a in acts) for acts in actions]
        width = prompt_width + max(region)
        ids = [[self.pad_token_id] * width for _ in range(n)]
        segments = [[-1] * width for _ in range(n)]
        positions = [[0] * width for _ in range(n)]
        # (observation, kept column, target token, action slot) of every scored token;
        # kept column 0 is the last prompt token, column c > 0 is row column prompt_width - 1 + c.
        obs_index: list[int] = []
        column: list[int] = []
        target: list[int] = []
        slot: list[int] = []
        max_actions = max(len(a) for a in actions)
        for i, (prompt, acts) in enumerate(zip(prompts, actions, strict=True)):
            length = len(prompt)
            start = prompt_width - length
            ids[i][start:prompt_width] = list(prompt)
            segments[i][start:prompt_width] = [0] * length
            positions[i][start:prompt_width] = list(range(length))
            cursor = prompt_width
            for k, action in enumerate(acts):
                inputs = list(action[:-1])
                end = cursor + len(inputs)
                ids[i][cursor:end] = inputs
                segments[i][cursor:end] = [k + 1] * len(inputs)
                positions[i][cursor:end] = list(range(length, length + len(inputs)))
                for j, token in enumerate(action):
                    obs_index.append(i)
                    column.append(0 if j == 0 else cursor + j - prompt_width)
                    target.append(int(token))
                    slot.append(i * max_actions + k)
                cursor = end
        segment = self._tensor(segments)
        query, key = segment[:, :, None], segment[:, None, :]
        causal = torch.ones(width, width, dtype=torch.bool, device=segment.device).tril()
        allowed = causal & (key >= 0) & ((key == 0) | (key == query))
        allowed |= torch.eye(width, dtype=torch.bool, device=segment.device)
        kept = width - prompt_width + 1
        extra: dict[str, Any] = {"logits_to_keep": kept} if self._accepts_logits_to_keep else {}
        out = self._forward(
            self.model,
            input_ids=self._tensor(ids),
            attention_mask=self._additive_mask(allowed),
            position_ids=self._tensor(positions),
            use_cache=False,
            output_hidden_states=True,
            **extra,
        )
        hidden = out.hidden_states[-1][:, prompt_width - 1]
        logits = out.logits[:, -kept:]
        logprobs = self._gather(logits, obs_index, column, target, slot, n, max_actions, actions)
        return ScoringResult(logprobs=logprobs, hidden=hidden)

    def _packed_seq2seq(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> ScoringResult:
        n = len(prompts)
        start_id = int(self.decoder_start_token_id)  # type: ignore[arg-type]
        encoder_ids, encoder_mask = self._right_padded(prompts)
        width = max(max(1, sum(len(a) for a in acts)) for acts in actions)
        ids = [[self.pad_token_id] * width for _ in range(n)]
        segments = [[-1] * width for _ in range(n)]
        obs_index: list[int] = []
        column: list[int] = []
        target: list[int] = []
        slot: list[int] = []
        max_actions = max(len(a) for a in actions)
        for i, acts in enumerate(actions):
            if not acts:  # value only: the start token alone
                ids[i][0], segments[i][0] = start_id, 1
            cursor = 0
            for k, action in enumerate(acts):
                inputs = [start_id, *action[:-1]]
                end = cursor + len(inputs)
                ids[i][cursor:end] = inputs
                segments[i][cursor:end] = [k + 1] * len(inputs)
                for j, token in enumerate(action):
                    obs_index.append(i)
                    column.append(cursor + j)
                    target.append(int(token))
                    slot.append(i * max_actions + k)
                cursor = end
        segment = self._tensor(segments)
        query, key = segment[:, :, None], segment[:, None, :]
        causal = torch.ones(width, width, dtype=torch.bool, device=segment.device).tril()
        allowed = causal & (key >= 0) & (key == query)
        allowed |= torch.eye(width, dtype=torch.bool, device=segment.device)
        out = self._forward(
            self.model,
            input_ids=encoder_ids,
            attention_mask=encoder_mask,
            decoder_input_ids=self._tensor(ids),
            decoder_attention_mask=self._additive_mask(allowed),
            use_cache=False,
            output_hidden_states=True,
        )
        hidden = out.decoder_hidden_states[-1][:, 0]
        logprobs = self._gather(
            out.logits, obs_index, column, target, slot, n, max_actions, actions
        )
        return ScoringResult(logprobs=logprobs, hidden=hidden)

    # ------------------------------------------------------------------ expanded

    def _expanded_decoder(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> ScoringResult:
        n = len(prompts)
        hf_model = unwrap_model(self.model)
        if hf_model.training and is_gradient_checkpointing(hf_model):
            raise RuntimeError(
                "the 'expanded' scoring strategy needs a key/value cache, which gradient "
                "checkpointing disables in training mode; use the 'packed' or 'naive' strategy"
            )
        width = max(len(p) for p in prompts)
        ids = [[self.pad_token_id] * (width - len(p)) + list(p) for p in prompts]
        mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
        positions = [[0] * (width - len(p)) + list(range(len(p))) for p in prompts]
        prompt_mask = self._tensor(mask)
        rows = [(i, k) for i, acts in enumerate(actions) for k, a in enumerate(acts) if len(a) > 1]
        extra: dict[str, Any] = {"logits_to_keep": 1} if self._accepts_logits_to_keep else {}
        out = self._forward(
            self.model,
            input_ids=self._tensor(ids),
            attention_mask=prompt_mask,
            position_ids=self._tensor(positions),
            use_cache=bool(rows),
            output_hidden_states=True,
            **extra,
        )
        hidden = out.hidden_states[-1][:, -1]
        max_actions = max(len(a) for a in actions)
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        obs_index = [i for i, acts in enumerate(actions) for _ in acts]
        first_tokens = [int(a[0]) for acts in actions for a in acts]
        slots = [i * max_actions + k for i, acts in enumerate(actions) for k in range(len(acts))]
        flat = torch.zeros(n * max_actions, device=first.device)
        if slots:
            flat = flat.index_add(
                0,
                self._index(slots),
                first[self._index(obs_index), self._index(first_tokens)],
            )
        if rows:
            cache = out.past_key_values
            if cache is None:
                raise RuntimeError("the model returned no key/value cache for the prompts")
            row_obs = self._index([i for i, _ in rows])
            cache.batch_select_indices(row_obs)
            inputs = [list(actions[i][k][:-1]) for i, k in rows]
            cont_ids, cont_mask = self._right_padded(inputs)
            cont_positions = self._tensor(
                [[len(prompts[i]) + j for j in range(cont_ids.shape[1])] for i, _ in rows]
            )
            cont = self._forward(
                self.model,
                input_ids=cont_ids,
                attention_mask=torch.cat([prompt_mask[row_obs], cont_mask], dim=1),
                position_ids=cont_positions,
                past_key_values=cache,
                use_cache=True,
            )
            row_index, column, target, slot = [], [], [], []
            for r, (i, k) in enumerate(rows):
                for j, token in enumerate(actions[i][k][1:]):
                    row_index.append(r)
                    column.append(j)
                    target.append(int(token))
                    slot.append(i * max_actions + k)
            logp = torch.log_softmax(cont.logits.float(), dim=-1)
            picked = logp[self._index(row_index), self._index(column), self._index(target)]
            flat = flat.index_add(0, self._index(slot), picked)
        return ScoringResult(logprobs=self._finish(flat, n, max_actions, actions), hidden=hidden)

    def _expanded_seq2seq(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> ScoringResult:
        n = len(prompts)
        start_id = int(self.decoder_start_token_id)  # type: ignore[arg-type]
        encoder_ids, encoder_mask = self._right_padded(prompts)
        encoded = self._forward(
            self.model.get_encoder(), input_ids=encoder_ids, attention_mask=encoder_mask
        ).last_hidden_state
        rows = [(i, k) for i, acts in enumerate(actions) for k in range(max(1, len(acts)))]
        first_row = {}
        for r, (i, _) in enumerate(rows):
            first_row.setdefault(i, r)
        inputs = [[start_id, *actions[i][k][:-1]] if actions[i] else [start_id] for i, k in rows]
        dec_ids, dec_mask = self._right_padded(inputs)
        row_obs = self._index([i for i, _ in rows])
        out = self._forward(
            self.model,
            encoder_outputs=BaseModelOutput(last_hidden_state=encoded[row_obs]),
            attention_mask=encoder_mask[row_obs],
            decoder_input_ids=dec_ids,
            decoder_attention_mask=dec_mask,
            use_cache=False,
            output_hidden_states=True,
        )
        hidden = out.decoder_hidden_states[-1][self._index([first_row[i] for i in range(n)]), 0]
        max_actions = max(len(a) for a in actions)
        row_index, column, target, slot = [], [], [], []
        for r, (i, k) in enumerate(rows):
            if not actions[i]:
                continue
            for j, token in enumerate(actions[i][k]):
                row_index.append(r)
                column.append(j)
                target.append(int(token))
                slot.append(i * max_actions + k)
        logprobs = self._gather(
            out.logits, row_index, column, target, slot, n, max_actions, actions
        )
        return ScoringResult(logprobs=logprobs, hidden=hidden)

    # ------------------------------------------------------------------ naive

    def _naive(
        self, prompts: Sequence[TokenIds], actions: Sequence[Sequence[TokenIds]]
    ) -> ScoringResult:
        """One (prompt + action) sequence per row, ``naive_batch_size`` rows per forward."""
        n = len(prompts)
        max_actions = max(len(a) for a in actions)
        pairs = [(i, k) for i, acts in enumerate(actions) for k in range(max(1, len(acts)))]
        flat = torch.zeros(n * max_actions, device=self._device)
        hidden_rows: dict[int, torch.Tensor] = {}
        for begin in range(0, len(pairs), self.naive_batch_size):
            batch = pairs[begin : begin + self.naive_batch_size]
            targets = [list(actions[i][k]) if actions[i] else [] for i, k in batch]
            if self.architecture == "decoder":
                rows = [list(prompts[i]) + t[:-1] for (i, _), t in zip(batch, targets, strict=True)]
                ids, mask = self._right_padded(rows)
                out = self._forward(
                    self.model,
                    input_ids=ids,
                    attention_mask=mask,
                    use_cache=False,
                    output_hidden_states=True,
                )
                offsets = [len(prompts[i]) - 1 for i, _ in batch]
                last_hidden = out.hidden_states[-1]
            else:
                start_id = int(self.decoder_start_token_id)  # type: ignore[arg-type]
                enc_ids, enc_mask = self._right_padded([prompts[i] for i, _ in batch])
                dec_ids, dec_mask = self._right_padded([[start_id, *t[:-1]] for t in targets])
                out = self._forward(
                    self.model,
                    input_ids=enc_ids,
                    attention_mask=enc_mask,
                    decoder_input_ids=dec_ids,
                    decoder_attention_mask=dec_mask,
                    use_cache=False,
                    output_hidden_states=True,
                )
                offsets = [0] * len(batch)
                last_hidden = out.decoder_hidden_states[-1]
            logp = torch.log_softmax(out.logits.float(), dim=-1)
            for r, ((i, k), t) in enumerate(zip(batch, targets, strict=True)):
                hidden_rows.setdefault(i, last_hidden[r, offsets[r]])
                if t:
                    token_logp = logp[
                        r,
                        offsets[r] + torch.arange(len(t), device=logp.device),
                        torch.tensor(t, device=logp.device),
                    ]
                    flat = flat.index_add(
                        0,
                        torch.tensor([i * max_actions + k], device=flat.device),
                        token_logp.sum().reshape(1),
                    )
        hidden = torch.stack([hidden_rows[i] for i in range(n)])
        return ScoringResult(logprobs=self._finish(flat, n, max_actions, actions), hidden=hidden)

    # ------------------------------------------------------------------ helpers

    def _right_padded(self, rows: Sequence[TokenIds]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        ids = [list(r) + [self.pad_token_id] * (width - len(r)) for r in rows]
        mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
        return self._tensor(ids), self._tensor(mask)

    def _gather(
        self,
        logits: torch.Tensor,
        row_index: list[int],
        column: list[int],
        target: list[int],
        slot: list[int],
        n: int,
        max_actions: int,
        actions: Sequence[Sequence[TokenIds]],
    ) -> torch.Tensor:
        """Sum the picked tokens' log-softmax values into their action slots."""
        flat = torch.zeros(n * max_actions, device=logits.device)
        if slot:
            logp = torch.log_softmax(logits.float(), dim=-1)
            picked = logp[self._index(row_index), self._index(column), self._index(target)]
            flat = flat.index_add(0, self._index(slot), picked)
        return self._finish(flat, n, max_actions, actions)

    def _finish(
        self,
        flat: torch.Tensor,
        n: int,
        max_actions: int,
        actions: Sequence[Sequence[TokenIds]],
    ) -> torch.Tensor:
        counts = torch.tensor([len(a) for a in actions], device=flat.device)
        present = torch.arange(max_actions, device=flat.device)[None, :] < counts[:, None]
        return flat.view(n, max_actions).masked_fill(~present, float("-inf"))
