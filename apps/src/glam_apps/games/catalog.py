"""Which text game a name on the command line means: a BabyAI-Text level or another game.

``glam play`` and ``glam watch`` take the names people already use elsewhere:
a BabyAI-Text level (``GoToLocal``), the name of a packaged config that plays
another game (``tictactoe``, ``coin_collector``: the game ``glam train --config
NAME`` trains on, its settings included), a game's short name (``connect_four``,
``treasure_hunter``) or a Gymnasium id (``BoardGame-Text/TicTacToe-v0``).
"""

from __future__ import annotations

import difflib
import functools

from glam_apps.config.packaged import load_train_config, packaged_config_names
from glam_apps.config.schema import GameSection, registered_text_games
from glam_apps.errors import UserError
from glam_env.board_games.registration import BOARD_GAME_ENV_IDS
from glam_env.textworld.registration import TEXTWORLD_ENV_IDS

__all__ = ["game_names", "require_game", "resolve_game"]


@functools.cache
def _packaged_games() -> dict[str, GameSection]:
    """``{config name: its game}`` for the packaged configs that play another game."""
    games = {}
    for name in packaged_config_names():
        game = load_train_config(name).game
        if game is not None:
            games[name] = game
    return games


def _short_names() -> dict[str, str]:
    return {**BOARD_GAME_ENV_IDS, **TEXTWORLD_ENV_IDS}


def game_names() -> list[str]:
    """Every name :func:`resolve_game` accepts for a game other than BabyAI-Text."""
    others = [g for g in registered_text_games() if not g.startswith("BabyAI-Text/")]
    return list(dict.fromkeys([*_packaged_games(), *_short_names(), *others]))


def resolve_game(name: str) -> GameSection | None:
    """The game ``name`` means, or ``None`` when it is no game name (then: a BabyAI level).

    A packaged config's name brings that config's game settings (a coin collector
    of level 5 for ``coin_collector``); a short name or an id, the game's defaults.
    """
    packaged = _packaged_games()
    if name in packaged:
        return packaged[name]
    gym_id = _short_names().get(name, name)
    if gym_id in registered_text_games() and not gym_id.startswith("BabyAI-Text/"):
        return GameSection(gym_id=gym_id)
    return None


def require_game(name: str) -> GameSection:
    """:func:`resolve_game`, with an error naming the close matches when nothing fits."""
    game = resolve_game(name)
    if game is not None:
        return game
    known = game_names()
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UserError(f"unknown game {name!r}; {hint}games: {', '.join(known)}")
