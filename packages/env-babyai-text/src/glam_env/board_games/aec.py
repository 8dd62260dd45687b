"""A PettingZoo classic board game with text observations for both players (AEC).

The PettingZoo game does all the playing; this layer only translates: each
player's observation becomes the protocol's text dict (mission, observation,
admissible actions) plus PettingZoo's ``action_mask`` over those admissible
actions, and an action is an index into that player's admissible list, mapped
back onto the game's action id. Rewards, terminations, agent order and dead
steps are the PettingZoo game's own, copied after every step, so the text game
is the same game. The single-agent :class:`~glam_env.board_games.env.BoardGameTextEnv`
plays one side of this environment.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pettingzoo import AECEnv

from glam_env.board_games.games import SYMBOLS, BoardGameSpec, get_board_game
from glam_env.board_games.shared import (
    ACTION_MASK,
    AdmissibleDiscrete,
    PettingZooText,
    action_mask,
    check_action_index,
    sanitize_text,
    text_observation_space,
)
from glam_env.protocol import ADMISSIBLE_ACTIONS, MISSION, OBSERVATION

__all__ = ["BoardGameTextAEC", "Outcome"]

Outcome = str  # "win", "loss" or "draw"


class BoardGameTextAEC(AECEnv):
    """Two learning players of a board game, each seeing the game as text.

    ``observe(agent)`` returns ``{"mission", "observation", "admissible_actions",
    "action_mask"}``; the mask has ``num_moves`` entries, ones on the first
    ``len(admissible_actions)`` (nothing is admissible for the player who waits
    or once the game is over). ``outcome(agent)`` gives ``"win"``, ``"loss"`` or
    ``"draw"`` once the game has ended. Rewards are PettingZoo's: +1 win, -1
    loss, 0 draw, given on the last move.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "glam_board_game_text_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": True,
    }

    def __init__(self, game: str = "tictactoe", render_mode: str | None = None) -> None:
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.game_spec: BoardGameSpec = get_board_game(game)
        self._game = self.game_spec.make_pettingzoo()
        self.possible_agents = list(self._game.possible_agents)
        self._symbols = dict(zip(self.possible_agents, SYMBOLS, strict=True))
        self._observation_spaces = {
            agent: text_observation_space(self.game_spec.num_moves, with_action_mask=True)
            for agent in self.possible_agents
        }
        self._action_spaces = {
            agent: AdmissibleDiscrete(self.game_spec.num_moves) for agent in self.possible_agents
        }
        self._moves: dict[str, tuple[int, ...]] = {}
        self._last_move: tuple[str, int] | None = None
        self._outcomes: dict[str, Outcome] = {}
        self.agents = []

    # ---- spaces -------------------------------------------------------------------------

    def observation_space(self, agent: str) -> Any:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> AdmissibleDiscrete:
        return self._action_spaces[agent]

    # ---- game -----------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._game.reset(seed=seed, options=options)
        self._last_move = None
        self._outcomes = {}
        self._sync()

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            # PettingZoo's dead step: the game removes the finished agent (action must be None).
            self._game.step(action)
            self._sync()
            return
        index = check_action_index(action, self.admissible_actions(agent))
        game_action = self._moves[agent][index]
        self._game.step(game_action)
        self._last_move = (agent, game_action)
        self._sync()

    def observe(self, agent: str) -> dict[str, Any]:
        planes = self._game.observe(agent)["observation"]
        symbol = self._symbols[agent]
        parts = []
        if self._last_move is not None and self._last_move[0] != agent:
            mover, move = self._last_move
            parts.append(
                f"Your opponent {self.game_spec.move_done_text(move, self._symbols[mover])}."
            )
        parts.append(self.game_spec.board_text(planes, symbol))
        parts.append(self._status(agent))
        admissible = self.admissible_actions(agent)
        return {
            MISSION: self.game_spec.mission(symbol),
            OBSERVATION: PettingZooText(sanitize_text("\n".join(parts))),
            ADMISSIBLE_ACTIONS: admissible,
            ACTION_MASK: action_mask(len(admissible), self.game_spec.num_moves),
        }

    def admissible_actions(self, agent: str) -> tuple[str, ...]:
        """The move strings ``agent`` may play now (empty when it must wait)."""
        symbol = self._symbols[agent]
        return tuple(self.game_spec.move_text(move, symbol) for move in self._moves.get(agent, ()))

    def game_actions(self, agent: str) -> tuple[int, ...]:
        """PettingZoo action ids of ``agent``'s admissible actions, in the same order."""
        return self._moves.get(agent, ())

    def symbol(self, agent: str) -> str:
        """``"X"`` for the first player, ``"O"`` for the second."""
        return self._symbols[agent]

    def outcome(self, agent: str) -> Outcome | None:
        """``"win"``, ``"loss"`` or ``"draw"`` once the game is over, else ``None``."""
        return self._outcomes.get(agent)

    @property
    def pettingzoo_env(self) -> Any:
        """The wrapped PettingZoo game (read it, do not step it)."""
        return self._game

    def render(self) -> str | None:
        if self.render_mode != "ansi" or not self.agents:
            return None
        first = self.possible_agents[0]
        return self.game_spec.board_text(
            self._game.observe(first)["observation"], self._symbols[first]
        )

    def close(self) -> None:
        self._game.close()

    # ---- internals ----------------------------------------------------------------------

    def _status(self, agent: str) -> str:
        outcome = self._outcomes.get(agent)
        if outcome == "win":
            return "The game is over: you won."
        if outcome == "loss":
            return "The game is over: you lost."
        if outcome == "draw":
            return "The game is over: it is a draw."
        return "It is your turn." if self._moves.get(agent) else "Wait for your opponent's move."

    def _sync(self) -> None:
        game = self._game
        self.agents = list(game.agents)
        self.agent_selection = game.agent_selection
        self.rewards = dict(game.rewards)
        self._cumulative_rewards = dict(game._cumulative_rewards)
        self.terminations = dict(game.terminations)
        self.truncations = dict(game.truncations)
        over = any(self.terminations.values()) or any(self.truncations.values())
        if over and not self._outcomes:
            self._outcomes = {
                agent: "win" if reward > 0 else "loss" if reward < 0 else "draw"
                for agent, reward in game.rewards.items()
            }
        self._moves = {}
        for agent in self.agents:
            playing = not (self.terminations[agent] or self.truncations[agent])
            if playing and agent == self.agent_selection:
                mask = game.observe(agent)["action_mask"]
                legal = [int(move) for move in np.flatnonzero(mask)]
                self._moves[agent] = tuple(sorted(legal, key=self.game_spec.move_order))
        for agent, space in self._action_spaces.items():
            space.set_num_admissible(len(self._moves.get(agent, ())))
        self.infos = {
            agent: {**game.infos[agent], ADMISSIBLE_ACTIONS: list(self.admissible_actions(agent))}
            for agent in self.agents
        }
