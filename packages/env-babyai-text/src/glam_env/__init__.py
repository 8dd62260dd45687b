"""glam_env: BabyAI-Text and other text games behind one Gymnasium text-game protocol.

Importing the package registers ``BabyAI-Text/<Level>-v0`` ids with Gymnasium.
"""

from glam_env.actions import ACTION_PRESETS, CANONICAL_ACTIONS, NO_OP_ACTIONS, PAPER_ACTIONS
from glam_env.board_games import BoardGameConfig, register_other_games
from glam_env.config import BabyAITextConfig
from glam_env.describer import describe, describe_image
from glam_env.errors import (
    EpisodeEndedError,
    ExpertFailure,
    GlamEnvError,
    InvalidActionError,
    LevelGenerationError,
    ResetNeededError,
    UnknownLevelError,
)
from glam_env.expert import ExpertAgent, ExpertEpisode
from glam_env.factory import make_env, make_vector_env
from glam_env.french import FRENCH_ACTION_NAMES, translate_mission
from glam_env.levels import HELD_OUT_PAIRS, MIXED_FAMILIES, PAPER_LEVELS
from glam_env.protocol import (
    ACTION_HISTORY,
    ADMISSIBLE_ACTIONS,
    MAX_TEXT_LENGTH,
    MISSION,
    OBSERVATION,
    OBSERVATION_HISTORY,
    SUCCESS,
    TextGame,
    TextObservation,
    TextObservationWithHistory,
)
from glam_env.registration import NAMESPACE, env_id, list_levels, register_envs
from glam_env.symbolic import (
    MAX_MISSION_WORDS,
    MISSION_VOCABULARY,
    OBSERVATION_MODES,
    PAD_ID,
    UNK_ID,
    SymbolicObservationWrapper,
    decode_mission,
    encode_mission,
    tokenize_mission,
)
from glam_env.text_env import BabyAITextEnv
from glam_env.textworld import TextWorldConfig
from glam_env.variants import VARIANT_NAMES, TextVariant, get_variant, load_variant
from glam_env.wrappers import HistoryWrapper

__version__ = "0.1.0"

register_envs()

__all__ = [
    "ACTION_HISTORY",
    "ACTION_PRESETS",
    "ADMISSIBLE_ACTIONS",
    "CANONICAL_ACTIONS",
    "FRENCH_ACTION_NAMES",
    "HELD_OUT_PAIRS",
    "MAX_MISSION_WORDS",
    "MAX_TEXT_LENGTH",
    "MISSION",
    "MISSION_VOCABULARY",
    "MIXED_FAMILIES",
    "NAMESPACE",
    "NO_OP_ACTIONS",
    "OBSERVATION",
    "OBSERVATION_HISTORY",
    "OBSERVATION_MODES",
    "PAD_ID",
    "PAPER_ACTIONS",
    "PAPER_LEVELS",
    "SUCCESS",
    "UNK_ID",
    "VARIANT_NAMES",
    "BabyAITextConfig",
    "BabyAITextEnv",
    "BoardGameConfig",
    "EpisodeEndedError",
    "ExpertAgent",
    "ExpertEpisode",
    "ExpertFailure",
    "GlamEnvError",
    "HistoryWrapper",
    "InvalidActionError",
    "LevelGenerationError",
    "ResetNeededError",
    "SymbolicObservationWrapper",
    "TextGame",
    "TextObservation",
    "TextObservationWithHistory",
    "TextVariant",
    "TextWorldConfig",
    "UnknownLevelError",
    "__version__",
    "decode_mission",
    "describe",
    "describe_image",
    "encode_mission",
    "env_id",
    "get_variant",
    "list_levels",
    "load_variant",
    "make_env",
    "make_vector_env",
    "register_envs",
    "register_other_games",
    "tokenize_mission",
    "translate_mission",
]
