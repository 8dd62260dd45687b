"""Pieces every variable-action text game of this package shares.

BabyAI-Text has six fixed actions; TextWorld and board games do not: the
admissible actions change from step to step. The protocol keeps the action
space ``Discrete(max_actions)`` and makes an index past the admissible ones an
error, so these games need three things BabyAI does not: an action mask (in
``info``, Gymnasium's convention, and in PettingZoo observations), a
``Discrete`` space whose unmasked ``sample()`` only draws admissible indices
(so that Gymnasium's ``check_env`` and PettingZoo's seed tests, which sample
without a mask, exercise legal play), and text spaces that accept every
character these games print.

TextWorld games reuse this module too; it lives here because board games are
the lighter dependency (``glam_env.board_games`` imports PettingZoo only when
an environment is built).
"""

from __future__ import annotations

import difflib
import json
import string
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from gymnasium import spaces
from pydantic import BaseModel

from glam_env.errors import InvalidActionError
from glam_env.protocol import (
    ADMISSIBLE_ACTIONS,
    MAX_TEXT_LENGTH,
    MISSION,
    OBSERVATION,
)

GameConfigT = TypeVar("GameConfigT", bound=BaseModel)

__all__ = [
    "ACTION_MASK",
    "TEXT_CHARSET",
    "AdmissibleDiscrete",
    "PettingZooText",
    "action_mask",
    "check_action_index",
    "load_mapping",
    "sanitize_text",
    "text_observation_space",
    "text_space",
    "unknown_choice_message",
]

#: Key of the action mask: in ``info`` for Gymnasium envs, in the observation for PettingZoo.
ACTION_MASK = "action_mask"

_EXTRA_CHARACTERS = "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ’‘“”«»–—…°"

#: Every character a text of these games may hold once sanitized: printable
#: ASCII (with newline and tab) and the accented letters and typographic
#: punctuation of English and French text.
TEXT_CHARSET: frozenset[str] = frozenset(
    (set(string.printable) - {"\r", "\x0b", "\x0c"}) | set(_EXTRA_CHARACTERS)
)


def sanitize_text(text: str, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Fit ``text`` into :func:`text_space`: known characters only, at most ``max_length``.

    A character outside :data:`TEXT_CHARSET` is replaced by its ASCII base
    letter when Unicode decomposition gives one (``ñ`` -> ``n``), else by
    ``?``, so the observation always lies in the declared space.
    """
    if any(char not in TEXT_CHARSET for char in text):
        pieces = []
        for char in text:
            if char in TEXT_CHARSET:
                pieces.append(char)
                continue
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
            pieces.append(base if base and all(c in TEXT_CHARSET for c in base) else "?")
        text = "".join(pieces)
    return text[:max_length]


def text_space(max_length: int = MAX_TEXT_LENGTH) -> spaces.Text:
    """A Gymnasium ``Text`` space accepting any sanitized text of these games."""
    return spaces.Text(max_length=max_length, min_length=0, charset=TEXT_CHARSET)


def text_observation_space(max_actions: int, *, with_action_mask: bool = False) -> spaces.Dict:
    """The protocol's observation space; PettingZoo adds the mask to the observation."""
    entries: dict[str, spaces.Space[Any]] = {
        MISSION: text_space(),
        OBSERVATION: text_space(),
        ADMISSIBLE_ACTIONS: spaces.Sequence(text_space()),
    }
    if with_action_mask:
        entries[ACTION_MASK] = spaces.Box(low=0, high=1, shape=(max_actions,), dtype=np.int8)
    return spaces.Dict(entries)


def action_mask(num_admissible: int, max_actions: int) -> np.ndarray:
    """``int8`` mask of length ``max_actions`` with ones on the admissible indices."""
    mask = np.zeros(max_actions, dtype=np.int8)
    mask[:num_admissible] = 1
    return mask


class AdmissibleDiscrete(spaces.Discrete):
    """``Discrete(max_actions)`` whose unmasked ``sample()`` draws an admissible index.

    The environment tells the space how many actions are admissible now
    (:meth:`set_num_admissible`); ``contains`` keeps Gymnasium's meaning (any
    index below ``n``), so batching and vector envs see a plain ``Discrete``.
    With nothing admissible (game over, or not this player's turn) ``sample()``
    returns ``0``, as ``Discrete.sample`` does for an all-zero mask.
    """

    def __init__(self, n: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(n, seed=seed)
        self._num_admissible = n

    @property
    def num_admissible(self) -> int:
        """How many leading indices are admissible in the current state."""
        return self._num_admissible

    def set_num_admissible(self, count: int) -> None:
        """Record that the first ``count`` indices are admissible now."""
        if not 0 <= count <= self.n:
            raise ValueError(f"count must be in [0, {self.n}], got {count}")
        self._num_admissible = int(count)

    def sample(
        self,
        mask: np.ndarray | None = None,
        probability: np.ndarray | None = None,
    ) -> np.int64:
        """Sample like ``Discrete``; without mask or probability, among admissible indices."""
        if mask is None and probability is None:
            mask = action_mask(self._num_admissible, int(self.n))
        return super().sample(mask=mask, probability=probability)

    def __repr__(self) -> str:
        return f"AdmissibleDiscrete({self.n}, admissible={self._num_admissible})"


class PettingZooText(str):
    """A ``str`` that also reports the NumPy dtype of Gymnasium's ``Text`` space.

    PettingZoo's ``api_test`` assumes ``observation["observation"]`` is an array
    and compares its ``.dtype`` with the space's; the text protocol puts the
    observation *text* under that key, and Gymnasium's ``Text`` space declares
    dtype ``<U``. The PettingZoo environments of this package hand out the
    observation text as this subclass so that the check compares like with
    like; to everything else it is the same ``str``.
    """

    __slots__ = ()
    dtype = np.dtype(str)


def check_action_index(action: Any, admissible: tuple[str, ...] | list[str]) -> int:
    """Return ``action`` as an ``int`` index into ``admissible``, or raise.

    The protocol forbids mapping a bad index onto something else, so an index
    that is not an integer, is negative or is at or past the number of
    admissible actions raises :class:`glam_env.errors.InvalidActionError`
    naming the admissible actions.
    """
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, bool) or not isinstance(action, int | np.integer):
        raise InvalidActionError(
            f"the action must be an integer index, got {action!r} of type {type(action).__name__}"
        )
    index = int(action)
    if not 0 <= index < len(admissible):
        listed = ", ".join(f"{i}: {a!r}" for i, a in enumerate(admissible)) or "none"
        raise InvalidActionError(
            f"action index {index} is not admissible: valid indices are 0..{len(admissible) - 1} "
            f"({listed})"
            if admissible
            else f"action index {index} is not admissible: no action is admissible now"
        )
    return index


def unknown_choice_message(kind: str, value: object, allowed: Iterable[str]) -> str:
    """``unknown <kind> 'x'. Did you mean: ...? Allowed: a, b, c`` for config errors."""
    allowed = sorted(allowed)
    close = difflib.get_close_matches(str(value), allowed, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"unknown {kind} {value!r}.{hint} Allowed: {', '.join(allowed)}"


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file holding one mapping (a config)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of config fields, got {type(data).__name__}")
    return dict(data)


def resolve_game_config(
    config_type: type[GameConfigT],
    config: GameConfigT | Mapping[str, Any] | None,
    game: str | None = None,
) -> GameConfigT:
    """Merge a game config with the game an environment id fixes (``gymnasium.make`` kwargs).

    A config naming another game than the id raises ``ValueError`` naming both,
    rather than silently playing one of them.
    """
    if isinstance(config, config_type):
        data = config.model_dump(exclude_unset=True)
    elif config is None:
        data = {}
    elif isinstance(config, Mapping):
        data = dict(config)
    else:
        raise TypeError(
            f"config must be a {config_type.__name__}, a mapping or None, "
            f"got {type(config).__name__}"
        )
    if game is not None:
        if "game" in data and data["game"] != game:
            raise ValueError(
                f"this environment plays {game!r} but its config asks for {data['game']!r}: "
                f"drop 'game' from the config or make the environment of {data['game']!r}"
            )
        data["game"] = game
    return config_type.from_dict(data)  # type: ignore[attr-defined]
