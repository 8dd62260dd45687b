"""The paper's generalization tests as named text variants (reference facts, section 5).

A :class:`TextVariant` changes the words an agent reads without changing the
game: the same substitutions are applied to the mission, to every observation
sentence and to the action strings, so that the whole prompt stays consistent
(``pick up the red key`` / ``You see a red key ...`` both become ``... chair``).

* ``substitutions`` replace whole words only: ``key`` never touches ``keys``
  unless plurals are on (then ``keys`` -> ``chairs``), ``blue`` never touches
  ``bluebird``. All substitutions happen in one pass, so ``key -> chair`` and
  ``chair -> key`` swap the two words instead of chaining.
* ``action_names`` replace the action strings (synonym actions, French).
* ``language="fr"`` makes the describer speak French and translates missions
  (:mod:`glam_env.french`).

The paper's goal-phrasing variants change the agent's prompt, not the game,
and therefore live in the policy package, not here.

How an environment uses a variant (three calls, one per kind of text)::

    variant = get_variant("invented_nouns")
    mission = variant.mission(raw_mission)          # translate (fr) + substitute
    sentences = variant.sentences(obs["image"])     # describe in its language + substitute
    actions = variant.actions(default_action_names)  # rename + substitute
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from glam_env.actions import (
    FRENCH_NO_OP_NAMES,
    PAPER_ACTIONS,
    SYNONYM_ACTIONS,
    SYNONYM_ACTIONS_2,
)
from glam_env.describer import describe_image
from glam_env.french import FRENCH_ACTION_NAMES, translate_mission

__all__ = ["VARIANT_NAMES", "TextVariant", "get_variant", "load_variant"]

#: Largest number of distinct texts a variant remembers the substitution of.
_CACHE_SIZE = 65536


def _plural(word: str) -> str:
    """English plural of a single word: box -> boxes, key -> keys, daisy -> daisies."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


class _Substituter:
    """A cached one-pass whole-word substitution for one table (picklable).

    Observation sentences repeat, so the cache makes the usual call a single
    dict lookup; the regex only runs on text seen for the first time.
    """

    __slots__ = ("_cache", "_pattern", "_table")

    def __init__(self, table: dict[str, str]) -> None:
        self._table = table
        words = sorted(table, key=len, reverse=True)
        alternatives = "|".join(re.escape(word) for word in words)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        self._cache: dict[str, str] = {}

    def _replace(self, match: re.Match[str]) -> str:
        return self._table[match.group(0)]

    def __call__(self, text: str) -> str:
        cache = self._cache
        result = cache.get(text)
        if result is None:
            result = self._pattern.sub(self._replace, text)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[text] = result
        return result

    def __getstate__(self) -> dict[str, str]:
        return self._table

    def __setstate__(self, table: dict[str, str]) -> None:
        self.__init__(table)  # type: ignore[misc]


def _substituter(table: dict[str, str]) -> Callable[[str], str]:
    """Identity for an empty table, else a cached :class:`_Substituter`."""
    return _Substituter(table) if table else str


class TextVariant(BaseModel):
    """A consistent rewording of mission, observations and actions.

    Build one from a preset (:func:`get_variant`), a dict, or a YAML/JSON file
    (:func:`load_variant`), e.g.::

        name: my_nouns
        substitutions: {key: spoon, ball: apple}
        action_names: [rotate left, rotate right, move ahead, take, release, switch]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="custom", min_length=1)
    substitutions: dict[str, str] = Field(default_factory=dict)
    action_names: tuple[str, ...] | None = None
    language: Literal["en", "fr"] = "en"
    plurals: bool = True
    """Also replace the English plural of single-word keys (keys -> chairs)."""

    @field_validator("substitutions")
    @classmethod
    def _check_substitutions(cls, value: dict[str, str]) -> dict[str, str]:
        for source, target in value.items():
            if not source.strip() or source != source.strip():
                raise ValueError(
                    f"substitution key {source!r} must be a non-empty word or phrase "
                    "without leading/trailing spaces"
                )
            if not target.strip():
                raise ValueError(f"substitution for {source!r} must be a non-empty string")
        return value

    @field_validator("action_names")
    @classmethod
    def _check_action_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("action_names must be None (keep the env's names) or non-empty")
        empty = [name for name in value if not name.strip()]
        if empty:
            raise ValueError("action_names must be non-empty strings")
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"action_names must be distinct; repeated: {duplicates}")
        return value

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> TextVariant:
        """A copy that rebuilds its substitution function (``update`` may change the table)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("_apply", None)
        return copied

    @cached_property
    def _apply(self) -> Callable[[str], str]:
        """The substitution function, built on first use and kept in the instance dict.

        (A cached property, not a pydantic private attribute: reading a private
        attribute goes through ``__getattr__`` and costs microseconds per step.)
        """
        forms: list[tuple[str, str]] = []
        for source, target in self.substitutions.items():
            forms.append((source, target))
            if self.plurals and " " not in source and " " not in target:
                forms.append((_plural(source), _plural(target)))
        table = dict(self.substitutions)
        for source, target in forms:
            table.setdefault(source, target)
            table.setdefault(source[:1].upper() + source[1:], target[:1].upper() + target[1:])
        return _substituter(table)

    def __eq__(self, other: object) -> bool:
        """Equal when the public fields are (the private cache does not count)."""
        if not isinstance(other, TextVariant):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable dict field: not hashable

    # ------------------------------------------------------------------ text
    def apply(self, text: str) -> str:
        """Replace whole words of ``text`` by their substitutes (one pass, cached)."""
        return self._apply(text)

    def apply_all(self, texts: Iterable[str]) -> list[str]:
        """:meth:`apply` on each text (observation sentences repeat: the cache hits)."""
        apply = self._apply
        return [apply(text) for text in texts]

    # --------------------------------------------------------- three kinds
    def mission(self, mission: str) -> str:
        """The mission in this variant: translated when French, then substituted."""
        if self.language == "fr":
            mission = translate_mission(mission)
        return self.apply(mission)

    def sentences(self, image: np.ndarray) -> list[str]:
        """The observation sentences of an encoded view, in this variant's words."""
        return self.apply_all(describe_image(image, self.language))

    def actions(self, default_names: Sequence[str]) -> tuple[str, ...]:
        """The action strings in this variant.

        With ``action_names`` of the same length as ``default_names`` they
        replace them by position. Six ``action_names`` with a differently
        sized list (the 3- or 9-action sets) rename the paper's six actions
        wherever they appear and leave the others (sleep, think...) to the
        substitutions. Without ``action_names`` only the substitutions apply.
        """
        names = tuple(default_names)
        if self.action_names is None:
            return tuple(self.apply(name) for name in names)
        if len(self.action_names) == len(names):
            return self.action_names
        if len(self.action_names) == len(PAPER_ACTIONS):
            renamed = dict(zip(PAPER_ACTIONS, self.action_names, strict=True))
            return tuple(renamed.get(name) or self.apply(name) for name in names)
        raise ValueError(
            f"variant {self.name!r} has {len(self.action_names)} action_names; the env has "
            f"{len(names)} actions ({', '.join(names)}): give {len(names)} names, or 6 to "
            "rename the paper's six actions"
        )


def _in_paper_order(renamed: Mapping[str, str]) -> tuple[str, ...]:
    """New names of the paper's six actions, in MiniGrid's order.

    ``action_names`` replace actions by position (and action heads pick by
    position), so a renaming keyed by the canonical names is laid out in the
    canonical order here, once, instead of trusting a hand-ordered list.
    """
    return tuple(renamed[name] for name in PAPER_ACTIONS)


def _preset_table() -> dict[str, dict[str, Any]]:
    renamed_nouns = {"key": "chair", "ball": "table", "box": "car"}
    adjective_synonyms = {
        "red": "vermilion",
        "green": "jade",
        "blue": "cyan",
        "purple": "violet",
        "yellow": "golden",
        "grey": "silver",
    }
    invented_nouns = {"key": "dax", "ball": "xolo", "box": "afze"}
    invented_adjectives = {
        "red": "faze",
        "green": "jatu",
        "blue": "croh",
        "purple": "vurst",
        "yellow": "gakul",
        "grey": "sil",
    }
    return {
        "none": {},
        "renamed_nouns": {"substitutions": renamed_nouns},
        "adjective_synonyms": {"substitutions": adjective_synonyms},
        "invented_nouns": {"substitutions": invented_nouns},
        "invented_adjectives": {"substitutions": invented_adjectives},
        "invented_words": {"substitutions": {**invented_nouns, **invented_adjectives}},
        "synonym_actions": {"action_names": _in_paper_order(SYNONYM_ACTIONS)},
        "synonym_actions_2": {"action_names": _in_paper_order(SYNONYM_ACTIONS_2)},
        # The no-op actions of the 9-action set are words like any other: translated
        # wherever they appear (the paper's six are renamed by position).
        "french": {
            "language": "fr",
            "action_names": FRENCH_ACTION_NAMES,
            "substitutions": dict(FRENCH_NO_OP_NAMES),
            "plurals": False,
        },
    }


_PRESETS = _preset_table()

#: Names of the paper's generalization presets, "none" first.
VARIANT_NAMES: tuple[str, ...] = tuple(_PRESETS)


def get_variant(name: str) -> TextVariant:
    """The preset called ``name``; unknown names fail listing the valid ones and close matches."""
    preset = _PRESETS.get(name)
    if preset is None:
        close = difflib.get_close_matches(str(name), VARIANT_NAMES, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown text variant {name!r}; valid variants: {', '.join(VARIANT_NAMES)}.{hint}"
        )
    return TextVariant(name=name, **preset)


def load_variant(source: str | Path | Mapping[str, Any] | TextVariant) -> TextVariant:
    """A variant from a preset name, a dict, a ``.yaml``/``.yml``/``.json`` file, or itself."""
    if isinstance(source, TextVariant):
        return source
    if isinstance(source, Mapping):
        return TextVariant.model_validate(dict(source))
    path = Path(source)
    if path.suffix.lower() in {".yaml", ".yml", ".json"}:
        if not path.is_file():
            raise FileNotFoundError(f"text variant file not found: {path}")
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        if not isinstance(data, Mapping):
            raise ValueError(f"text variant file {path} must hold a mapping, got {type(data)}")
        return TextVariant.model_validate(dict(data))
    return get_variant(str(source))
