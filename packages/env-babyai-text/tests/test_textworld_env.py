"""TextWorld games generated locally and played through the text-game protocol.

Generating a game takes seconds (TextWorld's generator plus the Inform 7
compiler shipped in its wheel), so one session fixture generates a pool of two
small coin-collector games into a temporary cache that every test reuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

pytest.importorskip("textworld", reason="needs the textworld extra")

from glam_env.errors import EpisodeEndedError, InvalidActionError, ResetNeededError
from glam_env.protocol import ADMISSIBLE_ACTIONS, MISSION, OBSERVATION, SUCCESS
from glam_env.textworld import (
    GameGenerationError,
    TextWorldConfig,
    TextWorldEnv,
    TooManyActionsError,
    build_game,
    generate_game,
    register_textworld_envs,
)
from glam_env.textworld.generate import GAME_FILE

LEVEL = 3  # three-step quest: go, go, take coin (enough rooms for the commands to vary)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("textworld-cache")


@pytest.fixture(scope="session")
def pool(cache_dir: Path) -> dict[str, Any]:
    """Two coin collectors (seeds 1 and 2), generated once for the session."""
    return {
        "game": "coin_collector",
        "difficulty": {"level": LEVEL},
        "seed": 1,
        "num_games": 2,
        "cache_dir": str(cache_dir),
    }


@pytest.fixture
def env(pool: dict[str, Any]) -> TextWorldEnv:
    game = TextWorldEnv({**pool, "num_games": 1})
    yield game
    game.close()


def _play(env: TextWorldEnv) -> list[tuple[dict[str, Any], float, bool, bool, dict[str, Any]]]:
    steps = []
    while True:
        steps.append(env.step(env.expert_action()))
        if steps[-1][2] or steps[-1][3]:
            return steps


def test_generation_fills_the_cache_atomically_and_is_reused(
    pool: dict[str, Any], cache_dir: Path
) -> None:
    config = TextWorldConfig.from_dict(pool)
    first = generate_game(config, 1)
    folders = sorted(p.name for p in cache_dir.iterdir())
    assert all(not name.startswith(".") for name in folders)  # no temporary folder left
    assert first.name == GAME_FILE and first.with_suffix(".json").is_file()
    assert not list(first.parent.glob("*.ni"))
    spec = json.loads((first.parent / "spec.json").read_text())
    assert spec["challenge"] == "tw-coin_collector" and spec["seed"] == 1
    assert spec["settings"] == {"level": LEVEL}
    mtime = first.stat().st_mtime_ns
    assert generate_game(config, 1) == first and first.stat().st_mtime_ns == mtime


def test_same_seed_same_game(pool: dict[str, Any]) -> None:
    # (other seeds give other games: see test_pool_draws_games_from_the_reset_seed)
    config = TextWorldConfig.from_dict({**pool, "game": "treasure_hunter", "difficulty": {}})
    assert build_game(config, 5).serialize() == build_game(config, 5).serialize()


def test_reset_follows_the_protocol(env: TextWorldEnv) -> None:
    obs, info = env.reset(seed=0)
    assert set(obs) == {MISSION, OBSERVATION, ADMISSIBLE_ACTIONS}
    assert obs in env.observation_space
    assert "coin" in obs[MISSION]
    assert obs[MISSION] not in obs[OBSERVATION]  # the objective is the mission, not repeated
    for leftover in ("$$", ">", "-= " + "Cookhouse =-0/1", "RESTART"):
        assert leftover not in obs[OBSERVATION]
    assert obs[OBSERVATION].startswith("-= ")  # the room header stays
    assert isinstance(obs[ADMISSIBLE_ACTIONS], tuple) and "look" in obs[ADMISSIBLE_ACTIONS]
    assert info[ADMISSIBLE_ACTIONS] == list(obs[ADMISSIBLE_ACTIONS])
    assert info["action_mask"].sum() == len(obs[ADMISSIBLE_ACTIONS])
    assert info["max_score"] == 1 and info["score"] == 0


def test_winning_path_terminates_with_the_score_as_reward(env: TextWorldEnv) -> None:
    obs, _ = env.reset(seed=0)
    admissible_sets = {obs[ADMISSIBLE_ACTIONS]}
    steps = _play(env)
    admissible_sets |= {step[0][ADMISSIBLE_ACTIONS] for step in steps}
    assert len(admissible_sets) > 1  # the admissible commands change with the state
    assert len({len(a) for a in admissible_sets}) > 1  # ... and so does their number
    assert len(steps) == len(env.walkthrough) == LEVEL
    rewards = [step[1] for step in steps]
    assert rewards == [0.0] * (LEVEL - 1) + [1.0]
    *_, (obs, _, terminated, truncated, info) = steps
    assert terminated and not truncated
    assert info[SUCCESS] is True and info["won"] and info["score"] == 1
    assert obs in env.observation_space
    with pytest.raises(EpisodeEndedError):
        env.step(0)


def test_step_limit_truncates(pool: dict[str, Any]) -> None:
    env = TextWorldEnv({**pool, "num_games": 1, "max_episode_steps": 2})
    obs, _ = env.reset(seed=0)
    look = obs[ADMISSIBLE_ACTIONS].index("look")
    _, reward, terminated, truncated, info = env.step(look)
    assert (reward, terminated, truncated) == (0.0, False, False) and SUCCESS not in info
    _, reward, terminated, truncated, info = env.step(look)
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info[SUCCESS] is False
    env.close()


def test_bad_actions_raise(env: TextWorldEnv) -> None:
    with pytest.raises(ResetNeededError):
        env.step(0)
    obs, _ = env.reset(seed=0)
    count = len(obs[ADMISSIBLE_ACTIONS])
    with pytest.raises(InvalidActionError, match=f"valid indices are 0..{count - 1}"):
        env.step(count)
    with pytest.raises(InvalidActionError, match="integer index"):
        env.step("look")  # type: ignore[arg-type]
    with pytest.raises(InvalidActionError):
        env.step(-1)


def test_pool_draws_games_from_the_reset_seed(pool: dict[str, Any]) -> None:
    env = TextWorldEnv(pool)
    assert len(env.game_files) == 2 and env.game_files[0] != env.game_files[1]
    picks = [env.reset(seed=seed)[1]["game_index"] for seed in range(12)]
    assert set(picks) == {0, 1}
    assert picks == [env.reset(seed=seed)[1]["game_index"] for seed in range(12)]
    missions = {env.reset(options={"game_index": i})[0][MISSION] for i in (0, 1)}
    assert len(missions) == 2
    with pytest.raises(ValueError, match=r"game_index'\] must be an integer in \[0, 1\]"):
        env.reset(options={"game_index": 2})
    env.close()


def test_too_many_commands_for_the_action_space_is_an_error(pool: dict[str, Any]) -> None:
    env = TextWorldEnv({**pool, "num_games": 1, "max_actions": 2})
    with pytest.raises(TooManyActionsError, match="admissible commands but max_actions=2"):
        env.reset(seed=0)
    env.close()


def test_action_space_samples_admissible_indices(env: TextWorldEnv) -> None:
    obs, _ = env.reset(seed=0)
    env.action_space.seed(3)
    samples = {int(env.action_space.sample()) for _ in range(50)}
    assert samples == set(range(len(obs[ADMISSIBLE_ACTIONS])))


def test_registered_id_passes_gymnasium_check_env(pool: dict[str, Any]) -> None:
    register_textworld_envs()
    env = gym.make("TextWorld/CoinCollector-v0", config={**pool, "num_games": 1})
    assert env.unwrapped.config.difficulty == {"level": LEVEL}
    check_env(env.unwrapped)
    env.close()
    with pytest.raises(ValueError, match="plays 'coin_collector' but its config asks for 'simple'"):
        gym.make("TextWorld/CoinCollector-v0", config={"game": "simple"})


def test_generation_failure_names_the_settings(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import textworld.challenges

    def broken(settings: dict[str, Any], options: Any) -> None:
        raise AssertionError("no quest")

    name = "tw-treasure_hunter"
    desc, _, arguments = textworld.challenges.CHALLENGES[name]
    monkeypatch.setitem(textworld.challenges.CHALLENGES, name, (desc, broken, arguments))
    config = TextWorldConfig.from_dict({**pool, "game": "treasure_hunter", "difficulty": {}})
    with pytest.raises(
        GameGenerationError, match=r"tw-treasure_hunter with settings \{'level': 1\}"
    ):
        generate_game(config, 9)
    assert not [p for p in Path(pool["cache_dir"]).iterdir() if "treasure" in p.name]


def test_taking_the_wrong_object_loses_a_treasure_hunt(cache_dir: Path) -> None:
    """Treasure hunter level 1: another object lies in the rooms; taking it loses the game."""
    env = TextWorldEnv(
        {"game": "treasure_hunter", "seed": 1, "cache_dir": str(cache_dir), "max_episode_steps": 40}
    )
    rng = np.random.default_rng(0)
    lost_step = None
    for episode in range(10):
        obs, _ = env.reset(seed=episode)
        target = env.walkthrough[-1]
        done = False
        while not done:
            moves = [
                index
                for index, command in enumerate(obs[ADMISSIBLE_ACTIONS])
                if command != target and command.startswith(("go ", "take ", "open "))
            ]
            obs, reward, terminated, truncated, info = env.step(int(rng.choice(moves)))
            done = terminated or truncated
        if info["lost"]:
            lost_step = (obs, reward, terminated, truncated, info)
            break
    env.close()
    assert lost_step is not None, "the random walk never took the wrong object"
    obs, reward, terminated, truncated, info = lost_step
    assert terminated and not truncated and reward == 0.0
    assert info[SUCCESS] is False and not info["won"]
    assert "You lost" in obs[OBSERVATION]
