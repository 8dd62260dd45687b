"""Build BabyAI-Text environments from a config: one env, or a Gymnasium vector env."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from glam_env.config import BabyAITextConfig
from glam_env.symbolic import SymbolicObservationWrapper
from glam_env.text_env import BabyAITextEnv
from glam_env.wrappers import HistoryWrapper, NoOpPenaltyWrapper

__all__ = ["as_config", "make_env", "make_vector_env"]

ConfigLike = BabyAITextConfig | Mapping[str, Any] | str | Path | None


def as_config(config: ConfigLike = None, **overrides: Any) -> BabyAITextConfig:
    """A validated config from a config, a mapping, a YAML/JSON path or ``None`` (defaults).

    ``overrides`` replace fields (validated like the rest).
    """
    if config is None:
        data: dict[str, Any] = {}
    elif isinstance(config, BabyAITextConfig):
        if not overrides:
            return config
        data = config.model_dump()
    elif isinstance(config, Mapping):
        data = dict(config)
    elif isinstance(config, str | Path):
        data = BabyAITextConfig.from_file(config).model_dump()
    else:
        raise TypeError(
            "config must be a BabyAITextConfig, a mapping, a path to a YAML/JSON file or None, "
            f"got {type(config).__name__}"
        )
    data.update(overrides)
    return BabyAITextConfig.from_dict(data)


def make_env(
    config: ConfigLike = None, *, render_mode: str | None = None, **overrides: Any
) -> gym.Env[dict[str, Any], int]:
    """One BabyAI-Text environment; wrapped in ``HistoryWrapper`` when ``history_length > 1``.

    ``observation="symbolic"`` or ``"both"`` adds ``SymbolicObservationWrapper``
    (``glam_env.symbolic``); then ``history_length`` K > 1 also stacks the last K
    grids, and "symbolic" keeps no text history (its observation has no text).
    """
    cfg = as_config(config, **overrides)
    env: gym.Env[dict[str, Any], int] = BabyAITextEnv(
        cfg.level,
        language=cfg.language,
        actions=cfg.actions,
        variant=cfg.variant,
        substitutions=cfg.substitutions,
        max_steps=cfg.max_steps,
        family_weights=cfg.family_weights,
        num_distractors=cfg.num_distractors,
        level_kwargs=cfg.level_kwargs,
        render_mode=render_mode,
    )
    if cfg.noop_penalty:
        env = NoOpPenaltyWrapper(env, cfg.noop_penalty)
    if cfg.history_length > 1 and cfg.observation != "symbolic":
        env = HistoryWrapper(env, num_observations=cfg.history_length)
    if cfg.observation != "text":
        env = SymbolicObservationWrapper(env, cfg.observation, cfg.history_length)
    return env


def make_vector_env(
    config: ConfigLike = None,
    num_envs: int = 1,
    asynchronous: bool = False,
    *,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    **overrides: Any,
) -> VectorEnv:
    """``num_envs`` copies of ``make_env(config)`` in a Gymnasium vector env.

    Seeding: ``vec.reset(seed=s)`` resets sub-env ``i`` with seed ``s + i``
    (Gymnasium's rule), so one seed gives every sub-env a distinct, reproducible
    episode stream; ``reset(seed=[...])`` gives explicit seeds. ``asynchronous``
    runs each sub-env in its own process (without shared memory: text
    observations cannot live in it). ``autoreset_mode`` is Gymnasium's (the
    default, next-step, resets a finished sub-env on the following ``step``).
    """
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    cfg = as_config(config, **overrides)
    mode = AutoresetMode(autoreset_mode)
    env_fns = [functools.partial(make_env, cfg) for _ in range(num_envs)]
    if asynchronous:
        return AsyncVectorEnv(env_fns, shared_memory=False, autoreset_mode=mode)
    return SyncVectorEnv(env_fns, autoreset_mode=mode)
