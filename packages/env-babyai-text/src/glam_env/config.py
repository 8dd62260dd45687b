"""``BabyAITextConfig``: everything that defines a BabyAI-Text environment, validated.

One pydantic model, loadable from a dict, a YAML or a JSON file, whose defaults
give the paper's setting (MixedTrainLocal, English, the six actions, the last 3
observations). Bad values fail when the config is built, with a message naming
the field and what is allowed, not later inside a worker process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glam_env.actions import resolve_action_names
from glam_env.levels import PAPER_LEVELS, level_default_language, resolve_level_name
from glam_env.levels.local import family_probabilities
from glam_env.symbolic import ObservationMode
from glam_env.variants import TextVariant, get_variant, load_variant

__all__ = ["BabyAITextConfig"]


class BabyAITextConfig(BaseModel):
    """Settings of one BabyAI-Text environment (see ``glam_env.make_env``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str = "MixedTrainLocal"
    """Level name (``glam_env.list_levels()``); "BabyAI-GoToLocal-v0" style ids work too."""
    language: Literal["en", "fr"] | None = None
    """Language of all texts; ``None``: the variant's, else the level's (French for GoToFrench)."""
    actions: str | tuple[str, ...] = "paper6"
    """Preset ("paper6", "move3", "extended9") or a list of action names (see glam_env.actions)."""
    history_length: int = Field(default=3, ge=1)
    """Observations kept in the observation (K); 1 adds no history (no HistoryWrapper)."""
    max_steps: int | None = Field(default=None, ge=1)
    """Episode length limit; ``None``: the level's (64 one-room GoTo/PickUp, 128 otherwise)."""
    family_weights: dict[str, float] | None = None
    """Paper levels only: relative weight of each task family drawn at reset (uniform if None)."""
    num_distractors: int | None = Field(default=None, ge=0)
    """Paper levels only: distractors in the room (the paper uses 8)."""
    variant: TextVariant = Field(default_factory=lambda: get_variant("none"))
    """Text variant: a preset name (glam_env.VARIANT_NAMES), a mapping, a YAML/JSON file."""
    substitutions: dict[str, str] = Field(default_factory=dict)
    """Extra whole-word substitutions applied to mission, observations and actions."""
    level_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for the level's constructor (e.g. ``room_size``)."""
    noop_penalty: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    """Subtracted from the reward of a step that changes nothing (a blocked ``go
    forward``, a ``pick up`` with nothing to pick...); see ``glam_env.wrappers.noop``.
    Reward shaping, so a change of the task: 0 (off) is the paper's setting."""
    observation: ObservationMode = "text"
    """What the agent observes: "text" (the text game), "symbolic" (MiniGrid's grid
    encoding, direction and mission word ids only, see ``glam_env.symbolic``) or "both"."""

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        return resolve_level_name(value)

    @field_validator("actions", mode="before")
    @classmethod
    def _known_actions(cls, value: Any) -> Any:
        if isinstance(value, str):
            resolve_action_names(value)
            return value
        if isinstance(value, list | tuple):
            return resolve_action_names([str(name) for name in value])
        return value

    @field_validator("variant", mode="before")
    @classmethod
    def _load_variant(cls, value: Any) -> Any:
        if value is None:
            return get_variant("none")
        if isinstance(value, str | Path | Mapping):
            return load_variant(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BabyAITextConfig:
        paper = self.level in PAPER_LEVELS
        if self.family_weights is not None:
            if not paper:
                raise ValueError(
                    f"family_weights only applies to the paper's levels "
                    f"({', '.join(PAPER_LEVELS)}), not to {self.level}"
                )
            family_probabilities(PAPER_LEVELS[self.level].families, self.family_weights)
        if self.num_distractors is not None and not paper:
            raise ValueError(
                f"num_distractors only applies to the paper's levels ({', '.join(PAPER_LEVELS)}); "
                f"for {self.level} pass the level's own keyword in level_kwargs"
            )
        if self.language == "en" and self.variant.language == "fr":
            raise ValueError(
                f"language='en' contradicts the French variant {self.variant.name!r}; "
                "drop one of them"
            )
        return self

    @property
    def resolved_language(self) -> str:
        """The language the environment will speak."""
        if self.language is not None:
            return self.language
        if self.variant.language == "fr":
            return "fr"
        return level_default_language(self.level)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BabyAITextConfig:
        """Validate a mapping (unknown keys are errors)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a BabyAITextConfig needs a mapping, got {type(data).__name__}")
        return cls.model_validate(dict(data))

    @classmethod
    def from_file(cls, path: str | Path) -> BabyAITextConfig:
        """Load a ``.yaml``/``.yml`` or ``.json`` file holding one mapping."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in {".yaml", ".yml", ".json"}:
            raise ValueError(f"config file must end in .yaml, .yml or .json, got {path.name!r}")
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(f"config file {path} must hold a mapping, got {type(data).__name__}")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into an equal config."""
        return self.model_dump(mode="json")
