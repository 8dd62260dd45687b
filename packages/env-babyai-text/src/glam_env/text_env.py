"""``BabyAITextEnv``: any MiniGrid/BabyAI level as a text game (see ``glam_env.protocol``).

The wrapped MiniGrid environment does all the simulation; this class only turns
its output into text and the agent's action index back into a MiniGrid action:

* the observation text is described from the encoded view MiniGrid already
  computed for its own observation (``obs["image"]``), so a step costs one
  MiniGrid step plus a table lookup per visible cell, never a second view;
* the mission, every sentence and every action string go through the same
  :class:`~glam_env.variants.TextVariant`, so a generalization preset (or French)
  changes all three consistently;
* misuse fails loudly: an index outside the admissible actions, ``step`` before
  ``reset`` or after the episode ended, an unknown level.

Rewards and episode ends are MiniGrid's: ``1 - 0.9 * t / max_steps`` on success
(``terminated``), 0 otherwise; ``truncated`` at ``max_steps``.
"""

from __future__ import annotations

import enum
import numbers
import string
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from minigrid.minigrid_env import MiniGridEnv

from glam_env.actions import minigrid_actions, resolve_action_names
from glam_env.errors import EpisodeEndedError, InvalidActionError, ResetNeededError
from glam_env.levels import build_level, level_default_language, resolve_level_name
from glam_env.levels.quiet import silence_generation
from glam_env.protocol import ADMISSIBLE_ACTIONS, MAX_TEXT_LENGTH, MISSION, OBSERVATION, SUCCESS
from glam_env.variants import TextVariant, get_variant, load_variant

__all__ = ["BabyAITextEnv", "resolve_text_variant"]

#: Characters the Text spaces accept besides those of the configured words.
_BASE_CHARSET = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " "
    + "àâäæçéèêëîïôöœùûüÿÀÂÄÆÇÉÈÊËÎÏÔÖŒÙÛÜŸ"  # French
)


class _Phase(enum.Enum):
    NEEDS_RESET = "needs reset"
    RUNNING = "running"
    ENDED = "ended"


def resolve_text_variant(
    variant: str | Mapping[str, Any] | TextVariant | None,
    language: str | None,
    level_language: str,
    substitutions: Mapping[str, str] | None = None,
) -> TextVariant:
    """The one variant that produces every text of an environment.

    ``language=None`` takes the variant's language, else the level's. French
    on top of a non-French variant keeps that variant's substitutions and action
    names (when it has some) and adds the French ones; ``substitutions`` are
    merged last (they win over the variant's for the same word).
    """
    base = get_variant("none") if variant is None else load_variant(variant)
    if language is None:
        language = "fr" if base.language == "fr" else level_language
    if language not in ("en", "fr"):
        raise ValueError(f"language must be 'en' or 'fr', got {language!r}")
    if language == "en" and base.language == "fr":
        raise ValueError(f"language='en' contradicts the French variant {base.name!r}")
    if language == "fr" and base.language != "fr":
        french = get_variant("french")
        base = TextVariant(
            name="french" if base.name == "none" else f"{base.name}+french",
            language="fr",
            action_names=base.action_names or french.action_names,
            substitutions={**french.substitutions, **base.substitutions},
            plurals=False,
        )
    if substitutions:
        fields = base.model_dump()
        fields["substitutions"] = {**fields["substitutions"], **dict(substitutions)}
        base = TextVariant(**fields)
    return base


def _text_space(words: Sequence[str]) -> spaces.Text:
    charset = set(_BASE_CHARSET)
    for word in words:
        charset.update(word)
    return spaces.Text(max_length=MAX_TEXT_LENGTH, min_length=0, charset=frozenset(charset))


class BabyAITextEnv(gym.Env[dict[str, Any], int]):
    """A MiniGrid level played through text (the paper's BabyAI-Text).

    Args:
        level: a level name (``glam_env.list_levels()``) or a MiniGrid environment
            instance (or a Gymnasium wrapper of one), e.g.
            ``gymnasium.make("BabyAI-GoToLocal-v0")``.
        language: "en" or "fr"; ``None`` takes the variant's, else the level's.
        actions: action preset ("paper6", "move3", "extended9") or action names.
        variant: text variant (preset name, mapping, file or ``TextVariant``).
        substitutions: extra whole-word substitutions for every text.
        max_steps: episode length limit (default: the level's).
        family_weights, num_distractors, level_kwargs: construction options of a
            level given by name (see ``BabyAITextConfig``).
        render_mode: "ansi" (the texts) or "rgb_array" (MiniGrid's frame).

    Observation: ``{"mission": str, "observation": str, "admissible_actions": tuple[str, ...]}``.
    Info: ``admissible_actions`` (list), ``sentences`` (list), ``family`` (paper levels),
    and ``success`` on the step that ends an episode.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 10}

    def __init__(
        self,
        level: str | MiniGridEnv | gym.Env[Any, Any] = "MixedTrainLocal",
        *,
        language: str | None = None,
        actions: str | Sequence[str] = "paper6",
        variant: str | Mapping[str, Any] | TextVariant | None = None,
        substitutions: Mapping[str, str] | None = None,
        max_steps: int | None = None,
        family_weights: Mapping[str, float] | None = None,
        num_distractors: int | None = None,
        level_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        if max_steps is not None and (
            isinstance(max_steps, bool)
            or not isinstance(max_steps, numbers.Integral)
            or max_steps < 1
        ):
            raise ValueError(f"max_steps must be an integer >= 1 or None, got {max_steps!r}")
        self.render_mode = render_mode
        if isinstance(level, str):
            self.level_name = resolve_level_name(level)
            level_language = level_default_language(self.level_name)
            self._env: gym.Env[Any, Any] = build_level(
                self.level_name,
                max_steps=max_steps,
                family_weights=dict(family_weights) if family_weights is not None else None,
                num_distractors=num_distractors,
                render_mode="rgb_array" if render_mode == "rgb_array" else None,
                **dict(level_kwargs or {}),
            )
        else:
            self._env = level
            if family_weights is not None or num_distractors is not None or level_kwargs:
                raise ValueError(
                    "family_weights, num_distractors and level_kwargs configure a level built "
                    "by name; with an environment instance, build it with them yourself"
                )
            base = getattr(level, "unwrapped", None)
            if not isinstance(base, MiniGridEnv):
                raise TypeError(
                    "level must be a level name or a MiniGridEnv (or a wrapper of one), "
                    f"got {type(level).__name__}"
                )
            self.level_name = type(base).__name__
            level_language = getattr(base, "default_language", "en")
            silence_generation(base)
            if max_steps is not None:
                base.max_steps = int(max_steps)
                base.fixed_max_steps = True  # RoomGridLevel: keep it at reset
        self._base: MiniGridEnv = self._env.unwrapped  # type: ignore[assignment]

        self.variant = resolve_text_variant(variant, language, level_language, substitutions)
        self.language: str = self.variant.language
        #: Canonical (English) names of the actions, in index order.
        self.action_names: tuple[str, ...] = resolve_action_names(actions)
        #: MiniGrid action played for each index.
        self.minigrid_actions: tuple[int, ...] = minigrid_actions(self.action_names)
        self._admissible: tuple[str, ...] = self.variant.actions(self.action_names)
        if len(set(self._admissible)) != len(self._admissible):
            raise ValueError(
                f"the text variant makes two actions read the same: {list(self._admissible)}"
            )

        words = [*self._admissible, *self.variant.substitutions.values()]
        text = _text_space(words)
        self.observation_space = spaces.Dict(
            {
                MISSION: text,
                OBSERVATION: text,
                ADMISSIBLE_ACTIONS: spaces.Sequence(text),
            }
        )
        self.action_space = spaces.Discrete(len(self._admissible))
        self._num_actions = len(self._admissible)

        self._view_shape = (self._base.agent_view_size, self._base.agent_view_size, 3)
        self._phase = _Phase.NEEDS_RESET
        self._raw_mission: str | None = None
        self._mission = ""
        self._observation = ""
        #: Number of resets so far (lets an expert notice a new episode).
        self.episode_index = 0
        #: MiniGrid action of the last step (``None`` right after reset).
        self.last_minigrid_action: int | None = None

    # ------------------------------------------------------------------ protocol
    @property
    def admissible_actions(self) -> tuple[str, ...]:
        """The action strings, index i is action i (fixed for BabyAI)."""
        return self._admissible

    @property
    def mission(self) -> str:
        """The current mission text (after variant and language)."""
        return self._mission

    @property
    def minigrid_env(self) -> MiniGridEnv:
        """The MiniGrid environment being played (unwrapped)."""
        return self._base

    @property
    def episode_running(self) -> bool:
        """Whether ``step`` may be called now (reset done, episode not ended)."""
        return self._phase is _Phase.RUNNING

    @property
    def family(self) -> str | None:
        """Task family of the current episode for the paper's levels, else ``None``."""
        return getattr(self._base, "family", None)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        obs, _ = self._env.reset(seed=seed, options=options)
        # One generator for the game: the text layer draws nothing of its own.
        self._np_random = self._base.np_random
        self._phase = _Phase.RUNNING
        self.episode_index += 1
        self.last_minigrid_action = None
        sentences = self._read(obs)
        return self._observation_dict(), self._info(sentences)

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._phase is not _Phase.RUNNING:
            if self._phase is _Phase.NEEDS_RESET:
                raise ResetNeededError("step() called before reset(): call env.reset() first")
            raise EpisodeEndedError(
                "step() called after the episode ended (terminated or truncated): "
                "call env.reset() to start a new episode"
            )
        if type(action) is int and 0 <= action < self._num_actions:
            index = action  # fast path of the usual call
        else:
            index = self._action_index(action)
        minigrid_action = self.minigrid_actions[index]
        obs, reward, terminated, truncated, _ = self._env.step(minigrid_action)
        self.last_minigrid_action = minigrid_action
        sentences = self._read(obs)
        info = self._info(sentences)
        if terminated or truncated:
            self._phase = _Phase.ENDED
            info[SUCCESS] = bool(terminated and reward > 0)
        return self._observation_dict(), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> str | np.ndarray | None:  # type: ignore[override]
        if self.render_mode == "ansi":
            return f"{self._mission}\n{self._observation}"
        if self.render_mode == "rgb_array":
            base = self._base
            return base.get_frame(base.highlight, base.tile_size, base.agent_pov)
        return None

    def close(self) -> None:
        self._env.close()
        super().close()

    # ------------------------------------------------------------------ internals
    def _action_index(self, action: Any) -> int:
        if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
            action = action.item()
        if isinstance(action, bool | np.bool_) or not isinstance(action, numbers.Integral):
            raise InvalidActionError(
                f"the action must be an integer index into the {len(self._admissible)} "
                f"admissible actions {list(self._admissible)}, got {action!r} "
                f"({type(action).__name__})"
            )
        index = int(action)
        if not 0 <= index < len(self._admissible):
            raise InvalidActionError(
                f"action index {index} is out of range: there are {len(self._admissible)} "
                f"admissible actions (0..{len(self._admissible) - 1}): {list(self._admissible)}"
            )
        return index

    def _read(self, obs: Any) -> list[str]:
        """Update mission and observation texts from MiniGrid's observation."""
        raw_mission = self._base.mission
        if raw_mission is not self._raw_mission:
            self._raw_mission = raw_mission
            self._mission = self.variant.mission(raw_mission)
        image = obs.get("image") if isinstance(obs, dict) else None
        if image is None or image.shape != self._view_shape:
            # A wrapper changed MiniGrid's observation: ask MiniGrid for the agent's view.
            image = self._base.gen_obs()["image"]
        sentences = self.variant.sentences(image)
        self._observation = ", ".join(sentences)
        return sentences

    def _observation_dict(self) -> dict[str, Any]:
        return {
            MISSION: self._mission,
            OBSERVATION: self._observation,
            ADMISSIBLE_ACTIONS: self._admissible,
        }

    def _info(self, sentences: list[str]) -> dict[str, Any]:
        info: dict[str, Any] = {ADMISSIBLE_ACTIONS: list(self._admissible), "sentences": sentences}
        family = getattr(self._base, "family", None)
        if family is not None:
            info["family"] = family
        return info
