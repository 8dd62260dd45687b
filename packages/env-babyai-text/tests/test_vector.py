"""Gymnasium vector envs of BabyAI-Text, synchronous and asynchronous."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

from glam_env import (
    ACTION_HISTORY,
    MISSION,
    MIXED_FAMILIES,
    OBSERVATION_HISTORY,
    BabyAITextConfig,
    make_env,
    make_vector_env,
)

CONFIG = BabyAITextConfig(level="MixedTrainLocal")


def _single(seed: int) -> tuple[str, str]:
    obs, _ = make_env(CONFIG).reset(seed=seed)
    return obs[MISSION], obs["observation"]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_one_seed_seeds_every_sub_env_distinctly(asynchronous: bool) -> None:
    num_envs = 3 if not asynchronous else 2
    envs = make_vector_env(CONFIG, num_envs, asynchronous=asynchronous)
    try:
        assert isinstance(envs, AsyncVectorEnv if asynchronous else SyncVectorEnv)
        obs, info = envs.reset(seed=7)
        expected = [_single(7 + i) for i in range(num_envs)]  # sub-env i gets seed 7 + i
        assert list(zip(obs[MISSION], obs["observation"], strict=True)) == expected
        assert len(set(obs["observation"])) == num_envs
        again, _ = envs.reset(seed=7)
        assert again[MISSION] == obs[MISSION]
        obs, reward, terminated, truncated, info = envs.step(np.array([2] * num_envs))
        assert reward.shape == terminated.shape == truncated.shape == (num_envs,)
        assert all(actions == ("go forward",) for actions in obs[ACTION_HISTORY])
        assert set(info["family"]) <= set(MIXED_FAMILIES)
    finally:
        envs.close()


def test_finished_sub_envs_reset_and_clear_their_history() -> None:
    envs = make_vector_env(CONFIG, 2, max_steps=3)
    envs.reset(seed=0)
    for _ in range(3):
        _, _, _, truncated, _ = envs.step(np.array([0, 1]))
    assert truncated.all()
    obs, _, _, _, _ = envs.step(np.array([0, 1]))  # next-step autoreset
    assert all(len(history) == 1 for history in obs[OBSERVATION_HISTORY])


@pytest.mark.parametrize("num_envs", [0, -2, 1.5, True])
def test_bad_num_envs(num_envs: object) -> None:
    with pytest.raises(ValueError, match="num_envs must be an integer >= 1"):
        make_vector_env(CONFIG, num_envs)  # type: ignore[arg-type]
