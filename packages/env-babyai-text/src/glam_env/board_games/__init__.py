"""Turn-based PettingZoo classic games (tic-tac-toe, connect four) as text games.

* :class:`BoardGameTextEnv`: one side against an opponent policy, a Gymnasium
  env behind the text-game protocol (``BoardGame-Text/TicTacToe-v0``, ...).
* :class:`BoardGameTextAEC`: both sides learning, a PettingZoo AEC env with text
  observations (``glam_env.multiagent`` adds the parallel form).

The environments need the ``pettingzoo`` extra and are imported on first use,
so the PettingZoo-free parts (configs, board text, :mod:`.shared`, which
TextWorld games use too) import without it. See ``docs/other-games.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from glam_env.board_games.config import BoardGameConfig
from glam_env.board_games.games import BOARD_GAMES, BoardGameSpec, get_board_game
from glam_env.board_games.registration import (
    BOARD_GAME_ENV_IDS,
    register_board_game_envs,
    register_other_games,
)

if TYPE_CHECKING:
    from glam_env.board_games.aec import BoardGameTextAEC
    from glam_env.board_games.env import (
        OUTCOME_REWARDS,
        BoardGameTextEnv,
        Opponent,
        random_opponent,
    )

_LAZY = {
    "BoardGameTextAEC": "glam_env.board_games.aec",
    "OUTCOME_REWARDS": "glam_env.board_games.env",
    "BoardGameTextEnv": "glam_env.board_games.env",
    "Opponent": "glam_env.board_games.env",
    "random_opponent": "glam_env.board_games.env",
}


def __getattr__(name: str) -> Any:
    """Import the PettingZoo-backed names on first access (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BOARD_GAMES",
    "BOARD_GAME_ENV_IDS",
    "OUTCOME_REWARDS",
    "BoardGameConfig",
    "BoardGameSpec",
    "BoardGameTextAEC",
    "BoardGameTextEnv",
    "Opponent",
    "get_board_game",
    "random_opponent",
    "register_board_game_envs",
    "register_other_games",
]
