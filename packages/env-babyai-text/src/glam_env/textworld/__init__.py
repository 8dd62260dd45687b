"""TextWorld games (generated locally, cached on disk) behind the text-game protocol.

Importing this package needs no TextWorld; building an environment or a game
does (the ``textworld`` extra). See ``docs/other-games.md``.
"""

from glam_env.textworld.clean import clean_feedback
from glam_env.textworld.config import (
    TEXTWORLD_GAMES,
    CoinCollectorDifficulty,
    CookingDifficulty,
    SimpleDifficulty,
    TextWorldConfig,
    TreasureHunterDifficulty,
    default_cache_dir,
)
from glam_env.textworld.env import TextWorldEnv, TooManyActionsError
from glam_env.textworld.generate import (
    GameGenerationError,
    TextWorldNotInstalledError,
    build_game,
    ensure_games,
    generate_game,
)
from glam_env.textworld.registration import TEXTWORLD_ENV_IDS, register_textworld_envs

__all__ = [
    "TEXTWORLD_ENV_IDS",
    "TEXTWORLD_GAMES",
    "CoinCollectorDifficulty",
    "CookingDifficulty",
    "GameGenerationError",
    "SimpleDifficulty",
    "TextWorldConfig",
    "TextWorldEnv",
    "TextWorldNotInstalledError",
    "TooManyActionsError",
    "TreasureHunterDifficulty",
    "build_game",
    "clean_feedback",
    "default_cache_dir",
    "ensure_games",
    "generate_game",
    "register_textworld_envs",
]
