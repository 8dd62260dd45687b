"""Agents that play text games for evaluation: a policy, the BabyAI bot, uniform random.

Every agent answers a batch of observations from several environments at once
(one policy forward for all of them) and is told when an environment starts a
new episode, which the bot needs to follow the game from its first step.
"""

from __future__ import annotations

import contextlib
import logging
import re
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


#: "go to the red ball", "pick up a key", "open the blue door" (colour optional).
_MISSION = re.compile(
    r"^(?P<verb>go to|pick up|open) (?:the|a) (?:(?P<color>red|green|blue|purple|yellow|grey) )?"
    r"(?P<kind>ball|box|key|door)$"
)
#: "You see a red ball 2 steps left and 1 step forward" (any part may be missing).
_SIGHT = re.compile(
    r"You see an? (?:open |closed |locked )?(?P<color>\w+) (?P<kind>ball|box|key|door)"
    r"(?: (?P<side_steps>\d+) steps? (?P<side>left|right))?(?: and)?"
    r"(?: (?P<forward>\d+) steps? forward)?"
)


class KeywordAgent(RandomAgent):
    """A scripted rule over BabyAI-Text's sentences: the floor any learner must beat.

    It reads the mission's verb, colour and object, looks for a matching "You see"
    sentence, and walks to it (forward while it is ahead, turning toward its side
    when it is beside), then picks it up or toggles it; with nothing in sight it
    turns left. No learning and no memory: it solves the single-room "go to" and
    "pick up" levels and shows how far words alone get. Other missions get a
    uniformly random action.
    """

    ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)  # its generator plays the missions the rule cannot read
        self.name = "keyword"

    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        return [self._act(obs) for obs in observations]

    def _act(self, obs: dict[str, Any]) -> int:
        actions = list(obs["admissible_actions"])
        mission = _MISSION.match(str(obs["mission"]).strip().lower())
        choice = self._choose(mission, str(obs["observation"])) if mission else None
        if choice is None or choice not in actions:
            return int(self.rng.integers(len(actions)))
        return actions.index(choice)

    @staticmethod
    def _choose(mission: re.Match[str], observation: str) -> str:
        for sentence in observation.split(","):
            sight = _SIGHT.search(sentence)
            if sight is None or sight["kind"] != mission["kind"]:
                continue
            if mission["color"] and sight["color"] != mission["color"]:
                continue
            forward = int(sight["forward"] or 0)
            if sight["side"] is None:
                if forward > 1:
                    return "go forward"
                return {"pick up": "pick up", "open": "toggle"}.get(mission["verb"], "go forward")
            if forward > 0:
                return "go forward"
            return "turn left" if sight["side"] == "left" else "turn right"
        return "turn left"


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
