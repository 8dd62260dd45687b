"""Agents that play text games for evaluation: a policy, the BabyAI bot, uniform random.

Every agent answers a batch of observations from several environments at once
(one policy forward for all of them) and is told when an environment starts a
new episode, which the bot needs to follow the game from its first step.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from glam_env import ExpertAgent, ExpertFailure
from glam_policy import LLMPolicy, resolve_template
from glam_policy.prompts import phrasing_variant

logger = logging.getLogger(__name__)


class Agent(Protocol):
    """What the evaluation loop needs from an agent."""

    name: str

    def reseed(self, seed: int) -> None:
        """Restart the agent's own randomness (each test starts from the same state)."""

    def start(self, slot: int, env: Any) -> None:
        """Environment ``slot`` (``env``) was just reset for a new episode."""

    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        """One admissible-action index per observation (``slots[i]`` played it)."""
        ...


class RandomAgent:
    """Uniformly random admissible actions, from its own seeded generator."""

    def __init__(self, seed: int = 0) -> None:
        self.name = "random"
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def start(self, slot: int, env: Any) -> None:
        pass

    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        return [int(self.rng.integers(len(obs["admissible_actions"]))) for obs in observations]


class BotAgent:
    """MiniGrid's BabyAI bot, which plans on the true grid state (an upper bound).

    When the bot cannot help (rare dead ends of its planner) it plays a random
    action for that step and the failure is counted in ``failures``.
    """

    def __init__(self, seed: int = 0) -> None:
        self.name = "bot"
        self.rng = np.random.default_rng(seed)
        self.experts: dict[int, ExpertAgent] = {}
        self.failures = 0

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def start(self, slot: int, env: Any) -> None:
        self.experts[slot] = ExpertAgent(env)

    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        actions = []
        for slot, obs in zip(slots, observations, strict=True):
            try:
                actions.append(self.experts[slot].act())
            except ExpertFailure as failure:
                self.failures += 1
                logger.debug("bot failed in slot %d: %s", slot, failure)
                actions.append(int(self.rng.integers(len(obs["admissible_actions"]))))
        return actions


class PolicyAgent:
    """An ``LLMPolicy`` (or any policy returning masked logits): sampled or greedy actions.

    Sampling uses a ``torch.Generator`` seeded with ``seed``, so the same seeds and
    batch layout give the same episodes. ``template`` temporarily replaces the
    policy's prompt template (the paper's goal-phrasing tests).
    """

    def __init__(self, policy: Any, *, greedy: bool = False, seed: int = 0, name: str = "policy"):
        self.name = name
        self.policy = policy
        self.greedy = greedy
        self.generator = torch.Generator().manual_seed(seed)

    def reseed(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def start(self, slot: int, env: Any) -> None:
        pass

    @torch.no_grad()
    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        logits, _ = self.policy(list(observations))
        logits = logits.detach().float().cpu()
        if self.greedy:
            return [int(i) for i in logits.argmax(dim=-1)]
        probs = torch.softmax(logits, dim=-1)
        return [int(i) for i in torch.multinomial(probs, 1, generator=self.generator).squeeze(1)]

    @contextlib.contextmanager
    def template(self, template: str | None) -> Iterator[None]:
        """Use ``template`` for prompts inside the block (``None``: keep the policy's).

        A goal phrasing (``i_would_like``, ``you_have_to``, ``french``) is taken in
        the layout of the policy's own named template (``compact_i_would_like`` for a
        ``compact`` agent): the test changes the words, not the layout it learned.
        """
        encoder = getattr(self.policy, "encoder", None)
        if template is None or encoder is None:
            yield
            return
        own = getattr(getattr(self.policy, "config", None), "template", None)
        if isinstance(own, str):
            template = phrasing_variant(own, template)
        previous = encoder.template
        encoder.template = resolve_template(template)
        try:
            yield
        finally:
            encoder.template = previous

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode (no dropout) inside the block; the previous mode is restored."""
        was_training = bool(getattr(self.policy, "training", False))
        self.policy.train(False)
        try:
            yield
        finally:
            self.policy.train(was_training)


def is_llm_policy(policy: Any) -> bool:
    return isinstance(policy, LLMPolicy)
