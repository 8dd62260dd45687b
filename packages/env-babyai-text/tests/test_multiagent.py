"""Our text games as PettingZoo environments: N copies in parallel, board games with 2 players."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

pytest.importorskip("pettingzoo", reason="needs the pettingzoo extra")

from pettingzoo.test import (
    api_test,
    parallel_api_test,
    parallel_seed_test,
    seed_test,
)

import glam_env
from glam_env.board_games import register_board_game_envs
from glam_env.board_games.shared import (
    AdmissibleDiscrete,
    action_mask,
    check_action_index,
    text_observation_space,
)
from glam_env.multiagent import (
    BoardGameTextAEC,
    TextGamesParallelEnv,
    board_game_aec_env,
    board_game_parallel_env,
    text_games_aec_env,
)
from glam_env.protocol import ADMISSIBLE_ACTIONS, MISSION, OBSERVATION, SUCCESS


class CountdownGame(gym.Env[dict[str, Any], int]):
    """Bring a counter (drawn from the seed) to zero; one to three subtractions admissible."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(self, render_mode: str | None = None, limit: int = 6) -> None:
        self.render_mode = render_mode
        self.limit = limit
        self.observation_space = text_observation_space(3)
        self.action_space = AdmissibleDiscrete(3)
        self.counter = 0
        self.steps = 0

    def _admissible(self) -> tuple[str, ...]:
        return tuple(f"subtract {k}" for k in (1, 2, 3) if k <= self.counter)

    def _out(self) -> tuple[dict[str, Any], dict[str, Any]]:
        admissible = self._admissible() or ("wait",)
        self.action_space.set_num_admissible(len(admissible))
        obs = {MISSION: "reach zero", OBSERVATION: f"the counter is {self.counter}"}
        obs[ADMISSIBLE_ACTIONS] = admissible
        info = {
            ADMISSIBLE_ACTIONS: list(admissible),
            "action_mask": action_mask(len(admissible), 3),
        }
        return obs, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.counter = int(self.np_random.integers(1, 9))
        self.steps = 0
        return self._out()

    def step(self, action: int):
        admissible = self._admissible()
        self.counter -= int(check_action_index(action, admissible)) + 1
        self.steps += 1
        terminated = self.counter == 0
        truncated = not terminated and self.steps >= self.limit
        obs, info = self._out()
        if terminated or truncated:
            info[SUCCESS] = terminated
        return obs, float(terminated), terminated, truncated, info

    def render(self) -> str:
        return f"counter {self.counter}"


def _quiet(test: Any, *args: Any, **kwargs: Any) -> None:
    """Run a PettingZoo test; its warnings are advice for numeric observations."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        test(*args, **kwargs)


# ---- N agents, each in its own copy of a text game ------------------------------------------


@pytest.mark.parametrize(
    ("env", "kwargs"),
    [
        (CountdownGame, {}),
        ("BoardGame-Text/TicTacToe-v0", {"config": {"agent_plays": "random"}}),
        ("BoardGame-Text/ConnectFour-v0", {}),
        ("BabyAI-Text/GoToLocal-v0", {}),
    ],
    ids=["fake", "tictactoe", "connect_four", "babyai_text"],
)
def test_parallel_copies_pass_pettingzoo_tests(env: Any, kwargs: dict[str, Any]) -> None:
    register_board_game_envs()
    make = (
        (lambda: TextGamesParallelEnv(env, 3, env_kwargs=kwargs))
        if kwargs
        else (lambda: TextGamesParallelEnv(env, 3))
    )
    _quiet(parallel_api_test, make(), num_cycles=70)
    _quiet(parallel_seed_test, make, num_cycles=30)


def test_parallel_observations_follow_the_protocol_with_a_mask() -> None:
    env = TextGamesParallelEnv(CountdownGame, 4)
    observations, _ = env.reset(seed=3)
    assert env.agents == ["agent_0", "agent_1", "agent_2", "agent_3"]
    counters = {obs[OBSERVATION] for obs in observations.values()}
    assert len(counters) > 1  # each copy has its own seed
    for agent, obs in observations.items():
        assert obs in env.observation_space(agent)
        assert obs["action_mask"].tolist() == action_mask(len(obs[ADMISSIBLE_ACTIONS]), 3).tolist()
        assert isinstance(obs[OBSERVATION], str)
        assert obs[OBSERVATION].dtype == np.dtype(str)  # what PettingZoo's api_test reads
    again, _ = env.reset(seed=3)
    assert {a: o[OBSERVATION] for a, o in again.items()} == {
        a: o[OBSERVATION] for a, o in observations.items()
    }


def test_agents_leave_when_their_episode_ends() -> None:
    env = TextGamesParallelEnv(CountdownGame, 3)
    env.reset(seed=0)
    finished: set[str] = set()
    while env.agents:
        live = list(env.agents)
        actions = {a: len(env.observe(a)[ADMISSIBLE_ACTIONS]) - 1 for a in live}  # subtract most
        _, rewards, terminations, truncations, infos = env.step(actions)
        assert set(rewards) == set(live)
        done = {a for a in live if terminations[a] or truncations[a]}
        assert all(SUCCESS in infos[a] for a in done)
        finished |= done
        assert set(env.agents) == set(live) - done
    assert finished == set(env.possible_agents)


def test_step_needs_one_action_per_live_agent() -> None:
    env = TextGamesParallelEnv(CountdownGame, 2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"missing \['agent_1'\]"):
        env.step({"agent_0": 0})
    with pytest.raises(ValueError, match=r"not live \['agent_7'\]"):
        env.step({"agent_0": 0, "agent_1": 0, "agent_7": 0})


def test_parallel_env_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_agents must be an integer >= 1, got 0"):
        TextGamesParallelEnv(CountdownGame, 0)
    with pytest.raises(TypeError, match="a Gymnasium id or a callable"):
        TextGamesParallelEnv(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="env_kwargs only apply to a Gymnasium id"):
        TextGamesParallelEnv(CountdownGame, env_kwargs={"limit": 3})
    with pytest.raises(TypeError, match="action space must be Discrete"):
        TextGamesParallelEnv(lambda: gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="render_mode must be one of"):
        TextGamesParallelEnv(CountdownGame, render_mode="human")


def test_parallel_render_shows_every_copy() -> None:
    env = TextGamesParallelEnv(lambda: CountdownGame(render_mode="ansi"), 2, render_mode="ansi")
    env.reset(seed=0)
    assert env.render().startswith("agent_0:\ncounter ")


def test_aec_form_of_the_copies_passes_pettingzoo_tests() -> None:
    _quiet(api_test, text_games_aec_env(CountdownGame, 2), num_cycles=60)
    _quiet(seed_test, lambda: text_games_aec_env(CountdownGame, 2), num_cycles=60)


# ---- board games with two learning players ---------------------------------------------------


@pytest.mark.parametrize("game", ["tictactoe", "connect_four"])
def test_board_game_aec_passes_pettingzoo_tests(game: str) -> None:
    _quiet(api_test, board_game_aec_env(game), num_cycles=200)
    _quiet(seed_test, lambda: board_game_aec_env(game), num_cycles=200)


@pytest.mark.parametrize("game", ["tictactoe", "connect_four"])
def test_board_game_parallel_passes_pettingzoo_tests(game: str) -> None:
    _quiet(parallel_api_test, board_game_parallel_env(game), num_cycles=200)
    _quiet(parallel_seed_test, lambda: board_game_parallel_env(game), num_cycles=200)


def test_two_players_see_their_own_side_and_only_the_mover_has_moves() -> None:
    env = board_game_aec_env("tictactoe")
    env.reset(seed=0)
    first, second = env.possible_agents
    obs_first, obs_second = env.observe(first), env.observe(second)
    assert "you play X" in obs_first[MISSION] and "you play O" in obs_second[MISSION]
    assert len(obs_first[ADMISSIBLE_ACTIONS]) == 9 and obs_second[ADMISSIBLE_ACTIONS] == ()
    assert obs_second["action_mask"].sum() == 0
    assert "Wait for your opponent's move." in obs_second[OBSERVATION]
    env.step(obs_first[ADMISSIBLE_ACTIONS].index("put an X in row 2, column 2"))
    assert env.agent_selection == second
    assert env.observe(second)[OBSERVATION].startswith("Your opponent put an X in row 2, column 2.")


def test_parallel_board_game_full_game_rewards_winner_and_loser() -> None:
    env = board_game_parallel_env("tictactoe")
    observations, _ = env.reset(seed=0)
    first, second = env.possible_agents
    script = [
        (first, "put an X in row 1, column 1"),
        (second, "put an O in row 2, column 1"),
        (first, "put an X in row 1, column 2"),
        (second, "put an O in row 2, column 2"),
        (first, "put an X in row 1, column 3"),
    ]
    for mover, move in script:
        actions = {agent: 0 for agent in env.agents}  # the waiting player's action is ignored
        actions[mover] = observations[mover][ADMISSIBLE_ACTIONS].index(move)
        observations, rewards, terminations, _, _ = env.step(actions)
    assert rewards == {first: 1, second: -1}
    assert all(terminations.values())
    assert env.unwrapped.outcome(first) == "win" and env.unwrapped.outcome(second) == "loss"
    assert "you won" in observations[first][OBSERVATION]


def test_board_game_aec_refuses_unknown_games_and_bad_moves() -> None:
    with pytest.raises(ValueError, match=r"unknown board game 'go'\. Allowed: connect_four"):
        BoardGameTextAEC("go")
    env = BoardGameTextAEC("connect_four")
    env.reset(seed=0)
    with pytest.raises(glam_env.errors.InvalidActionError, match=r"valid indices are 0\.\.6"):
        env.step(7)
    assert isinstance(env.action_space(env.agent_selection), spaces.Discrete)
