"""``glam play``: a person plays a text game; the game logic, without any printing.

:class:`PlaySession` keeps one environment of any text game glam ships (a
BabyAI-Text level, tic-tac-toe, connect four, a TextWorld game: see
:mod:`glam_apps.games.catalog` for the names), follows it with the game's expert
when it has one (the BabyAI bot, TextWorld's walkthrough policy) so a hint is
available at every step, and turns typed commands into game moves. The CLI reads
lines from stdin and renders what the session returns, so a game can be scripted
(``printf '1\\n2\\nq\\n' | glam play GoToLocal``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from glam_apps.config.schema import GameSection
from glam_apps.errors import UserError
from glam_apps.games.catalog import require_game, resolve_game
from glam_apps.games.envs import make_game
from glam_env import BabyAITextConfig, ExpertAgent, ExpertFailure, make_env
from glam_env.errors import GlamEnvError

logger = logging.getLogger(__name__)

QUIT_WORDS = frozenset({"q", "quit", "exit"})
HINT_WORDS = frozenset({"hint", "?"})
HELP_WORDS = frozenset({"help", "h"})
RESTART_WORDS = frozenset({"r", "restart"})

#: What ``info`` says about a board game's turn that the player should see.
SHOWN_INFO = ("opponent_move", "outcome")

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
    """One game, played episode after episode (seeds ``seed``, ``seed + 1``, ...).

    ``level`` is a BabyAI-Text level or another game's name (``tictactoe``,
    ``coin_collector``, ``BoardGame-Text/ConnectFour-v0``, ...); ``variant`` and
    ``config`` are BabyAI-Text settings.
    """

    def __init__(
        self,
        level: str,
        *,
        seed: int = 0,
        variant: str | None = None,
        config: BabyAITextConfig | None = None,
    ) -> None:
        # A Gymnasium id ("Namespace/Name-vN") is never a level name: an unknown one is
        # an unknown game, with the close matches, not an unknown level.
        self.game: GameSection | None = require_game(level) if "/" in level else resolve_game(level)
        self.config: BabyAITextConfig | None = None
        if self.game is not None:
            if variant is not None:
                raise UserError(
                    f"--variant changes the words of BabyAI-Text levels; {self.game.gym_id} "
                    "has no variants"
                )
            self.env = make_game(self.game)
        else:
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

    @property
    def title(self) -> str:
        """What is played: the level and its variant, or the game's id."""
        if self.config is None:
            assert self.game is not None
            return self.game.gym_id
        return f"{self.config.level} (variant {self.config.variant.name})"

    # ------------------------------------------------------------------ game

    def new_episode(self) -> Turn:
        """Start the next episode (the first one uses ``seed``)."""
        self.episode += 1
        seed = self.first_seed + self.episode
        obs, info = self.env.reset(seed=seed)
        self._follow_with_expert(first=True)
        self.turn = Turn(
            episode=self.episode,
            seed=seed,
            step=0,
            goal=obs["mission"],
            observation=obs["observation"],
            actions=tuple(obs["admissible_actions"]),
            extra=_shown(info),
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
            extra=_shown(info),
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
        """Keep the game's expert in step with the game, so a hint is ready at every step.

        BabyAI's bot must see every step to replan; TextWorld's policy replans from
        the game's state by itself; the board games have no expert.
        """
        self._suggestion = None
        if self.game is not None:
            self._suggest_from_game(first)
            return
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

    def _suggest_from_game(self, first: bool) -> None:
        """A game's own expert (TextWorld's ``expert_action``), if it has one."""
        assert self.game is not None
        expert = getattr(self.env.unwrapped, "expert_action", None)
        if expert is None:
            self._expert_error = f"no expert plays {self.game.gym_id}"
            return
        if first:
            self._expert_error = None
        try:
            self._suggestion = int(expert())
        except (RuntimeError, GlamEnvError) as error:
            logger.debug("the game's expert gave up: %s", error)
            self._expert_error = _first_line(error)


def _shown(info: dict[str, Any]) -> dict[str, Any]:
    """The parts of ``info`` a player sees (a board game's opponent move and outcome)."""
    return {key: info[key] for key in SHOWN_INFO if info.get(key) is not None}


def _first_line(error: BaseException) -> str:
    return " ".join(str(error).split())
