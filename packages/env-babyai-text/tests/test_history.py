"""HistoryWrapper on a tiny fake text game that follows glam_env.protocol."""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import SyncVectorEnv

from glam_env.protocol import (
    ACTION_HISTORY,
    ADMISSIBLE_ACTIONS,
    MAX_TEXT_LENGTH,
    MISSION,
    OBSERVATION,
    OBSERVATION_HISTORY,
)
from glam_env.wrappers import HistoryWrapper

CHARSET = frozenset(string.ascii_letters + string.digits + " ,.'-àâçéèêëîïôûùü")


def text_space() -> spaces.Text:
    return spaces.Text(MAX_TEXT_LENGTH, min_length=0, charset=CHARSET)


class FakeTextGame(gym.Env[dict[str, Any], int]):
    """Three actions whose names change every step (like TextWorld); ends after 4 steps."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(self) -> None:
        self.observation_space = spaces.Dict(
            {
                MISSION: text_space(),
                OBSERVATION: text_space(),
                ADMISSIBLE_ACTIONS: spaces.Sequence(text_space()),
            }
        )
        self.action_space = spaces.Discrete(3)
        self._t = -1
        self._room = 0

    def _names(self) -> tuple[str, ...]:
        return (f"north {self._t}", f"south {self._t}", f"wait {self._t}")

    @property
    def admissible_actions(self) -> tuple[str, ...]:
        return self._names()

    def _obs(self) -> dict[str, Any]:
        return {
            MISSION: "find the exit",
            OBSERVATION: f"room {self._room} step {self._t}",
            ADMISSIBLE_ACTIONS: self._names(),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self._room = int(self.np_random.integers(0, 100))
        return self._obs(), {ADMISSIBLE_ACTIONS: list(self._names())}

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._t < 0:
            raise RuntimeError("step before reset")
        if not 0 <= int(action) < 3:
            raise ValueError(f"action index {action} out of range 0..2")
        self._room += int(action)
        self._t += 1
        terminated = self._t >= 4
        return self._obs(), float(terminated), terminated, False, {}


class NoAttributeGame(FakeTextGame):
    """A game exposing the admissible actions only in its observations."""

    def __getattribute__(self, name: str) -> Any:
        if name == "admissible_actions":
            raise AttributeError(name)
        return super().__getattribute__(name)


def test_reset_gives_only_the_current_observation() -> None:
    env = HistoryWrapper(FakeTextGame())
    obs, _ = env.reset(seed=1)
    assert obs[OBSERVATION_HISTORY] == (obs[OBSERVATION],)
    assert obs[ACTION_HISTORY] == ()
    assert obs in env.observation_space


def test_sliding_window_of_three_observations_and_two_actions() -> None:
    env = HistoryWrapper(FakeTextGame(), num_observations=3)
    obs, _ = env.reset(seed=1)
    room = int(obs[OBSERVATION].split()[1])
    seen = [obs[OBSERVATION]]
    obs, *_ = env.step(1)  # "south 0"
    seen.append(obs[OBSERVATION])
    assert obs[OBSERVATION_HISTORY] == tuple(seen)
    assert obs[ACTION_HISTORY] == ("south 0",)
    obs, *_ = env.step(2)  # "wait 1"
    obs, *_ = env.step(0)  # "north 2"
    assert obs[OBSERVATION_HISTORY] == (
        f"room {room + 1} step 1",
        f"room {room + 3} step 2",
        f"room {room + 3} step 3",
    )
    assert obs[ACTION_HISTORY] == ("wait 1", "north 2")
    assert obs[OBSERVATION_HISTORY][-1] == obs[OBSERVATION]
    assert obs in env.observation_space


def test_numpy_integer_actions_are_recorded() -> None:
    env = HistoryWrapper(FakeTextGame(), num_observations=2)
    env.reset(seed=0)
    obs, *_ = env.step(np.int64(2))
    assert obs[ACTION_HISTORY] == ("wait 0",)


def test_one_observation_keeps_no_action() -> None:
    env = HistoryWrapper(FakeTextGame(), num_observations=1)
    env.reset(seed=0)
    obs, *_ = env.step(0)
    obs, *_ = env.step(1)
    assert obs[OBSERVATION_HISTORY] == (obs[OBSERVATION],)
    assert obs[ACTION_HISTORY] == ()


def test_history_is_cleared_at_reset() -> None:
    env = HistoryWrapper(FakeTextGame(), num_observations=3)
    env.reset(seed=0)
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(0)
    obs, _ = env.reset(seed=5)
    assert obs[OBSERVATION_HISTORY] == (obs[OBSERVATION],)
    assert obs[ACTION_HISTORY] == ()


def test_wrapped_observation_is_a_new_dict() -> None:
    game = FakeTextGame()
    env = HistoryWrapper(game)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {MISSION, OBSERVATION, ADMISSIBLE_ACTIONS, OBSERVATION_HISTORY,
                        ACTION_HISTORY}  # fmt: skip
    assert OBSERVATION_HISTORY not in game._obs()


def test_actions_read_from_observation_when_env_has_no_attribute() -> None:
    env = HistoryWrapper(NoAttributeGame(), num_observations=3)
    env.reset(seed=0)
    env.step(1)
    obs, *_ = env.step(0)
    assert obs[ACTION_HISTORY] == ("south 0", "north 1")


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
def test_passes_gymnasium_env_checker() -> None:
    check_env(HistoryWrapper(FakeTextGame()), skip_render_check=True)


def test_sync_vector_env_keeps_one_history_per_env_and_clears_on_autoreset() -> None:
    envs = SyncVectorEnv([lambda: HistoryWrapper(FakeTextGame(), 3) for _ in range(2)])
    obs, _ = envs.reset(seed=[10, 20])
    assert [len(history) for history in obs[OBSERVATION_HISTORY]] == [1, 1]
    for _ in range(4):
        obs, _, terminated, _, _ = envs.step(np.array([0, 1]))
    assert terminated.tolist() == [True, True]
    assert obs[ACTION_HISTORY][0] == ("north 2", "north 3")
    assert obs[ACTION_HISTORY][1] == ("south 2", "south 3")
    assert obs[OBSERVATION_HISTORY][1][-1] == obs[OBSERVATION][1]
    obs, *_ = envs.step(np.array([0, 0]))  # next-step autoreset: a fresh episode
    assert [len(history) for history in obs[OBSERVATION_HISTORY]] == [1, 1]
    assert obs[ACTION_HISTORY] == ((), ())
    envs.close()


@pytest.mark.parametrize("bad", [0, -2])
def test_num_observations_below_one_fails(bad: int) -> None:
    with pytest.raises(ValueError, match="num_observations must be >= 1"):
        HistoryWrapper(FakeTextGame(), num_observations=bad)


@pytest.mark.parametrize("bad", [2.5, True, "3", None])
def test_num_observations_must_be_an_integer(bad: object) -> None:
    with pytest.raises(TypeError, match="num_observations must be an integer"):
        HistoryWrapper(FakeTextGame(), num_observations=bad)  # type: ignore[arg-type]


def test_step_before_reset_fails() -> None:
    with pytest.raises(RuntimeError, match="before reset"):
        HistoryWrapper(FakeTextGame()).step(0)


def test_out_of_range_action_fails_in_the_env() -> None:
    env = HistoryWrapper(FakeTextGame())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="out of range"):
        env.step(7)


def test_non_text_game_is_refused() -> None:
    with pytest.raises(TypeError, match="observation_space is a gymnasium Dict"):
        HistoryWrapper(gym.make("CartPole-v1"))


def test_wrapping_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="wrapped in HistoryWrapper twice"):
        HistoryWrapper(HistoryWrapper(FakeTextGame()))
