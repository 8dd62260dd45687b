"""``glam watch`` as a function: resolve the agent and the game, play, record.

The agent is named as for ``glam evaluate`` (a run directory, a saved policy, a
model, ``bot``, ``keyword``, ``random``: :func:`glam_apps.evaluation.evaluate.load_agent`)
and plays what it was trained on unless told otherwise: a run's level and
environment settings (history, actions, episode length, distractors) or its
game; ``level`` moves a BabyAI-Text agent to another level, ``game`` to another
text game (:mod:`glam_apps.games.catalog` names them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glam_apps.config.loading import compose
from glam_apps.errors import UserError
from glam_apps.evaluation.agents import BotAgent
from glam_apps.evaluation.evaluate import LoadedAgent, load_agent
from glam_apps.evaluation.suites import DEFAULT_BASE_LEVEL, TestSpec, env_config_for_test
from glam_apps.games.catalog import require_game, resolve_game
from glam_apps.games.envs import EnvSpec, env_label
from glam_apps.watching.decisions import Decider, decider_for
from glam_apps.watching.recording import EpisodeRecorder, EpisodeSummary, check_record_directory
from glam_apps.watching.stepping import StepRecord, watch_episodes
from glam_env import BabyAITextConfig

__all__ = ["WatchResult", "WatchTarget", "prepare_watch", "watch", "watch_env"]

logger = logging.getLogger(__name__)


@dataclass
class WatchTarget:
    """An agent ready to be watched, and the game it plays."""

    loaded: LoadedAgent
    env: EnvSpec
    decider: Decider

    @property
    def label(self) -> str:
        return self.loaded.label

    @property
    def game_label(self) -> str:
        return env_label(self.env)


@dataclass
class WatchResult:
    """What a watch played and wrote."""

    agent: str
    game: str
    episodes: list[EpisodeSummary] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def watch_env(
    loaded: LoadedAgent,
    *,
    level: str | None = None,
    game: str | None = None,
    env_overrides: Sequence[str] = (),
) -> EnvSpec:
    """The game ``loaded`` plays: its own (a run's level or game), or ``level`` / ``game``."""
    if level is not None and game is not None:
        raise UserError("give --level (a BabyAI-Text level) or --game (another game), not both")
    if game is not None:
        section = require_game(game)
        if env_overrides:
            raise UserError(f"--env-set changes BabyAI-Text settings; {section.gym_id} has none")
        if isinstance(loaded.agent, BotAgent):
            raise UserError(f"the bot plays BabyAI-Text levels only, not {section.gym_id}")
        if (loaded.metadata or {}).get("agent") == "symbolic-ppo" and section != loaded.game:
            raise UserError(
                "a symbolic-ppo agent sees BabyAI's grid, which "
                f"{section.gym_id} does not have: watch it on its own level"
            )
        return section
    if loaded.game is not None:
        if level is not None:
            raise UserError(
                f"level {level!r} is a BabyAI-Text level; this agent plays "
                f"{loaded.game.gym_id} (--game plays another game)"
            )
        if env_overrides:
            raise UserError(
                f"--env-set changes BabyAI-Text settings; {loaded.game.gym_id} has none"
            )
        return loaded.game
    if level is not None and resolve_game(level) is not None:
        raise UserError(f"{level!r} is a game, not a BabyAI-Text level: use --game {level}")
    base = loaded.env_config
    target = level or loaded.base_level or DEFAULT_BASE_LEVEL
    if target != base.level:
        try:
            base = env_config_for_test(base, TestSpec("watch", target))
        except UserError as error:
            reason = str(error).removeprefix("test 'watch': ")
            raise UserError(f"cannot watch level {target!r}: {reason}") from error
    if env_overrides:  # last: what the user sets wins over the run's settings
        base = compose(BabyAITextConfig, base=base.model_dump(), overrides=env_overrides)
    return base


def prepare_watch(
    agent: str,
    *,
    level: str | None = None,
    game: str | None = None,
    env_overrides: Sequence[str] = (),
    greedy: bool = False,
    seed: int = 0,
    checkpoint: str = "auto",
    device: str | None = None,
    trust_remote_code: bool = False,
) -> WatchTarget:
    """Load ``agent`` (see :func:`~glam_apps.evaluation.evaluate.load_agent`) and its game."""
    loaded = load_agent(
        agent,
        greedy=greedy,
        seed=seed,
        checkpoint=checkpoint,
        device=device,
        trust_remote_code=trust_remote_code,
    )
    env = watch_env(loaded, level=level, game=game, env_overrides=env_overrides)
    return WatchTarget(loaded=loaded, env=env, decider=decider_for(loaded.agent))


def watch(
    agent: str,
    *,
    level: str | None = None,
    game: str | None = None,
    episodes: int = 1,
    seed: int = 0,
    greedy: bool = False,
    env_overrides: Sequence[str] = (),
    checkpoint: str = "auto",
    device: str | None = None,
    record: str | os.PathLike[str] | None = None,
    top: int = 5,
    trust_remote_code: bool = False,
    on_start: Callable[[WatchTarget], None] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> WatchResult:
    """Play ``episodes`` episodes of ``agent`` (seeds ``seed``, ``seed + 1``, ...).

    ``on_step`` receives every :class:`StepRecord` as it is played (the CLI shows
    it); ``record`` writes each episode into that new or empty directory
    (:class:`~glam_apps.watching.recording.EpisodeRecorder`, with the GIF's
    ``top`` likeliest actions). Actions are sampled as in ``glam evaluate``
    (``greedy``: the likeliest), from a generator seeded with ``seed``.
    """
    if episodes < 1:
        raise UserError(f"episodes must be >= 1, got {episodes}")
    if top < 1:
        raise UserError(f"top must be >= 1, got {top}")
    if record is not None:
        check_record_directory(record)  # before loading anything: a bad target fails fast
    target = prepare_watch(
        agent,
        level=level,
        game=game,
        env_overrides=env_overrides,
        greedy=greedy,
        seed=seed,
        checkpoint=checkpoint,
        device=device,
        trust_remote_code=trust_remote_code,
    )
    if on_start is not None:
        on_start(target)
    recorder = None
    if record is not None:
        recorder = EpisodeRecorder(record, top=top, metadata=_metadata(target, seed, greedy))
    result = WatchResult(agent=target.label, game=target.game_label)
    steps: list[StepRecord] = []
    seeds = [seed + i for i in range(episodes)]
    frames = recorder is not None
    try:
        for step in watch_episodes(target.env, target.decider, seeds, frames=frames):
            if on_step is not None:
                on_step(step)
            if recorder is not None:
                recorder.add(step)
            steps.append(step)
            if step.done:
                result.episodes.append(EpisodeSummary.of(steps))
                steps = []
    finally:  # an interrupted watch still gets the GIF of the episodes it finished
        if recorder is not None:
            result.written = recorder.finish()
    return result


def _metadata(target: WatchTarget, seed: int, greedy: bool) -> dict[str, Any]:
    actions = "greedy" if bool(getattr(target.loaded.agent, "greedy", greedy)) else "sampled"
    loaded = dict(target.loaded.metadata or {})
    kind = loaded.pop("agent", None)  # a run's agent kind (glam, symbolic-ppo, drrn)
    return {
        "agent": target.label,
        **({"agent_kind": kind} if kind is not None else {}),
        "game": target.game_label,
        "first_seed": seed,
        "actions": actions,
        **loaded,
    }
