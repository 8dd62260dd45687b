"""Play an agent episode by episode and yield one :class:`StepRecord` per step.

A record holds what the game showed before the step (goal, observation, the
level's grid), the agent's :class:`~glam_apps.watching.decisions.Decision`, and
what the step brought (reward, return so far, whether the episode ended and how),
with the state it led to. The terminal display, the JSONL transcript and the GIF
are all drawn from these records, so they always agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glam_apps.games.envs import EnvSpec, make_game
from glam_apps.watching.decisions import Decider, Decision

__all__ = ["TILE_SIZE", "StepRecord", "View", "play_episode", "view_of", "watch_episodes"]

#: Pixels per grid cell of a BabyAI frame (MiniGrid's own default is 32).
TILE_SIZE = 24


@dataclass(frozen=True)
class View:
    """What the game shows at one moment.

    ``grid`` is the level's map as text for BabyAI-Text (MiniGrid's two
    characters per cell: object then colour, ``>>``/``VV``/``<<``/``^^`` the agent
    facing right/down/left/up), ``None`` for games whose observation is the whole
    picture (a board game's board, a TextWorld room). ``frame`` is MiniGrid's
    image of the level (RGB, only when asked for).
    """

    goal: str
    observation: str
    grid: str | None = None
    frame: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class StepRecord:
    """One step of a watched episode (``episode`` and ``step`` count from 0; the
    transcript, the files and the display number episodes from 1)."""

    episode: int
    seed: int
    step: int
    view: View
    decision: Decision
    reward: float
    episode_return: float
    done: bool
    truncated: bool
    success: bool | None
    after: View
    """The state the action led to (the final state when ``done``)."""

    def to_json(self) -> dict[str, Any]:
        """The transcript line: the prompt, the actions and their probabilities, the
        chosen one, the value, the reward and whether the episode ended."""
        decision = self.decision
        return {
            "episode": self.episode + 1,
            "seed": self.seed,
            "step": self.step,
            "goal": self.view.goal,
            "observation": self.view.observation,
            "grid": self.view.grid,
            "prompt": decision.prompt,
            "actions": list(decision.actions),
            "probabilities": list(decision.probabilities),
            "action": decision.action,
            "action_text": decision.action_text,
            "value": decision.value,
            "reward": self.reward,
            "return": self.episode_return,
            "done": self.done,
            "truncated": self.truncated,
            "success": self.success,
        }


def view_of(env: Any, observation: dict[str, Any], *, frame: bool = False) -> View:
    """The :class:`View` of ``env`` now (``observation`` is what it just returned)."""
    grid = image = None
    minigrid = getattr(env.unwrapped, "minigrid_env", None)
    if minigrid is not None:
        grid = str(minigrid.pprint_grid()).rstrip("\n")
        if frame:
            image = minigrid.get_frame(minigrid.highlight, TILE_SIZE, minigrid.agent_pov)
    return View(
        goal=str(observation["mission"]),
        observation=str(observation["observation"]),
        grid=grid,
        frame=image,
    )


def play_episode(
    env: Any, decider: Decider, *, seed: int, episode: int = 0, frames: bool = False
) -> Iterator[StepRecord]:
    """One episode of ``env`` from ``reset(seed=seed)``, step by step.

    ``frames`` adds MiniGrid's image to each view (for GIFs); games without one
    have none. The last record has ``done`` set.
    """
    observation, _ = env.reset(seed=int(seed))
    decider.start(env)
    view = view_of(env, observation, frame=frames)
    total = 0.0
    step = 0
    while True:
        decision = decider.decide(observation)
        observation, reward, terminated, truncated, info = env.step(decision.action)
        total += float(reward)
        done = bool(terminated or truncated)
        after = view_of(env, observation, frame=frames)
        yield StepRecord(
            episode=episode,
            seed=int(seed),
            step=step,
            view=view,
            decision=decision,
            reward=float(reward),
            episode_return=total,
            done=done,
            truncated=bool(truncated),
            success=bool(info.get("success", False)) if done else None,
            after=after,
        )
        if done:
            return
        view = after
        step += 1


def watch_episodes(
    spec: EnvSpec,
    decider: Decider,
    seeds: Sequence[int],
    *,
    frames: bool = False,
    template: str | None = None,
) -> Iterator[StepRecord]:
    """One episode per seed, in order, in one environment of ``spec``.

    The agent is reseeded with the first seed, as ``glam evaluate`` does at the
    start of a test, and plays in evaluation mode (``template``: another prompt
    template for a prompt-reading agent).
    """
    if not seeds:
        return
    env = make_game(spec)
    try:
        decider.reseed(int(seeds[0]))
        with decider.playing(template):
            for index, seed in enumerate(seeds):
                yield from play_episode(env, decider, seed=seed, episode=index, frames=frames)
    finally:
        env.close()
