"""Configuration of TextWorld games: which challenge, how hard, which seeds, where cached.

Each of TextWorld's four built-in challenges has its own difficulty knobs, so
``difficulty`` is validated by the model of the chosen ``game``: a coin
collector takes ``level`` 1-300, a treasure hunter ``level`` 1-30, the simple
game a reward density and a goal verbosity, the cooking game its skills.
Impossible values fail here, naming the value and what is allowed, instead of
deep inside TextWorld's generator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glam_env.board_games.shared import (
    load_mapping,
    resolve_game_config,
    unknown_choice_message,
)

__all__ = [
    "TEXTWORLD_GAMES",
    "CoinCollectorDifficulty",
    "CookingDifficulty",
    "SimpleDifficulty",
    "TextWorldConfig",
    "TreasureHunterDifficulty",
    "default_cache_dir",
    "resolve_textworld_config",
]


class _Difficulty(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def settings(self) -> dict[str, Any]:
        """The ``settings`` mapping TextWorld's challenge ``make`` function expects."""
        return self.model_dump()

    def slug(self) -> str:
        """A short readable name of these settings, for cache directory names."""
        return "-".join(f"{key}{value}" for key, value in self.model_dump().items())


class CoinCollectorDifficulty(_Difficulty):
    """TextWorld's levels: quest length ``(level - 1) % 100 + 1``, distractor rooms above 100."""

    level: int = Field(default=1, ge=1, le=300, description="1..300")


class TreasureHunterDifficulty(_Difficulty):
    """Levels 1-10 easy (5 rooms), 11-20 medium (doors, containers), 21-30 hard (locks)."""

    level: int = Field(default=1, ge=1, le=30, description="1..30")


class SimpleDifficulty(_Difficulty):
    """The fixed six-room house: reward density and how much the goal text says."""

    rewards: Literal["dense", "balanced", "sparse"] = "dense"
    goal: Literal["detailed", "brief", "none"] = "detailed"
    test: bool = Field(default=False, description="draw from the test distribution of games")


class CookingDifficulty(_Difficulty):
    """The First TextWorld Problems cooking games and their skills."""

    recipe: int = Field(default=1, ge=1, le=5, description="ingredients in the recipe, 1..5")
    take: int = Field(default=1, ge=0, le=5, description="ingredients to find, 0..recipe")
    go: Literal[1, 6, 9, 12] = Field(default=1, description="number of rooms")
    open: bool = False
    cook: bool = False
    cut: bool = False
    drop: bool = False
    recipe_seed: int = Field(default=0, ge=0, description="0: recipe from the game seed")
    split: Literal["train", "valid", "test"] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> CookingDifficulty:
        if self.take > self.recipe:
            raise ValueError(
                f"take={self.take} is impossible with recipe={self.recipe}: "
                f"take must be between 0 and recipe ({self.recipe})"
            )
        if self.recipe_seed > 0 and self.take == 0:
            raise ValueError(
                f"recipe_seed={self.recipe_seed} needs take >= 1 (a shuffled recipe asks "
                "to find ingredients): set take >= 1 or recipe_seed=0"
            )
        return self

    def slug(self) -> str:
        skills = [name for name in ("open", "cook", "cut", "drop") if getattr(self, name)]
        parts = [f"recipe{self.recipe}", f"take{self.take}", f"go{self.go}", *skills]
        if self.recipe_seed:
            parts.append(f"rs{self.recipe_seed}")
        if self.split:
            parts.append(self.split)
        return "-".join(parts)


#: Game name -> (TextWorld challenge name, difficulty model).
TEXTWORLD_GAMES: dict[str, tuple[str, type[_Difficulty]]] = {
    "coin_collector": ("tw-coin_collector", CoinCollectorDifficulty),
    "treasure_hunter": ("tw-treasure_hunter", TreasureHunterDifficulty),
    "simple": ("tw-simple", SimpleDifficulty),
    "cooking": ("tw-cooking", CookingDifficulty),
}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/glam/textworld`` (``~/.cache/glam/textworld`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "glam" / "textworld"


class TextWorldConfig(BaseModel):
    """Which TextWorld games to generate and how the agent plays them.

    ``num_games`` games are generated from seeds ``seed, seed + 1, ...``; each
    ``reset`` picks one of them with the environment's random generator, so a
    pool of games trains and a single game (the default) reproduces exactly.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    game: str = Field(default="coin_collector", description="one of TEXTWORLD_GAMES")
    difficulty: dict[str, Any] = Field(
        default_factory=dict, description="the game's difficulty settings (see its model)"
    )
    seed: int = Field(default=0, ge=0, le=65_534, description="generation seed of the first game")
    num_games: int = Field(default=1, ge=1, le=10_000, description="games in the pool")
    max_episode_steps: int = Field(default=50, ge=1, description="steps before truncation")
    max_actions: int = Field(
        default=256, ge=1, description="action space size; more admissible commands is an error"
    )
    cache_dir: Path | None = Field(
        default=None, description="where generated games are kept; default: default_cache_dir()"
    )

    @field_validator("game")
    @classmethod
    def _known_game(cls, game: str) -> str:
        if game not in TEXTWORLD_GAMES:
            raise ValueError(unknown_choice_message("TextWorld game", game, TEXTWORLD_GAMES))
        return game

    @model_validator(mode="after")
    def _valid_difficulty(self) -> TextWorldConfig:
        _, model = TEXTWORLD_GAMES[self.game]
        try:
            parsed = model.model_validate(self.difficulty)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'difficulty'}: {item['msg']}"
                for item in error.errors()
            )
            allowed = ", ".join(model.model_fields)
            raise ValueError(
                f"impossible difficulty for {self.game}: {problems} "
                f"(settings of {self.game}: {allowed})"
            ) from None
        object.__setattr__(self, "difficulty", parsed.model_dump())
        if self.seed + self.num_games - 1 > 65_534:
            raise ValueError(
                f"seed={self.seed} with num_games={self.num_games} goes past TextWorld's largest "
                "seed 65534: lower seed or num_games"
            )
        return self

    @property
    def challenge(self) -> str:
        """TextWorld's name of the challenge (``tw-coin_collector``, ...)."""
        return TEXTWORLD_GAMES[self.game][0]

    def parsed_difficulty(self) -> _Difficulty:
        """The difficulty as its game's model (defaults filled in)."""
        return TEXTWORLD_GAMES[self.game][1].model_validate(self.difficulty)

    def resolved_cache_dir(self) -> Path:
        """``cache_dir`` or the default cache directory."""
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextWorldConfig:
        """Validate a mapping (e.g. parsed YAML)."""
        return cls.model_validate(dict(data))

    @classmethod
    def from_file(cls, path: str | Path) -> TextWorldConfig:
        """Load a YAML or JSON file."""
        return cls.from_dict(load_mapping(path))


def resolve_textworld_config(
    config: TextWorldConfig | Mapping[str, Any] | None, game: str | None = None
) -> TextWorldConfig:
    """Merge a config with the game an environment id fixes (``gymnasium.make`` kwargs)."""
    return resolve_game_config(TextWorldConfig, config, game)
