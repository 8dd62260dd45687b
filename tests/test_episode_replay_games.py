"""Every game glam trains on saves its running episodes by replay (glam_ppo.episode_replay).

A game that drew randomness from elsewhere than its ``np_random`` would fail the
replay's check on resume and fall back to resets; these tests show that none of
the shipped games does, on random play through training's vector envs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from glam_apps.config.schema import GameSection
from glam_apps.games.envs import EnvSpec, make_game_vector_env
from glam_env import BabyAITextConfig
from glam_ppo.episode_replay import restore_vector_replay, vector_replay_states


def _random_actions(env: Any, rng: np.random.Generator, observations: Any) -> np.ndarray:
    """Uniform admissible actions (text games may have fewer than the space's n)."""
    counts = [len(obs["admissible_actions"]) for obs in _split(env, observations)]
    return np.array([rng.integers(0, n) for n in counts])


def _split(env: Any, observations: Any) -> list[dict[str, Any]]:
    from glam_ppo import split_observations

    return split_observations(env.observation_space, observations)


def _check_replay(spec: EnvSpec, steps: int, seed: int = 0) -> None:
    env = make_game_vector_env(spec, num_envs=2)
    rng = np.random.default_rng(seed)
    observations, _ = env.reset(seed=[seed, seed + 1])
    for _ in range(steps):
        observations, *_ = env.step(_random_actions(env, rng, observations))
    states = vector_replay_states(env)
    assert states is not None
    copy = make_game_vector_env(spec, num_envs=2)
    restored = restore_vector_replay(copy, states)
    assert restored == _split(env, observations)
    copy_observations = observations
    for _ in range(steps):
        actions = _random_actions(env, rng, observations)
        observations, rewards, terminated, truncated, _ = env.step(actions)
        copy_observations, copy_rewards, copy_terminated, copy_truncated, _ = copy.step(actions)
        assert _split(env, observations) == _split(copy, copy_observations)
        np.testing.assert_array_equal(rewards, copy_rewards)
        np.testing.assert_array_equal(terminated | truncated, copy_terminated | copy_truncated)
    env.close()
    copy.close()


@pytest.mark.parametrize("level", ["GoToLocal", "MixedTrainLocal", "PickUpSeqGoToLocal"])
def test_babyai_text_levels_replay(level: str) -> None:
    _check_replay(BabyAITextConfig(level=level, history_length=3), steps=70)


def test_babyai_text_variants_replay() -> None:
    _check_replay(BabyAITextConfig(level="GoToFrench", history_length=2), steps=40)
    _check_replay(BabyAITextConfig(level="GoToLocal", variant="synonym_actions_2"), steps=40)


@pytest.mark.parametrize("game", ["BoardGame-Text/TicTacToe-v0", "BoardGame-Text/ConnectFour-v0"])
def test_board_games_replay(game: str) -> None:
    _check_replay(GameSection(gym_id=game, kwargs={"config": {"agent_plays": "random"}}), 25)


def test_textworld_replays(tmp_path: Path) -> None:
    pytest.importorskip("textworld")
    config = {
        "game": "coin_collector",
        "difficulty": {"level": 3},
        "seed": 1,
        "num_games": 2,
        "cache_dir": str(tmp_path),
    }
    _check_replay(GameSection(gym_id="TextWorld/CoinCollector-v0", kwargs={"config": config}), 12)
