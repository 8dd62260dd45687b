"""Our text games as PettingZoo environments, for multi-agent libraries.

* :class:`TextGamesParallelEnv`: N agents, each in its own copy of any text
  game (BabyAI-Text level, TextWorld game, board game against an opponent);
  :func:`text_games_aec_env` is its AEC form (PettingZoo's converter).
* :func:`board_game_aec_env` / :func:`board_game_parallel_env`: a board game
  with two learning players, AEC natively, parallel through PettingZoo's
  turn-based converter (the waiting player's action is ignored).

Needs the ``pettingzoo`` extra. See ``docs/other-games.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec, turn_based_aec_to_parallel

from glam_env.board_games.aec import BoardGameTextAEC
from glam_env.multiagent.parallel import TextGamesParallelEnv

__all__ = [
    "BoardGameTextAEC",
    "TextGamesParallelEnv",
    "board_game_aec_env",
    "board_game_parallel_env",
    "text_games_aec_env",
]


def board_game_aec_env(game: str = "tictactoe", render_mode: str | None = None) -> AECEnv:
    """Two learning players of a board game, turn by turn (PettingZoo AEC)."""
    return BoardGameTextAEC(game, render_mode=render_mode)


def board_game_parallel_env(game: str = "tictactoe", render_mode: str | None = None) -> ParallelEnv:
    """Two learning players of a board game as a ``ParallelEnv`` (only the mover's action counts).

    ``infos[agent]["active_agent"]`` names the player whose move is next.
    """
    return turn_based_aec_to_parallel(BoardGameTextAEC(game, render_mode=render_mode))


def text_games_aec_env(
    env: str | Callable[[], gym.Env],
    num_agents: int = 2,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    render_mode: str | None = None,
) -> AECEnv:
    """:class:`TextGamesParallelEnv` seen turn by turn (PettingZoo's ``parallel_to_aec``)."""
    return parallel_to_aec(
        TextGamesParallelEnv(env, num_agents, env_kwargs=env_kwargs, render_mode=render_mode)
    )
