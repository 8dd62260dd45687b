"""Environments of a run: BabyAI-Text (``env``) or another registered text game (``game``).

Every game glam_env registers speaks the same text-game protocol, so the policy,
PPO and the evaluation only need a way to build one environment, or a vector of
them, from either section of the config. Gymnasium builds the other games
(``gymnasium.make(gym_id, **kwargs)``); their own configs validate the kwargs, and a
bad value becomes a one-line :class:`~glam_apps.errors.UserError`.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from glam_apps.config.schema import GameSection
from glam_apps.errors import UserError
from glam_env import BabyAITextConfig, make_env, register_other_games
from glam_ppo import EpisodeReplay

#: What an environment section of a run is.
EnvSpec = BabyAITextConfig | GameSection


def env_label(spec: EnvSpec) -> str:
    """The level (BabyAI-Text) or gym id (other games) that reports name."""
    return spec.gym_id if isinstance(spec, GameSection) else spec.level


def make_game(spec: EnvSpec) -> Any:
    """One environment of ``spec``."""
    if not isinstance(spec, GameSection):
        return make_env(spec)
    register_other_games()
    try:
        return gymnasium.make(spec.gym_id, **spec.kwargs)
    except (ValueError, TypeError) as error:
        reason = " ".join(str(error).split())
        raise UserError(f"game {spec.gym_id} with kwargs {spec.kwargs}: {reason}") from error


#: Training envs reset a finished episode within the step that ends it: every row of a
#: rollout is a real transition and every counted env step is one, as in the paper's
#: loop (Gymnasium's default NEXT_STEP mode spends a no-op step on each reset, which
#: glam_ppo does not learn from but which the step count would include).
TRAINING_AUTORESET = AutoresetMode.SAME_STEP


def make_replayable_game(spec: EnvSpec) -> EpisodeReplay:
    """One environment of ``spec`` whose running episode a checkpoint can save.

    Every game glam ships draws its randomness from its ``np_random`` only, so its
    episodes are saved by replay (``glam_ppo.episode_replay``); the replay is
    checked on resume, and a game that fails the check falls back to resets.
    """
    return EpisodeReplay(make_game(spec))


def make_game_vector_env(spec: EnvSpec, num_envs: int, asynchronous: bool = False) -> VectorEnv:
    """``num_envs`` copies of ``spec`` for training (sub-env ``i`` is reset with seed ``s + i``)."""
    make_game(spec).close()  # a bad game fails here, once, with a clear error
    env_fns = [functools.partial(make_replayable_game, spec) for _ in range(num_envs)]
    if asynchronous:  # text observations cannot live in shared memory
        return AsyncVectorEnv(env_fns, shared_memory=False, autoreset_mode=TRAINING_AUTORESET)
    return SyncVectorEnv(env_fns, autoreset_mode=TRAINING_AUTORESET)
