"""Gymnasium ids of the board games, and one call registering every other game.

Registration only records ``module:Class`` entry points, so it imports neither
PettingZoo nor TextWorld: ``gymnasium.make`` imports them when an env is built.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["BOARD_GAME_ENV_IDS", "register_board_game_envs", "register_other_games"]

#: Gymnasium id of each board game.
BOARD_GAME_ENV_IDS: dict[str, str] = {
    "tictactoe": "BoardGame-Text/TicTacToe-v0",
    "connect_four": "BoardGame-Text/ConnectFour-v0",
}


def register_board_game_envs() -> None:
    """Register ``BoardGame-Text/<Game>-v0`` (kwargs: ``config``, ``opponent``); idempotent."""
    for game, env_id in BOARD_GAME_ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="glam_env.board_games.env:BoardGameTextEnv",
                kwargs={"game": game},
                disable_env_checker=False,
            )


def register_other_games() -> None:
    """Register the TextWorld and board-game ids (the non-BabyAI games); idempotent."""
    from glam_env.textworld.registration import register_textworld_envs

    register_textworld_envs()
    register_board_game_envs()
