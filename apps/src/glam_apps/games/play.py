"""``glam play``: a person plays a text level; the game logic, without any printing.

:class:`PlaySession` keeps one environment, follows it with the BabyAI bot (so a
hint is available at every step) and turns typed commands into game moves. The
CLI reads lines from stdin and renders what the session returns, so a game can
be scripted (``printf '1\\n2\\nq\\n' | glam play GoToLocal``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from glam_apps.errors import UserError
from glam_env import BabyAITextConfig, ExpertAgent, ExpertFailure, make_env

logger = logging.getLogger(__name__)

QUIT_WORDS = frozenset({"q", "quit", "exit"})
HINT_WORDS = frozenset({"hint", "?"})
HELP_WORDS = frozenset({"help", "h"})
RESTART_WORDS = frozenset({"r", "restart"})

CommandKind = Literal["act", "hint", "help", "quit", "restart", "invalid", "empty"]


@dataclass(frozen=True)
class Command:
    """A parsed line: what to do, and the action index for ``act``."""

    kind: CommandKind
    action: int | None = None
    message: str = ""


@dataclass
class Turn:
    """What the player sees: the goal, the observation, the actions, the last outcome."""

    episode: int
    seed: int
    step: int
    goal: str
    observation: str
    actions: tuple[str, ...]
    reward: float = 0.0
    total_return: float = 0.0
    last_action: str | None = None
    done: bool = False
    success: bool = False
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class PlaySession:
    """One level, played episode after episode (seeds ``seed``, ``seed + 1``, ...)."""

    def __init__(
        self,
        level: str,
        *,
        seed: int = 0,
        variant: str | None = None,
        config: BabyAITextConfig | None = None,
    ) -> None:
        try:
            base = config or BabyAITextConfig()
            data = base.model_dump()
            data.update(level=level, history_length=1, variant=variant or base.variant.name)
            self.config = BabyAITextConfig.model_validate(data)
        except ValueError as error:
            raise UserError(f"cannot play {level!r}: {_first_line(error)}") from error
        self.env = make_env(self.config)
        self.first_seed = seed
        self.episode = -1
        self.turn: Turn | None = None
        self.expert: ExpertAgent | None = None
        self._suggestion: int | None = None
        self._expert_error: str | None = None

    # ------------------------------------------------------------------ game

    def new_episode(self) -> Turn:
        """Start the next episode (the first one uses ``seed``)."""
        self.episode += 1
        seed = self.first_seed + self.episode
        obs, _ = self.env.reset(seed=seed)
        self._follow_with_expert(first=True)
        self.turn = Turn(
            episode=self.episode,
            seed=seed,
            step=0,
            goal=obs["mission"],
            observation=obs["observation"],
            actions=tuple(obs["admissible_actions"]),
        )
        return self.turn

    def play(self, action: int) -> Turn:
        """Take action ``action`` (0-based) and return the new turn."""
        turn = self._require_turn()
        if turn.done:
            raise UserError("the episode is over: start a new one")
        name = turn.actions[action]
        obs, reward, terminated, truncated, info = self.env.step(action)
        done = bool(terminated or truncated)
        self.turn = Turn(
            episode=turn.episode,
            seed=turn.seed,
            step=turn.step + 1,
            goal=obs["mission"],
            observation=obs["observation"],
            actions=tuple(obs["admissible_actions"]),
            reward=float(reward),
            total_return=turn.total_return + float(reward),
            last_action=name,
            done=done,
            success=bool(info.get("success", False)),
            truncated=bool(truncated),
        )
        if not done:
            self._follow_with_expert(first=False)
        return self.turn

    def hint(self) -> tuple[int, str]:
        """The bot's suggested action (index, name) for the current state."""
        turn = self._require_turn()
        if turn.done:
            raise UserError("the episode is over: no hint")
        if self._suggestion is None:
            reason = self._expert_error or "the bot has no suggestion"
            raise UserError(f"no hint available: {reason}")
        return self._suggestion, turn.actions[self._suggestion]

    def parse(self, line: str) -> Command:
        """Turn a typed line into a :class:`Command` (numbers are 1-based)."""
        text = line.strip()
        lowered = text.lower()
        if not text:
            return Command("empty")
        if lowered in QUIT_WORDS:
            return Command("quit")
        if lowered in HINT_WORDS:
            return Command("hint")
        if lowered in HELP_WORDS:
            return Command("help")
        if lowered in RESTART_WORDS:
            return Command("restart")
        turn = self._require_turn()
        if text.isdigit():
            number = int(text)
            if 1 <= number <= len(turn.actions):
                return Command("act", number - 1)
            return Command(
                "invalid", message=f"no action {number}: choose 1 to {len(turn.actions)}"
            )
        names = [name.lower() for name in turn.actions]
        if lowered in names:
            return Command("act", names.index(lowered))
        return Command(
            "invalid",
            message=f"unknown command {text!r}: type a number, an action, 'hint', 'help' or 'q'",
        )

    def close(self) -> None:
        self.env.close()

    # ------------------------------------------------------------------ internals

    def _require_turn(self) -> Turn:
        if self.turn is None:
            raise UserError("no episode yet: call new_episode() first")
        return self.turn

    def _follow_with_expert(self, first: bool) -> None:
        """Keep the bot in step with the game (it must see every step to replan)."""
        self._suggestion = None
        if first:
            self._expert_error = None
            try:
                self.expert = ExpertAgent(self.env)
            except (TypeError, ExpertFailure) as error:
                self.expert = None
                self._expert_error = _first_line(error)
                return
        if self.expert is None:
            return
        try:
            self._suggestion = self.expert.act()
        except ExpertFailure as error:
            logger.debug("bot gave up: %s", error)
            self.expert = None
            self._expert_error = _first_line(error)


def _first_line(error: BaseException) -> str:
    return " ".join(str(error).split())
