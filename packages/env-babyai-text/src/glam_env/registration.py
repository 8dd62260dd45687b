"""Gymnasium ids ``BabyAI-Text/<Level>-v<N>`` for every BabyAI-Text level.

``register_envs()`` runs on ``import glam_env``: it registers the paper's levels
and, read from Gymnasium's registry at that moment, every ``BabyAI-<Level>-v<N>``
MiniGrid registers (keeping its version number). ``gymnasium.make(id, **kwargs)``
equals ``glam_env.make_env(config)`` for that level: ``kwargs`` are config fields
(``language="fr"``, ``history_length=1``...) or ``config=`` a whole config.

Gymnasium 1.x no longer loads the ``gymnasium.envs`` entry points that packages
declare (pyproject.toml keeps ours for older Gymnasium and tools that read it),
so import ``glam_env`` first, or let Gymnasium import it:
``gymnasium.make("glam_env:BabyAI-Text/GoToLocal-v0")``.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from glam_env.board_games.registration import register_other_games
from glam_env.levels import PAPER_LEVELS, minigrid_level_ids

__all__ = ["NAMESPACE", "env_id", "list_levels", "make_registered", "register_envs"]

#: Gymnasium namespace of the text levels.
NAMESPACE = "BabyAI-Text"


def env_id(level: str, version: int | None = None) -> str:
    """The Gymnasium id of a text level: ``BabyAI-Text/<level>-v<version>``.

    ``version=None`` takes the registered one (MiniGrid's version of the level, 0 for
    the paper's levels), e.g. ``env_id("GoToObjS6") == "BabyAI-Text/GoToObjS6-v1"``.
    """
    if version is None:
        minigrid_id = minigrid_level_ids().get(level) if level not in PAPER_LEVELS else None
        version = int(minigrid_id.rsplit("-v", 1)[1]) if minigrid_id else 0
    return f"{NAMESPACE}/{level}-v{version}"


def _text_ids() -> dict[str, str]:
    """``{Gymnasium id: level name}`` of every text level."""
    ids = {env_id(name): name for name in PAPER_LEVELS}
    for name, minigrid_id in minigrid_level_ids().items():
        version = int(minigrid_id.rsplit("-v", 1)[1])
        ids.setdefault(env_id(name, version), name)
    return ids


def list_levels() -> tuple[str, ...]:
    """Every level name: the paper's levels first, then MiniGrid's BabyAI levels (sorted)."""
    return tuple(dict.fromkeys(_text_ids().values()))


def make_registered(level: str, config: Any = None, **overrides: Any) -> gymnasium.Env[Any, Any]:
    """Entry point of the registered ids: ``make_env`` with ``level`` forced to the id's."""
    from glam_env.factory import as_config, make_env  # late: keep registration import-light

    render_mode = overrides.pop("render_mode", None)
    cfg = as_config(config, **overrides)
    if cfg.level != level:
        if "level" in cfg.model_fields_set:
            raise ValueError(
                f"this id plays level {level!r} but the config asks for {cfg.level!r}: "
                f"use gymnasium.make({env_id(cfg.level)!r}) or drop the level from the config"
            )
        cfg = as_config(cfg, level=level)
    return make_env(cfg, render_mode=render_mode)


def register_envs() -> None:
    """Register every text level with Gymnasium; safe to call more than once."""
    for text_id, level in _text_ids().items():
        if text_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=text_id,
            entry_point=make_registered,
            kwargs={"level": level},
            # MiniGrid truncates at max_steps itself: no TimeLimit wrapper on top.
            max_episode_steps=None,
        )
    register_other_games()  # TextWorld/* and BoardGame-Text/* ids (their extras load lazily)
