"""What an agent chose at one step, with the probabilities and value behind the choice.

The evaluation agents (:mod:`glam_apps.evaluation.agents`) return action indices
only. To show *why* an agent acts, a :class:`Decider` wraps one and returns a
:class:`Decision`: the action, the probability of every admissible action and
the agent's value estimate. A learned policy (the LLM policy, the symbolic
actor-critic, DRRN: anything called as ``policy(observations) -> (logits,
values)``) gives both from one forward pass; its action is drawn exactly as
:class:`~glam_apps.evaluation.agents.PolicyAgent` draws it (same generator, same
call), so a watched episode is the one ``glam evaluate --num-envs 1`` plays on
that seed. Scripted agents have no distribution: the random agent's is uniform,
the bot's and the keyword rule's put 1.0 on the action they chose; none has a value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from glam_apps.evaluation.agents import Agent, KeywordAgent, PolicyAgent, RandomAgent

__all__ = ["Decider", "Decision", "PolicyDecider", "ScriptedDecider", "decider_for"]


@dataclass(frozen=True)
class Decision:
    """One step's choice: ``probabilities[i]`` is that of ``actions[i]``.

    ``value`` is the agent's estimate of the return from this state (the LLM's
    value head, the symbolic critic, DRRN's largest Q-value), ``None`` for agents
    without one; ``prompt`` is the text a prompt-reading agent scored, else ``None``.
    """

    actions: tuple[str, ...]
    probabilities: tuple[float, ...]
    action: int
    value: float | None = None
    prompt: str | None = None

    @property
    def action_text(self) -> str:
        return self.actions[self.action]

    def top(self, k: int) -> list[tuple[int, str, float]]:
        """The ``k`` most likely actions as ``(index, text, probability)``, likeliest first.

        The chosen action is always among them (it replaces the last one if a
        sampled action was less likely than the ``k`` first).
        """
        order = sorted(range(len(self.actions)), key=lambda i: (-self.probabilities[i], i))
        chosen = order[: max(k, 1)]
        if self.action not in chosen:
            chosen[-1] = self.action
        return [(i, self.actions[i], self.probabilities[i]) for i in chosen]


class Decider(Protocol):
    """An agent that explains its choices (see the module docstring)."""

    name: str

    def reseed(self, seed: int) -> None:
        """Restart the agent's randomness, as the evaluation does at a test's first seed."""

    def start(self, env: Any) -> None:
        """``env`` was just reset for a new episode."""

    def decide(self, observation: Mapping[str, Any]) -> Decision:
        """The agent's choice for one observation of a text game."""
        ...

    def playing(self, template: str | None = None) -> contextlib.AbstractContextManager[None]:
        """The mode the agent plays in (evaluation mode for policies; ``template``:
        another prompt template, as the evaluation's goal-phrasing tests use)."""
        ...


class PolicyDecider:
    """A learned policy's choice, its probabilities and its value, from one forward pass."""

    def __init__(self, agent: PolicyAgent) -> None:
        self.agent = agent
        self.name = agent.name

    def reseed(self, seed: int) -> None:
        self.agent.reseed(seed)

    def start(self, env: Any) -> None:
        self.agent.start(0, env)

    @torch.no_grad()
    def decide(self, observation: Mapping[str, Any]) -> Decision:
        policy = self.agent.policy
        logits, values = policy([observation])
        logits = logits.detach().float().cpu()
        probabilities = torch.softmax(logits, dim=-1)
        if self.agent.greedy:
            action = int(logits.argmax(dim=-1)[0])
        else:  # the very call PolicyAgent.act makes, so the same generator draws the same
            draw = torch.multinomial(probabilities, 1, generator=self.agent.generator)
            action = int(draw.squeeze(1)[0])
        actions = tuple(observation["admissible_actions"])
        value = None if values is None else float(values.detach().float().reshape(-1)[0])
        return Decision(
            actions=actions,
            probabilities=tuple(float(p) for p in probabilities[0, : len(actions)]),
            action=action,
            value=value,
            prompt=_prompt(policy, observation),
        )

    @contextlib.contextmanager
    def playing(self, template: str | None = None) -> Iterator[None]:
        with self.agent.evaluating(), self.agent.template(template):
            yield


class ScriptedDecider:
    """A scripted agent: uniform probabilities for the random agent, 1.0 on the choice else."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.name = agent.name
        # KeywordAgent inherits RandomAgent's generator, not its uniform choice.
        self.uniform = isinstance(agent, RandomAgent) and not isinstance(agent, KeywordAgent)

    def reseed(self, seed: int) -> None:
        self.agent.reseed(seed)

    def start(self, env: Any) -> None:
        self.agent.start(0, env)

    def decide(self, observation: Mapping[str, Any]) -> Decision:
        actions = tuple(observation["admissible_actions"])
        action = int(self.agent.act([0], [dict(observation)])[0])
        if self.uniform:
            probabilities = tuple(1.0 / len(actions) for _ in actions)
        else:
            probabilities = tuple(float(i == action) for i in range(len(actions)))
        return Decision(actions=actions, probabilities=probabilities, action=action)

    @contextlib.contextmanager
    def playing(self, template: str | None = None) -> Iterator[None]:
        yield


def decider_for(agent: Agent) -> Decider:
    """The :class:`Decider` of an evaluation agent."""
    if isinstance(agent, PolicyAgent):
        return PolicyDecider(agent)
    return ScriptedDecider(agent)


def _prompt(policy: Any, observation: Mapping[str, Any]) -> str | None:
    """The prompt an LLM policy scored (its encoder's template), ``None`` for other policies."""
    template = getattr(getattr(policy, "encoder", None), "template", None)
    render = getattr(template, "render", None)
    return None if render is None else str(render(observation))
