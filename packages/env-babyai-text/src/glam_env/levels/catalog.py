"""Every level a BabyAI-Text environment can play, by name.

Two sources: this package's paper levels (:mod:`glam_env.levels.local`) and
every ``BabyAI-<Name>-v<N>`` environment MiniGrid registers with Gymnasium
(read from Gymnasium's registry, so levels a future MiniGrid adds are picked up
too). Levels are named without prefix or version ("GoToLocal"); the full ids
"BabyAI-GoToLocal-v0" and "BabyAI-Text/GoToLocal-v0" are accepted as well.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium
import minigrid  # noqa: F401  (importing minigrid registers the BabyAI levels)
from gymnasium.envs.registration import load_env_creator
from minigrid.minigrid_env import MiniGridEnv

from glam_env.errors import UnknownLevelError
from glam_env.levels.local import (
    GoToAfterPickUpLocal,
    GoToFrench,
    LocalTaskLevel,
    MixedTestLocal,
    MixedTrainLocal,
    PickUpSeqGoToLocal,
    PickUpSeqPickUpLocal,
    PickUpThenGoToLocal,
)
from glam_env.levels.quiet import silence_generation

#: The paper's levels, in the order of the paper.
PAPER_LEVELS: dict[str, type[LocalTaskLevel]] = {
    "MixedTrainLocal": MixedTrainLocal,
    "MixedTestLocal": MixedTestLocal,
    "PickUpSeqPickUpLocal": PickUpSeqPickUpLocal,
    "PickUpSeqGoToLocal": PickUpSeqGoToLocal,
    "PickUpThenGoToLocal": PickUpThenGoToLocal,
    "GoToAfterPickUpLocal": GoToAfterPickUpLocal,
    "GoToFrench": GoToFrench,
}

_MINIGRID_ID = re.compile(r"^BabyAI-(?P<name>[\w.-]+?)-v(?P<version>\d+)$")
_TEXT_PREFIXES = ("BabyAI-Text/", "BabyAI-")
_VERSION_SUFFIX = re.compile(r"-v\d+$")


def minigrid_level_ids() -> dict[str, str]:
    """``{level name: Gymnasium id}`` of every BabyAI level MiniGrid registered (newest version)."""
    found: dict[str, tuple[int, str]] = {}
    for env_id in gymnasium.registry:
        match = _MINIGRID_ID.match(env_id)
        if match is None:
            continue
        name, version = match["name"], int(match["version"])
        if name not in found or version > found[name][0]:
            found[name] = (version, env_id)
    return {name: env_id for name, (_, env_id) in sorted(found.items())}


def level_names() -> tuple[str, ...]:
    """Every level name: the paper's levels first, then MiniGrid's BabyAI levels."""
    return tuple(PAPER_LEVELS) + tuple(
        name for name in minigrid_level_ids() if name not in PAPER_LEVELS
    )


def resolve_level_name(name: str) -> str:
    """The canonical level name for ``name`` or an :class:`UnknownLevelError`."""
    if not isinstance(name, str):
        raise UnknownLevelError(repr(name), level_names())
    candidate = name.strip()
    for prefix in _TEXT_PREFIXES:
        if candidate.startswith(prefix):
            candidate = candidate[len(prefix) :]
            break
    candidate = _VERSION_SUFFIX.sub("", candidate)
    names = level_names()
    if candidate in names:
        return candidate
    raise UnknownLevelError(name, names)


def level_default_language(name: str) -> str:
    """Language the text environment uses for a level unless told otherwise."""
    level = PAPER_LEVELS.get(resolve_level_name(name))
    return level.default_language if level is not None else "en"


def build_level(
    name: str,
    *,
    max_steps: int | None = None,
    family_weights: dict[str, float] | None = None,
    num_distractors: int | None = None,
    render_mode: str | None = None,
    **level_kwargs: Any,
) -> MiniGridEnv:
    """Construct the MiniGrid environment of a level, generating silently.

    ``family_weights`` and ``num_distractors`` exist only for the paper's levels;
    ``level_kwargs`` go to the level's constructor as they are (e.g. ``room_size``).
    """
    canonical = resolve_level_name(name)
    kwargs: dict[str, Any] = dict(level_kwargs)
    if max_steps is not None:
        kwargs["max_steps"] = max_steps
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if canonical in PAPER_LEVELS:
        if family_weights is not None:
            kwargs["family_weights"] = family_weights
        if num_distractors is not None:
            kwargs["num_dists"] = num_distractors
        factory: Any = PAPER_LEVELS[canonical]
    else:
        if family_weights is not None:
            raise ValueError(
                f"family_weights only applies to the paper's levels ({', '.join(PAPER_LEVELS)}), "
                f"not to {canonical}"
            )
        if num_distractors is not None:
            raise ValueError(
                f"num_distractors only applies to the paper's levels ({', '.join(PAPER_LEVELS)}); "
                f"for {canonical} pass the MiniGrid keyword (e.g. num_dists) in level_kwargs"
            )
        spec = gymnasium.spec(minigrid_level_ids()[canonical])
        kwargs = {**spec.kwargs, **kwargs}
        factory = load_env_creator(spec.entry_point)  # type: ignore[arg-type]
    try:
        env = factory(**kwargs)
    except TypeError as error:
        raise ValueError(f"level {canonical} does not accept these arguments: {error}") from error
    silence_generation(env)
    return env
