"""Observations to token ids: prompts and actions tokenized separately, then checked.

The scorer concatenates ``prompt ids + action ids``; tokenizing the two texts
separately (never ``prompt + action`` as one string) keeps a token from
straddling the boundary, which would make the action's score include part of
the prompt. Prompts get the tokenizer's special tokens (BOS for Llama-like
models, ``</s>`` for T5 encoders, as the paper's Lamorel gave them); actions get
none, plus the end-of-sequence token when ``append_eos`` asks to score "the action
and nothing more" (what the paper's Lamorel scored with Flan-T5: its tokenizer
call appended ``</s>`` to every candidate).

Prompts are cut only where the model's positions really end (``position_limit``:
a learned position table such as GPT-2's ``n_positions``; none for T5's relative
positions, whatever its tokenizer's ``model_max_length`` says) or at
``max_prompt_tokens``: from the left (oldest context first) with a logged warning
by :func:`glam_policy.prompts.truncate_left`. For decoder-only models the limit
leaves room for the observation's longest action, since prompt and action share
the model's position table; an encoder-decoder's prompt has the encoder's table
to itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

from glam_policy.errors import PolicyInputError
from glam_policy.inputs import PolicyInput
from glam_policy.prompts import PromptTemplate, resolve_template, truncate_left
from glam_policy.scoring import Architecture

logger = logging.getLogger(__name__)

#: Distinct action strings whose ids are remembered (BabyAI has 6; TextWorld a few hundred).
ACTION_CACHE_SIZE = 8192


@dataclass(frozen=True)
class EncodedBatch:
    """Token ids of a batch, ready for :class:`~glam_policy.scoring.ActionScorer`.

    ``action_ids[i][k]`` are the scored tokens of action ``k`` of observation ``i``
    (empty lists when the batch was encoded without actions);
    ``word_counts[i][k]`` the number of words of its text.
    """

    inputs: tuple[PolicyInput, ...]
    prompt_ids: list[list[int]]
    action_ids: list[list[list[int]]]
    word_counts: list[list[int]]
    truncated: list[bool]


def parse_observations(
    observations: Sequence[PolicyInput | Mapping[str, Any]],
) -> list[PolicyInput]:
    """Validate a batch of observations into :class:`PolicyInput`, naming the bad one."""
    if isinstance(observations, PolicyInput | Mapping | str):
        raise PolicyInputError(
            "expected a sequence of observations (PolicyInput or mappings), got a single "
            f"{type(observations).__name__}"
        )
    if len(observations) == 0:
        raise PolicyInputError("the batch of observations is empty")
    parsed: list[PolicyInput] = []
    for index, item in enumerate(observations):
        try:
            parsed.append(PolicyInput.from_any(item))
        except ValueError as error:
            raise PolicyInputError(f"observation {index}: {error}") from error
    return parsed


class PolicyEncoder:
    """Builds prompts with a template and turns prompts and actions into token ids.

    ``action_prefix`` is put before each action's text before tokenizing it;
    ``None`` picks it from the model family and the template in use: nothing for
    encoder-decoder models (the decoder starts a new sequence) and for decoder-only
    models whose prompts end with whitespace (the paper's ``"Action 2: "``: the text
    scored reads ``"Action 2: go forward"``, one space, as when the paper's Lamorel
    tokenized prompt and candidate apart), a space for decoder-only models whose
    prompts end on a word (``"Action 2:"``). It is resolved on each use, so that
    swapping ``template`` (an evaluation with another goal phrasing) takes it along.
    ``position_limit`` is the model's position table size, ``None`` without one.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        template: str | Mapping[str, Any] | PromptTemplate,
        architecture: Architecture,
        *,
        append_eos: bool = False,
        action_prefix: str | None = None,
        max_prompt_tokens: int | None = None,
        position_limit: int | None = None,
    ) -> None:
        if append_eos and tokenizer.eos_token_id is None:
            raise ValueError("append_eos needs a tokenizer with an eos token")
        self.tokenizer = tokenizer
        self.template: PromptTemplate = resolve_template(template)
        self.architecture = architecture
        self.append_eos = append_eos
        self.fixed_action_prefix = action_prefix
        self.max_prompt_tokens = max_prompt_tokens
        self.position_limit = position_limit
        self._action_cache: dict[tuple[str, str], list[int]] = {}

    @property
    def action_prefix(self) -> str:
        """What goes before each action's text (see the class docstring)."""
        if self.fixed_action_prefix is not None:
            return self.fixed_action_prefix
        if self.architecture == "decoder" and not self.template.ends_with_whitespace:
            return " "
        return ""

    def prompt_limit(self, longest_action: int) -> int | None:
        """The most prompt tokens allowed next to an action of ``longest_action`` tokens."""
        limits = []
        if self.max_prompt_tokens is not None:
            limits.append(self.max_prompt_tokens)
        if self.position_limit is not None:
            # Only decoder-only models put prompt and action in one position table.
            shared = longest_action if self.architecture == "decoder" else 0
            limits.append(self.position_limit - shared)
        return min(limits) if limits else None

    def action_ids(self, action: str) -> list[int]:
        """The scored token ids of one action text (cached); errors for blank actions."""
        prefix = self.action_prefix
        cached = self._action_cache.get((prefix, action))
        if cached is not None:
            return cached
        if not action.strip():
            raise PolicyInputError(f"action {action!r} is blank: there is nothing to score")
        ids = list(self.tokenizer(prefix + action, add_special_tokens=False)["input_ids"])
        if not ids:
            raise PolicyInputError(f"action {action!r} encodes to no token")
        if self.append_eos:
            ids.append(int(self.tokenizer.eos_token_id))  # type: ignore[arg-type]
        if len(self._action_cache) >= ACTION_CACHE_SIZE:
            self._action_cache.clear()
        self._action_cache[(prefix, action)] = ids
        return ids

    def encode(
        self,
        observations: Sequence[PolicyInput | Mapping[str, Any]],
        *,
        with_actions: bool = True,
    ) -> EncodedBatch:
        """Prompt ids (truncated if needed) and, unless told otherwise, action ids."""
        inputs = parse_observations(observations)
        action_ids: list[list[list[int]]] = []
        word_counts: list[list[int]] = []
        for index, item in enumerate(inputs):
            if not with_actions:
                action_ids.append([])
                word_counts.append([])
                continue
            try:
                action_ids.append([self.action_ids(a) for a in item.admissible_actions])
            except PolicyInputError as error:
                raise PolicyInputError(f"observation {index}: {error}") from error
            word_counts.append([len(a.split()) for a in item.admissible_actions])
        texts = [self.template.render(item) for item in inputs]
        # verbose=False: the tokenizer's own "longer than the maximum sequence length"
        # warning would fire for T5 prompts past model_max_length, which T5's relative
        # positions accept; limits are applied (and warned about) below.
        encoded = self.tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]
        prompt_ids: list[list[int]] = []
        truncated: list[bool] = []
        for index, ids in enumerate(encoded):
            longest = max((len(a) for a in action_ids[index]), default=1)
            limit = self.prompt_limit(longest)
            if limit is not None and limit < 1:
                raise PolicyInputError(
                    f"observation {index}: an action of {longest} tokens leaves no room for "
                    f"the prompt within the model's {self.position_limit} positions"
                )
            if limit is not None:
                ids, cut = truncate_left(list(ids), limit)
            else:
                ids, cut = list(ids), False
            if not ids:
                raise PolicyInputError(f"observation {index}: the prompt encodes to no token")
            prompt_ids.append(ids)
            truncated.append(cut)
        return EncodedBatch(
            inputs=tuple(inputs),
            prompt_ids=prompt_ids,
            action_ids=action_ids,
            word_counts=word_counts,
            truncated=truncated,
        )
