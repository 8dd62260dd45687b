"""Generate TextWorld games locally, once, into an on-disk cache.

TextWorld's challenge generators build a game from a seed and difficulty
settings and compile it with the Inform 7 compiler shipped inside the
``textworld`` wheel, so nothing is downloaded. Compiling takes seconds, so each
game is generated once and kept under the cache directory, in a folder named
after its challenge, settings, seed and TextWorld version. A folder appears
only complete: the game is generated into a temporary folder next to it that
is then renamed into place (atomic on one file system), so concurrent
processes and interrupted runs never see half a game.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from glam_env.errors import GlamEnvError
from glam_env.textworld.config import TextWorldConfig

__all__ = [
    "GAME_FILE",
    "GameGenerationError",
    "TextWorldNotInstalledError",
    "build_game",
    "ensure_games",
    "game_dir_name",
    "generate_game",
    "import_textworld",
]

logger = logging.getLogger(__name__)

#: Name of the compiled game inside its cache folder (its metadata is ``game.json``).
GAME_FILE = "game.z8"
_SPEC_FILE = "spec.json"


class TextWorldNotInstalledError(GlamEnvError, ImportError):
    """TextWorld games were asked for but the ``textworld`` package is missing."""


class GameGenerationError(GlamEnvError, RuntimeError):
    """TextWorld could not generate or compile a game for these settings."""


def import_textworld() -> Any:
    """Import ``textworld`` (with its challenges), or explain how to install it."""
    try:
        import textworld
        import textworld.challenges  # registers the challenges
    except ImportError as error:
        raise TextWorldNotInstalledError(
            "TextWorld games need the 'textworld' package: "
            "pip install 'glam-env-babyai-text[textworld]'"
            f" ({error})"
        ) from error
    return textworld


def _spec(config: TextWorldConfig, seed: int, textworld_version: str) -> dict[str, Any]:
    return {
        "challenge": config.challenge,
        "settings": config.parsed_difficulty().settings(),
        "seed": seed,
        "textworld": textworld_version,
    }


def game_dir_name(config: TextWorldConfig, seed: int, textworld_version: str) -> str:
    """``<game>-<settings>-seed<seed>-<hash>``: readable, and unique per generator input."""
    spec = _spec(config, seed, textworld_version)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    return f"{config.game}-{config.parsed_difficulty().slug()}-seed{seed}-{digest}"


def generate_game(config: TextWorldConfig, seed: int) -> Path:
    """Path of the compiled game of ``config``'s challenge and difficulty for ``seed``.

    Generated on first use and reused afterwards. Raises
    :class:`GameGenerationError` naming the settings when TextWorld fails.
    """
    textworld = import_textworld()
    cache = config.resolved_cache_dir()
    target = cache / game_dir_name(config, seed, textworld.__version__)
    game_file = target / GAME_FILE
    if game_file.is_file():
        return game_file
    cache.mkdir(parents=True, exist_ok=True)
    spec = _spec(config, seed, textworld.__version__)
    logger.info("generating TextWorld game %s (seed %d) into %s", config.challenge, seed, target)
    workdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=cache))
    workdir.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        _compile_into(textworld, config, seed, workdir)
        (workdir / _SPEC_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(workdir, target)
        except OSError:
            if not game_file.is_file():  # not a concurrent winner: a real failure
                raise
            logger.debug("another process generated %s first", target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return game_file


def _options(textworld: Any, seed: int, folder: Path | None) -> Any:
    options = textworld.GameOptions()
    options.seeds = seed
    options.file_ext = ".z8"
    options.force_recompile = True
    if folder is not None:
        options.path = str(folder / GAME_FILE)
    return options


def build_game(config: TextWorldConfig, seed: int) -> Any:
    """The (uncompiled) ``textworld.Game`` of ``config``'s challenge for ``seed``.

    Deterministic: the same challenge, settings and seed give the same game.
    Raises :class:`GameGenerationError` naming the settings when TextWorld fails.
    """
    textworld = import_textworld()
    from textworld.challenges import CHALLENGES

    _, make, _ = CHALLENGES[config.challenge]
    options = _options(textworld, seed, None)
    settings = config.parsed_difficulty().settings()
    try:
        with warnings.catch_warnings():  # Jericho cannot track TextWorld's score; TextWorld does
            warnings.filterwarnings("ignore", message=".*is not fully supported.*")
            game = make(settings=settings, options=options)
    except Exception as error:  # TextWorld raises bare asserts, ValueErrors and its own errors
        raise GameGenerationError(
            f"TextWorld could not generate {config.challenge} with settings {settings} and "
            f"seed {seed}: {type(error).__name__}: {error}"
        ) from error
    return game


def _compile_into(textworld: Any, config: TextWorldConfig, seed: int, folder: Path) -> None:
    game = build_game(config, seed)
    options = _options(textworld, seed, folder)
    try:
        textworld.generator.compile_game(game, options)
    except Exception as error:
        raise GameGenerationError(
            f"TextWorld could not compile {config.challenge} (seed {seed}) into {folder}: "
            f"{type(error).__name__}: {error}"
        ) from error
    for leftover in folder.glob("*.ni"):  # Inform 7 source: only needed to debug TextWorld
        leftover.unlink()


def ensure_games(config: TextWorldConfig) -> list[Path]:
    """The compiled games of the pool: seeds ``seed .. seed + num_games - 1``."""
    return [generate_game(config, config.seed + offset) for offset in range(config.num_games)]
