"""glam_env: BabyAI-Text and other text games behind one Gymnasium text-game protocol."""

from glam_env.protocol import (
    ACTION_HISTORY,
    ADMISSIBLE_ACTIONS,
    MISSION,
    OBSERVATION,
    OBSERVATION_HISTORY,
    SUCCESS,
    TextGame,
    TextObservation,
    TextObservationWithHistory,
)

__version__ = "0.1.0"

__all__ = [
    "ACTION_HISTORY",
    "ADMISSIBLE_ACTIONS",
    "MISSION",
    "OBSERVATION",
    "OBSERVATION_HISTORY",
    "SUCCESS",
    "TextGame",
    "TextObservation",
    "TextObservationWithHistory",
    "__version__",
]
