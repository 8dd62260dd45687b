"""BabyAI levels: the paper's levels and the catalogue of every playable level."""

from glam_env.levels.catalog import (
    PAPER_LEVELS,
    build_level,
    level_default_language,
    level_names,
    minigrid_level_ids,
    resolve_level_name,
)
from glam_env.levels.local import (
    ALL_FAMILIES,
    DOOR_COLORS,
    HELD_OUT_PAIRS,
    MIXED_FAMILIES,
    GoToAfterPickUpLocal,
    GoToFrench,
    LocalTaskLevel,
    MixedTestLocal,
    MixedTrainLocal,
    PickUpSeqGoToLocal,
    PickUpSeqPickUpLocal,
    PickUpThenGoToLocal,
)
from glam_env.levels.quiet import QuietRoomGridLevel, silence_generation

__all__ = [
    "ALL_FAMILIES",
    "DOOR_COLORS",
    "HELD_OUT_PAIRS",
    "MIXED_FAMILIES",
    "PAPER_LEVELS",
    "GoToAfterPickUpLocal",
    "GoToFrench",
    "LocalTaskLevel",
    "MixedTestLocal",
    "MixedTrainLocal",
    "PickUpSeqGoToLocal",
    "PickUpSeqPickUpLocal",
    "PickUpThenGoToLocal",
    "QuietRoomGridLevel",
    "build_level",
    "level_default_language",
    "level_names",
    "minigrid_level_ids",
    "resolve_level_name",
    "silence_generation",
]
