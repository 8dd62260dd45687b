"""Configuration of a board game played as a single-agent text game."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glam_env.board_games.games import BOARD_GAMES
from glam_env.board_games.shared import (
    load_mapping,
    resolve_game_config,
    unknown_choice_message,
)

__all__ = ["BoardGameConfig", "resolve_board_game_config"]


class BoardGameConfig(BaseModel):
    """Which game, which side the agent plays, and against which built-in opponent.

    A policy given as a Python callable (``BoardGameTextEnv(opponent=...)``)
    replaces the built-in opponent; a config only names built-in ones so that it
    stays a plain YAML/JSON document.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    game: str = Field(default="tictactoe", description="one of glam_env.board_games.BOARD_GAMES")
    agent_plays: Literal["first", "second", "random"] = Field(
        default="first",
        description="the agent's side; 'random' draws it at each reset from the env's seed",
    )
    opponent: Literal["random"] = Field(
        default="random", description="built-in opponent: 'random' plays a uniform legal move"
    )
    max_actions: int | None = Field(
        default=None,
        ge=1,
        description="size of the action space; default: the game's number of moves (9 or 7)",
    )

    @field_validator("game")
    @classmethod
    def _known_game(cls, game: str) -> str:
        if game not in BOARD_GAMES:
            raise ValueError(unknown_choice_message("board game", game, BOARD_GAMES))
        return game

    @model_validator(mode="after")
    def _enough_actions(self) -> BoardGameConfig:
        needed = BOARD_GAMES[self.game].num_moves
        if self.max_actions is not None and self.max_actions < needed:
            raise ValueError(
                f"max_actions={self.max_actions} is too small for {self.game}, which has up to "
                f"{needed} legal moves: use max_actions >= {needed} (or leave it unset)"
            )
        return self

    @property
    def num_actions(self) -> int:
        """The action space size: ``max_actions`` or the game's number of moves."""
        return self.max_actions or BOARD_GAMES[self.game].num_moves

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BoardGameConfig:
        """Validate a mapping (e.g. parsed YAML)."""
        return cls.model_validate(dict(data))

    @classmethod
    def from_file(cls, path: str | Path) -> BoardGameConfig:
        """Load a YAML or JSON file."""
        return cls.from_dict(load_mapping(path))


def resolve_board_game_config(
    config: BoardGameConfig | Mapping[str, Any] | None, game: str | None = None
) -> BoardGameConfig:
    """Merge a config with the game an environment id fixes (``gymnasium.make`` kwargs)."""
    return resolve_game_config(BoardGameConfig, config, game)
