"""Symbolic observations: MiniGrid's grid encoding and the mission as word ids.

BabyAI-Text levels speak text, which non-LLM agents (Stable-Baselines3, CleanRL,
``glam_ppo``'s small networks) cannot read. :class:`SymbolicObservationWrapper`
gives the same episodes as arrays, so that a text agent and a symbolic agent can
be compared on identical games: same actions (the text env's ``Discrete`` space,
same meaning), same seeds, same rewards, same ``info["success"]``. Only the
observation changes:

``"image"``
    MiniGrid's egocentric encoding of the agent's view, ``(V, V, 3)`` ``uint8``
    (object type, color, state per cell; ``V`` is ``agent_view_size``, 7): exactly
    the ``obs["image"]`` MiniGrid itself returns for the same seed and actions.
``"direction"``
    the agent's direction, ``Discrete(4)`` (MiniGrid's ``obs["direction"]``).
``"mission_ids"``
    the mission (after the level's language and the text variant: French levels
    give French words) as ``MAX_MISSION_WORDS`` word ids from
    :data:`MISSION_VOCABULARY`, padded with :data:`PAD_ID` (0); words outside
    the vocabulary (custom substitutions) are :data:`UNK_ID` (1).
``"image_history"`` (only when ``history_length`` K > 1)
    the last K images, oldest first, the current one last, ``(K, V, V, 3)``;
    at the start of an episode the missing older frames are all zeros (MiniGrid's
    "unseen" cells). The text history does the same for sentences; a stateless
    policy gets its memory from here.

With ``observation="symbolic"`` the observation holds only these (a ``Dict`` of
``Box``/``Discrete`` spaces, as Stable-Baselines3's ``MultiInputPolicy`` wants)
and ``info["mission"]`` carries the mission text; with ``observation="both"``
they are added to the text observation (and its text history).

The image bounds are MiniGrid's index ranges (type <= 10, color <= 5, state <= 2),
not 0..255: the encoding is categorical, not pixels, and with these bounds
Stable-Baselines3 flattens it instead of sending a 7x7 "image" to its Atari CNN.

Tokenisation (:func:`tokenize_mission`): lower case, words are maximal runs of
letters (accented ones included), everything else separates them, so
``"go to the red ball, then ..."`` gives ``go to the red ball then ...`` and
``"l'objet"`` gives ``l objet``. A mission longer than ``MAX_MISSION_WORDS``
words (only possible with custom multi-word substitutions: the longest mission
any level can write has 72 words) is truncated to its first ``MAX_MISSION_WORDS``
words, with one logged warning per environment.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Any, Literal, SupportsInt

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

from glam_env.protocol import MISSION

__all__ = [
    "DIRECTION",
    "IMAGE",
    "IMAGE_HISTORY",
    "MAX_MISSION_WORDS",
    "MISSION_IDS",
    "MISSION_VOCABULARY",
    "OBSERVATION_MODES",
    "PAD_ID",
    "PAD_TOKEN",
    "UNK_ID",
    "UNK_TOKEN",
    "WORD_IDS",
    "ObservationMode",
    "SymbolicObservationWrapper",
    "decode_mission",
    "encode_mission",
    "grid_value_bounds",
    "symbolic_keys",
    "tokenize_mission",
]

logger = logging.getLogger(__name__)

#: What an environment observes: the text game, arrays only, or both.
ObservationMode = Literal["text", "symbolic", "both"]
OBSERVATION_MODES: tuple[str, ...] = ("text", "symbolic", "both")

#: Keys of the symbolic observation ("image" and "direction" are MiniGrid's own).
IMAGE = "image"
DIRECTION = "direction"
MISSION_IDS = "mission_ids"
IMAGE_HISTORY = "image_history"

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
UNK_ID = 1

#: Word ids of every word a level or a preset variant can write in a mission.
#: Ids are part of trained models: append new words at the end, never reorder.
MISSION_VOCABULARY: tuple[str, ...] = (
    PAD_TOKEN,
    UNK_TOKEN,
    # English: BabyAI's verifier (GoTo, PickUp, Open, PutNext, And, Before, After),
    # object descriptions (article, color, type, location).
    "go",
    "to",
    "pick",
    "up",
    "open",
    "put",
    "next",
    "and",
    "then",
    "after",
    "you",
    "the",
    "a",
    "red",
    "green",
    "blue",
    "purple",
    "yellow",
    "grey",
    "key",
    "ball",
    "box",
    "door",
    "object",
    "in",
    "front",
    "of",
    "behind",
    "on",
    "your",
    "left",
    "right",
    # French (glam_env.french): verbs, articles and contractions, nouns, both
    # genders of the colors, locations.
    "va",
    "à",
    "au",
    "attrape",
    "ouvre",
    "pose",
    "côté",
    "de",
    "d",
    "du",
    "puis",
    "après",
    "être",
    "allé",
    "avoir",
    "attrapé",
    "ouvert",
    "posé",
    "et",
    "la",
    "le",
    "l",
    "une",
    "un",
    "clef",
    "balle",
    "boîte",
    "porte",
    "objet",
    "rouge",
    "verte",
    "vert",
    "bleue",
    "bleu",
    "violette",
    "violet",
    "jaune",
    "grise",
    "gris",
    "devant",
    "derrière",
    "toi",
    "ta",
    "gauche",
    "droite",
    # Generalization variants (glam_env.variants): renamed nouns, adjective
    # synonyms ("violet" is already above), invented nouns and adjectives.
    "chair",
    "table",
    "car",
    "vermilion",
    "jade",
    "cyan",
    "golden",
    "silver",
    "dax",
    "xolo",
    "afze",
    "faze",
    "jatu",
    "croh",
    "vurst",
    "gakul",
    "sil",
)

#: ``{word: id}`` of :data:`MISSION_VOCABULARY` (read-only).
WORD_IDS: MappingProxyType[str, int] = MappingProxyType(
    {word: index for index, word in enumerate(MISSION_VOCABULARY)}
)

#: Length of ``"mission_ids"``: above the longest mission a level writes (72 words:
#: two "and"-joined put-next-with-locations clauses on each side of "after you").
MAX_MISSION_WORDS = 80

_WORD = re.compile(r"[^\W\d_]+")


def tokenize_mission(mission: str) -> list[str]:
    """The mission's words: lower case, letters only (see the module doc)."""
    return _WORD.findall(mission.lower())


def encode_mission(
    mission: str, max_words: int = MAX_MISSION_WORDS, *, truncate: bool = True
) -> np.ndarray:
    """``int64`` ids of the mission's words, padded with ``PAD_ID`` to ``max_words``.

    Unknown words are ``UNK_ID``. Longer missions are cut to ``max_words``, or,
    with ``truncate=False``, raise ``ValueError``.
    """
    words = tokenize_mission(mission)
    if len(words) > max_words:
        if not truncate:
            raise ValueError(
                f"the mission has {len(words)} words, more than max_words={max_words}: {mission!r}"
            )
        words = words[:max_words]
    ids = np.zeros(max_words, dtype=np.int64)
    ids[: len(words)] = [WORD_IDS.get(word, UNK_ID) for word in words]
    return ids


def decode_mission(ids: Iterable[SupportsInt]) -> str:
    """The words of ``ids`` joined by spaces, padding dropped (``<unk>`` stays)."""
    words = []
    for value in ids:
        index = int(value)
        if index == PAD_ID:
            continue
        if not 0 <= index < len(MISSION_VOCABULARY):
            raise ValueError(f"word id {index} is outside the vocabulary (0..{len(WORD_IDS) - 1})")
        words.append(MISSION_VOCABULARY[index])
    return " ".join(words)


def grid_value_bounds() -> np.ndarray:
    """Largest value of each channel of MiniGrid's encoding: (type, color, state)."""
    return np.array(
        [max(OBJECT_TO_IDX.values()), max(COLOR_TO_IDX.values()), max(STATE_TO_IDX.values())],
        dtype=np.uint8,
    )


def _symbolic_spaces(view_size: int, history_length: int, max_words: int) -> dict[str, Any]:
    high = np.broadcast_to(grid_value_bounds(), (view_size, view_size, 3))
    entries: dict[str, spaces.Space[Any]] = {
        IMAGE: spaces.Box(0, high, dtype=np.uint8),
        DIRECTION: spaces.Discrete(4),
        MISSION_IDS: spaces.Box(0, len(MISSION_VOCABULARY) - 1, (max_words,), dtype=np.int64),
    }
    if history_length > 1:
        stacked = np.broadcast_to(high, (history_length, *high.shape))
        entries[IMAGE_HISTORY] = spaces.Box(0, stacked, dtype=np.uint8)
    return entries


class SymbolicObservationWrapper(
    gym.Wrapper[dict[str, Any], SupportsInt, dict[str, Any], SupportsInt]
):
    """Give a BabyAI-Text env's episodes as MiniGrid arrays and mission word ids.

    Args:
        env: a :class:`~glam_env.BabyAITextEnv`, possibly wrapped (its
            ``unwrapped`` must have ``minigrid_env``), e.g. in ``HistoryWrapper``.
        mode: "symbolic" (arrays only, mission text in ``info["mission"]``) or
            "both" (arrays added to the text observation).
        history_length: K > 1 adds ``"image_history"``, the last K images.
        max_words: length of ``"mission_ids"``.

    Actions, rewards, ``terminated``/``truncated`` and ``info`` pass through
    unchanged. The image is read with MiniGrid's ``gen_obs()`` after each
    reset and step: deterministic, so it equals the observation MiniGrid returned.
    """

    def __init__(
        self,
        env: gym.Env[dict[str, Any], SupportsInt],
        mode: Literal["symbolic", "both"] = "symbolic",
        history_length: int = 1,
        max_words: int = MAX_MISSION_WORDS,
    ) -> None:
        if mode not in ("symbolic", "both"):
            raise ValueError(f"mode must be 'symbolic' or 'both', got {mode!r}")
        if isinstance(history_length, bool) or not isinstance(history_length, int):
            raise TypeError(f"history_length must be an integer >= 1, got {history_length!r}")
        if history_length < 1:
            raise ValueError(f"history_length must be >= 1, got {history_length}")
        if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
            raise ValueError(f"max_words must be an integer >= 1, got {max_words!r}")
        base = getattr(env.unwrapped, "minigrid_env", None)
        if base is None:
            raise TypeError(
                "SymbolicObservationWrapper needs a BabyAI-Text env (with a minigrid_env), "
                f"got {type(env.unwrapped).__name__}"
            )
        super().__init__(env)
        self.mode = mode
        self.history_length = history_length
        self.max_words = max_words
        self._base = base
        view = int(base.agent_view_size)
        symbolic = _symbolic_spaces(view, history_length, max_words)
        if mode == "both":
            text = env.observation_space
            if not isinstance(text, spaces.Dict):
                raise TypeError(f"mode 'both' needs a Dict observation space, got {text}")
            clash = sorted(set(text.spaces) & set(symbolic))
            if clash:
                raise ValueError(f"the text observation already has the keys {clash}")
            self.observation_space = spaces.Dict({**text.spaces, **symbolic})
        else:
            self.observation_space = spaces.Dict(symbolic)
        self._frames: deque[np.ndarray] = deque(maxlen=history_length)
        self._blank = np.zeros((view, view, 3), dtype=np.uint8)
        self._mission_text: str | None = None
        self._mission_ids = np.zeros(max_words, dtype=np.int64)
        self._warned_long = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._frames.clear()
        return self._observation(obs, info), info

    def step(self, action: SupportsInt) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._observation(obs, info), reward, terminated, truncated, info

    # ------------------------------------------------------------------ internals
    def _encoded_mission(self, text: str) -> np.ndarray:
        """Word ids of the mission, recomputed only when the mission text changes."""
        if text != self._mission_text:
            words = len(tokenize_mission(text))
            if words > self.max_words and not self._warned_long:
                self._warned_long = True
                logger.warning(
                    "mission of %d words truncated to max_words=%d: %r",
                    words,
                    self.max_words,
                    text,
                )
            self._mission_text = text
            self._mission_ids = encode_mission(text, self.max_words)
        return self._mission_ids.copy()

    def _observation(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        minigrid_obs = self._base.gen_obs()
        image = np.asarray(minigrid_obs["image"], dtype=np.uint8)
        text = obs[MISSION] if isinstance(obs, dict) and MISSION in obs else None
        if text is None:
            text = str(self.env.get_wrapper_attr("mission"))
        symbolic: dict[str, Any] = {
            IMAGE: image,
            DIRECTION: int(minigrid_obs["direction"]),
            MISSION_IDS: self._encoded_mission(text),
        }
        if self.history_length > 1:
            self._frames.append(image)
            missing = self.history_length - len(self._frames)
            symbolic[IMAGE_HISTORY] = np.stack([self._blank] * missing + list(self._frames))
        if self.mode == "both":
            return {**obs, **symbolic}
        info[MISSION] = text
        return symbolic


def symbolic_keys(history_length: int) -> Sequence[str]:
    """The keys a symbolic observation has for this ``history_length``."""
    keys = [IMAGE, DIRECTION, MISSION_IDS]
    if history_length > 1:
        keys.append(IMAGE_HISTORY)
    return tuple(keys)
