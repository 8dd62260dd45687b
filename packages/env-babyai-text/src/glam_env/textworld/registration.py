"""Gymnasium ids of the TextWorld games (``TextWorld/CoinCollector-v0``, ...).

Only ``module:Class`` entry points are recorded: registering imports neither
TextWorld nor generates anything; ``gymnasium.make`` does, with its ``config``.
The env enforces its own step limit (``config.max_episode_steps``), so the ids
carry no Gymnasium ``TimeLimit``.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["TEXTWORLD_ENV_IDS", "register_textworld_envs"]

#: Gymnasium id of each TextWorld game.
TEXTWORLD_ENV_IDS: dict[str, str] = {
    "coin_collector": "TextWorld/CoinCollector-v0",
    "treasure_hunter": "TextWorld/TreasureHunter-v0",
    "simple": "TextWorld/Simple-v0",
    "cooking": "TextWorld/Cooking-v0",
}


def register_textworld_envs() -> None:
    """Register ``TextWorld/<Game>-v0`` (kwargs: ``config``, ``render_mode``); idempotent."""
    for game, env_id in TEXTWORLD_ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="glam_env.textworld.env:TextWorldEnv",
                kwargs={"game": game},
            )
