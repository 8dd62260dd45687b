"""One side of a board game as a single-agent Gymnasium text game.

The agent plays one side of :class:`~glam_env.board_games.aec.BoardGameTextAEC`;
the other side is played by an opponent policy inside ``step``, so one
``step`` is the agent's move followed by the opponent's reply. Reward: +1 when
the agent wins, -1 when it loses, 0 for a draw and on every move before the end
(``terminated`` at the end of the game; board games need no step limit).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from glam_env.board_games.aec import BoardGameTextAEC
from glam_env.board_games.config import BoardGameConfig, resolve_board_game_config
from glam_env.board_games.shared import (
    ACTION_MASK,
    AdmissibleDiscrete,
    action_mask,
    check_action_index,
    text_observation_space,
)
from glam_env.errors import EpisodeEndedError, InvalidActionError, ResetNeededError
from glam_env.protocol import ADMISSIBLE_ACTIONS, MISSION, OBSERVATION, SUCCESS

__all__ = ["GAME_OVER_ACTION", "OUTCOME_REWARDS", "BoardGameTextEnv", "Opponent", "random_opponent"]

#: An opponent policy: gets the opponent's text observation (the protocol dict,
#: with its ``admissible_actions``) and the environment's random generator, and
#: returns the index of one of those admissible actions. An LLM agent fits too.
Opponent = Callable[[dict[str, Any], np.random.Generator], int]

#: The one admissible action of a finished game's last observation. Nothing is legal
#: once the game is over, but Gymnasium's default (NEXT_STEP) autoreset hands that
#: observation to the policy, which needs an action to score; stepping it raises
#: ``EpisodeEndedError`` like any step after the end (vector envs reset instead).
GAME_OVER_ACTION = "start a new game"

#: Reward of the agent's last step for each outcome.
OUTCOME_REWARDS: dict[str, float] = {"win": 1.0, "draw": 0.0, "loss": -1.0}


def random_opponent(observation: dict[str, Any], rng: np.random.Generator) -> int:
    """Play a uniformly random admissible move, drawn from ``rng`` (the env's seed)."""
    return int(rng.integers(len(observation[ADMISSIBLE_ACTIONS])))


_BUILT_IN_OPPONENTS: dict[str, Opponent] = {"random": random_opponent}


class _Phase(enum.Enum):
    NEEDS_RESET = "needs reset"
    RUNNING = "running"
    ENDED = "ended"


class BoardGameTextEnv(gym.Env[dict[str, Any], int]):
    """A board game against an opponent policy, behind the text-game protocol.

    ``BoardGameTextEnv({"game": "connect_four", "agent_plays": "random"})`` or
    ``gymnasium.make("BoardGame-Text/ConnectFour-v0", config={...})``. Pass
    ``opponent=callable`` (see :data:`Opponent`) to replace the built-in random
    opponent. ``info`` holds ``admissible_actions``, ``action_mask``,
    ``opponent_move`` (the text of the opponent's last move or ``None``) and, on
    the last step, ``success`` and ``outcome`` (``"win"``, ``"draw"``, ``"loss"``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        config: BoardGameConfig | Mapping[str, Any] | None = None,
        *,
        opponent: Opponent | None = None,
        render_mode: str | None = None,
        game: str | None = None,
    ) -> None:
        self.config = resolve_board_game_config(config, game)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        if opponent is not None and not callable(opponent):
            raise TypeError(f"opponent must be callable, got {type(opponent).__name__}")
        self.render_mode = render_mode
        self._opponent: Opponent = opponent or _BUILT_IN_OPPONENTS[self.config.opponent]
        self._game = BoardGameTextAEC(self.config.game)
        self._max_actions = self.config.num_actions
        self.observation_space = text_observation_space(self._max_actions)
        self.action_space = AdmissibleDiscrete(self._max_actions)
        self._agent = self._game.possible_agents[0]
        self._opponent_move: str | None = None
        self._phase = _Phase.NEEDS_RESET

    # ---- Gymnasium API --------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        agents = self._game.possible_agents
        side = {"first": 0, "second": 1}.get(self.config.agent_plays)
        if side is None:
            side = int(self.np_random.integers(2))
        self._agent = agents[side]
        self._game.reset(seed=seed)
        self._opponent_move = None
        if self._game.agent_selection != self._agent:
            self._play_opponent()
        self._phase = _Phase.RUNNING
        return self._observation(), self._info()

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._phase is _Phase.NEEDS_RESET:
            raise ResetNeededError("call reset() before step()")
        if self._phase is _Phase.ENDED:
            raise EpisodeEndedError("the game is over: call reset() before step()")
        index = check_action_index(action, self.admissible_actions)
        self._game.step(index)
        self._opponent_move = None
        if not self._over():
            self._play_opponent()
        outcome = self._game.outcome(self._agent)
        info = self._info()
        reward = 0.0
        terminated = outcome is not None
        if terminated:
            self._phase = _Phase.ENDED
            reward = OUTCOME_REWARDS[outcome]
            info[SUCCESS] = outcome == "win"
            info["outcome"] = outcome
        return self._observation(), reward, terminated, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._phase is _Phase.NEEDS_RESET:
            return None
        return str(self._game.observe(self._agent)[OBSERVATION])

    def close(self) -> None:
        self._game.close()

    # ---- protocol extras ----------------------------------------------------------------

    @property
    def admissible_actions(self) -> tuple[str, ...]:
        """The agent's legal moves now, as text (:data:`GAME_OVER_ACTION` once it is over)."""
        if self._over():
            return (GAME_OVER_ACTION,)
        return self._game.admissible_actions(self._agent)

    @property
    def agent_symbol(self) -> str:
        """``"X"`` when the agent plays first this episode, ``"O"`` when second."""
        return self._game.symbol(self._agent)

    @property
    def game(self) -> BoardGameTextAEC:
        """The two-player text game underneath (read it, do not step it)."""
        return self._game

    @property
    def agent_id(self) -> str:
        """The PettingZoo agent the learner plays this episode."""
        return self._agent

    # ---- internals ----------------------------------------------------------------------

    def _over(self) -> bool:
        return self._game.outcome(self._agent) is not None

    def _play_opponent(self) -> None:
        opponent = self._game.agent_selection
        observation = self._game.observe(opponent)
        admissible = observation[ADMISSIBLE_ACTIONS]
        choice = self._opponent(
            {
                MISSION: observation[MISSION],
                OBSERVATION: str(observation[OBSERVATION]),
                ADMISSIBLE_ACTIONS: admissible,
            },
            self.np_random,
        )
        try:
            index = check_action_index(choice, admissible)
        except InvalidActionError as error:
            raise InvalidActionError(f"the opponent policy returned a bad move: {error}") from None
        self._opponent_move = admissible[index]
        self._game.step(index)

    def _observation(self) -> dict[str, Any]:
        observation = self._game.observe(self._agent)
        return {
            MISSION: observation[MISSION],
            OBSERVATION: str(observation[OBSERVATION]),
            ADMISSIBLE_ACTIONS: self.admissible_actions,
        }

    def _info(self) -> dict[str, Any]:
        admissible = self.admissible_actions
        self.action_space.set_num_admissible(len(admissible))
        return {
            ADMISSIBLE_ACTIONS: list(admissible),
            ACTION_MASK: action_mask(len(admissible), self._max_actions),
            "opponent_move": self._opponent_move,
        }
