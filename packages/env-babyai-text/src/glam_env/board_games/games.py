"""How each board game reads as text: board, moves, mission.

Everything here works from PettingZoo's public observation (two planes: the
observing player's pieces, then the opponent's) and its action ids, never from
a game's private state, so a game's text only depends on what its player may
see. Symbols are absolute: the first player is always ``X``, the second ``O``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from glam_env.board_games.shared import unknown_choice_message

__all__ = [
    "BOARD_GAMES",
    "SYMBOLS",
    "BoardGameSpec",
    "get_board_game",
]

#: Symbol of the first and of the second player.
SYMBOLS: tuple[str, str] = ("X", "O")

EMPTY = "."


@dataclass(frozen=True)
class BoardGameSpec:
    """One turn-based PettingZoo classic game and its text.

    ``grid(observation)`` turns a player's observation planes into a ``rows x
    columns`` array of ``1`` (own piece), ``-1`` (opponent's piece), ``0``
    (empty) in reading order (top row first, left column first).
    """

    name: str
    title: str
    module: str
    num_moves: int
    grid: Callable[[np.ndarray], np.ndarray]
    move_text: Callable[[int, str], str]
    move_done_text: Callable[[int, str], str]
    move_order: Callable[[int], tuple[int, ...]]
    goal: Callable[[str], str]

    def make_pettingzoo(self) -> Any:
        """A fresh PettingZoo AEC environment of this game (no rendering)."""
        module = importlib.import_module(self.module)
        return module.env(render_mode=None)

    def mission(self, symbol: str) -> str:
        """The goal of the player who plays ``symbol``."""
        return self.goal(symbol)

    def board_text(self, observation: np.ndarray, symbol: str) -> str:
        """The board as lines of symbols, top row first, from the planes of ``symbol``'s player."""
        other = SYMBOLS[1] if symbol == SYMBOLS[0] else SYMBOLS[0]
        cells = self.grid(observation)
        glyph = {1: symbol, -1: other, 0: EMPTY}
        lines = [
            f"row {row + 1}: " + " ".join(glyph[int(value)] for value in cells[row])
            for row in range(cells.shape[0])
        ]
        header = (
            f"The board, top row first, columns 1 to {cells.shape[1]} from left to right "
            f'("{EMPTY}" is empty):'
        )
        return "\n".join([header, *lines])


def _planes_to_grid(planes: np.ndarray) -> np.ndarray:
    return planes[..., 0].astype(np.int8) - planes[..., 1].astype(np.int8)


# ---- tic-tac-toe: PettingZoo numbers squares column-major (0 1 2 down column 1),
# and its observation is indexed [column, row].


def _tictactoe_grid(observation: np.ndarray) -> np.ndarray:
    return _planes_to_grid(observation).T


def _tictactoe_cell(action: int) -> tuple[int, int]:
    return action % 3 + 1, action // 3 + 1


def _tictactoe_move(action: int, symbol: str) -> str:
    row, column = _tictactoe_cell(action)
    return f"put an {symbol} in row {row}, column {column}"


# ---- connect four: the observation is [row, column] with row 0 at the top;
# an action is a column.


def _connect_four_grid(observation: np.ndarray) -> np.ndarray:
    return _planes_to_grid(observation)


def _connect_four_move(action: int, symbol: str) -> str:
    return f"drop a piece in column {action + 1}"


def _connect_four_done(action: int, symbol: str) -> str:
    return f"dropped an {symbol} in column {action + 1}"


BOARD_GAMES: dict[str, BoardGameSpec] = {
    "tictactoe": BoardGameSpec(
        name="tictactoe",
        title="tic-tac-toe",
        module="pettingzoo.classic.tictactoe.tictactoe",
        num_moves=9,
        grid=_tictactoe_grid,
        move_text=_tictactoe_move,
        move_done_text=_tictactoe_move,
        move_order=lambda action: _tictactoe_cell(action),
        goal=lambda symbol: (
            f"win at tic-tac-toe: you play {symbol}, put three {symbol} in a row, "
            "a column or a diagonal"
        ),
    ),
    "connect_four": BoardGameSpec(
        name="connect_four",
        title="connect four",
        module="pettingzoo.classic.connect_four.connect_four",
        num_moves=7,
        grid=_connect_four_grid,
        move_text=_connect_four_move,
        move_done_text=_connect_four_done,
        move_order=lambda action: (action,),
        goal=lambda symbol: (
            f"win at connect four: you play {symbol}, line up four {symbol} in a row, "
            "a column or a diagonal"
        ),
    ),
}


def get_board_game(name: str) -> BoardGameSpec:
    """The spec of a board game; an unknown name raises ``ValueError`` listing the games."""
    try:
        return BOARD_GAMES[name]
    except KeyError:
        raise ValueError(unknown_choice_message("board game", name, BOARD_GAMES)) from None
