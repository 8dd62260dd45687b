"""Board games (tic-tac-toe, connect four) as single-agent text games against an opponent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pydantic import ValidationError

pytest.importorskip("pettingzoo", reason="needs the pettingzoo extra")

from glam_env.board_games import (
    BoardGameConfig,
    BoardGameTextEnv,
    get_board_game,
    register_board_game_envs,
)
from glam_env.board_games.env import GAME_OVER_ACTION
from glam_env.errors import EpisodeEndedError, InvalidActionError, ResetNeededError
from glam_env.protocol import ADMISSIBLE_ACTIONS, MISSION, OBSERVATION, SUCCESS


def scripted(moves: list[str]) -> Any:
    """An opponent (or agent helper) playing the given move texts in order."""
    queue: Iterator[str] = iter(moves)

    def play(observation: dict[str, Any], rng: np.random.Generator) -> int:
        return observation[ADMISSIBLE_ACTIONS].index(next(queue))

    return play


def play_texts(env: BoardGameTextEnv, moves: list[str]) -> list[tuple[Any, ...]]:
    steps = []
    for move in moves:
        steps.append(env.step(env.admissible_actions.index(move)))
        if steps[-1][2]:
            break
    return steps


def legal_texts_from_mask(env: BoardGameTextEnv) -> list[str]:
    """The agent's legal moves read from PettingZoo's own mask, as text, in pettingzoo order."""
    spec = env.game.game_spec
    mask = env.game.pettingzoo_env.observe(env.agent_id)["action_mask"]
    return [spec.move_text(int(a), env.agent_symbol) for a in np.flatnonzero(mask)]


# ---- text rendering and moves --------------------------------------------------------------


def test_tictactoe_board_and_moves_read_as_text() -> None:
    env = BoardGameTextEnv(opponent=scripted(["put an O in row 1, column 3"]))
    obs, info = env.reset(seed=0)
    assert obs[MISSION].startswith("win at tic-tac-toe: you play X")
    assert len(obs[ADMISSIBLE_ACTIONS]) == 9
    assert obs[ADMISSIBLE_ACTIONS][:4] == (
        "put an X in row 1, column 1",
        "put an X in row 1, column 2",
        "put an X in row 1, column 3",
        "put an X in row 2, column 1",
    )
    obs, reward, terminated, _, info = env.step(
        obs[ADMISSIBLE_ACTIONS].index("put an X in row 2, column 3")
    )
    assert obs[OBSERVATION] == (
        "Your opponent put an O in row 1, column 3.\n"
        'The board, top row first, columns 1 to 3 from left to right ("." is empty):\n'
        "row 1: . . O\n"
        "row 2: . . X\n"
        "row 3: . . .\n"
        "It is your turn."
    )
    assert info["opponent_move"] == "put an O in row 1, column 3"
    # PettingZoo numbers squares column by column: row 2, column 3 is square 7.
    assert env.game.pettingzoo_env.board.squares[7] == 1
    assert env.game.pettingzoo_env.board.squares[6] == 2
    assert (reward, terminated) == (0.0, False)
    assert "put an X in row 2, column 3" not in obs[ADMISSIBLE_ACTIONS]


def test_connect_four_pieces_stack_from_the_bottom() -> None:
    env = BoardGameTextEnv(
        {"game": "connect_four"}, opponent=scripted(["drop a piece in column 4"] * 3)
    )
    obs, _ = env.reset(seed=0)
    assert obs[ADMISSIBLE_ACTIONS] == tuple(f"drop a piece in column {c}" for c in range(1, 8))
    assert "line up four X" in obs[MISSION]
    obs, *_ = env.step(3)
    lines = obs[OBSERVATION].splitlines()
    assert lines[0] == "Your opponent dropped an O in column 4."
    assert lines[-3:] == ["row 5: . . . O . . .", "row 6: . . . X . . .", "It is your turn."]
    assert get_board_game("connect_four").num_moves == 7


@pytest.mark.parametrize("game", ["tictactoe", "connect_four"])
def test_legal_moves_equal_the_pettingzoo_mask(game: str) -> None:
    env = BoardGameTextEnv({"game": game, "agent_plays": "random"})
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            assert sorted(obs[ADMISSIBLE_ACTIONS]) == sorted(legal_texts_from_mask(env))
            assert len(set(obs[ADMISSIBLE_ACTIONS])) == len(obs[ADMISSIBLE_ACTIONS])
            assert info["action_mask"].sum() == len(obs[ADMISSIBLE_ACTIONS])
            assert obs in env.observation_space
            obs, _, done, _, info = env.step(env.action_space.sample())
        assert obs[ADMISSIBLE_ACTIONS] == (GAME_OVER_ACTION,)


# ---- full games and rewards ----------------------------------------------------------------


def test_win_gives_plus_one() -> None:
    env = BoardGameTextEnv(
        opponent=scripted(["put an O in row 3, column 3", "put an O in row 3, column 2"])
    )
    env.reset(seed=0)
    steps = play_texts(env, [f"put an X in row 1, column {c}" for c in (1, 2, 3)])
    rewards = [step[1] for step in steps]
    *_, (obs, _, terminated, truncated, info) = steps
    assert rewards == [0.0, 0.0, 1.0] and terminated and not truncated
    assert info[SUCCESS] is True and info["outcome"] == "win"
    assert "The game is over: you won." in obs[OBSERVATION]
    assert info["opponent_move"] is None  # the game ended on the agent's move
    with pytest.raises(EpisodeEndedError):
        env.step(0)


def test_loss_gives_minus_one_when_playing_second() -> None:
    opponent = scripted([f"put an X in row 1, column {c}" for c in (1, 2, 3)])
    env = BoardGameTextEnv({"agent_plays": "second"}, opponent=opponent)
    obs, _ = env.reset(seed=0)
    assert env.agent_symbol == "O" and "you play O" in obs[MISSION]
    assert obs[OBSERVATION].startswith("Your opponent put an X in row 1, column 1.")
    steps = play_texts(env, ["put an O in row 3, column 3", "put an O in row 3, column 2"])
    *_, (obs, reward, terminated, _, info) = steps
    assert (reward, terminated, info[SUCCESS], info["outcome"]) == (-1.0, True, False, "loss")
    assert "The game is over: you lost." in obs[OBSERVATION]


def test_draw_gives_zero() -> None:
    agent = [
        "put an X in row 1, column 1",
        "put an X in row 1, column 3",
        "put an X in row 2, column 1",
        "put an X in row 3, column 2",
        "put an X in row 3, column 3",
    ]
    opponent = [
        "put an O in row 1, column 2",
        "put an O in row 2, column 2",
        "put an O in row 2, column 3",
        "put an O in row 3, column 1",
    ]
    env = BoardGameTextEnv(opponent=scripted(opponent))
    env.reset(seed=0)
    steps = play_texts(env, agent)
    assert [s[1] for s in steps] == [0.0] * 5
    assert steps[-1][2] and steps[-1][4]["outcome"] == "draw" and steps[-1][4][SUCCESS] is False


def test_random_games_end_with_consistent_outcomes() -> None:
    env = BoardGameTextEnv({"agent_plays": "random"})
    outcomes: Counter[str] = Counter()
    sides: Counter[str] = Counter()
    for seed in range(60):
        env.reset(seed=seed)
        sides[env.agent_symbol] += 1
        total, done, info = 0.0, False, {}
        while not done:
            _, reward, done, truncated, info = env.step(env.action_space.sample())
            assert not truncated
            total += reward
        outcomes[info["outcome"]] += 1
        assert total == {"win": 1.0, "draw": 0.0, "loss": -1.0}[info["outcome"]]
    assert set(outcomes) == {"win", "draw", "loss"} and set(sides) == {"X", "O"}


def test_same_seed_same_game_against_the_random_opponent() -> None:
    def trajectory(seed: int) -> list[str]:
        env = BoardGameTextEnv({"game": "connect_four", "agent_plays": "random"})
        obs, _ = env.reset(seed=seed)
        texts, done = [obs[OBSERVATION]], False
        while not done:
            obs, _, done, _, _ = env.step(0)
            texts.append(obs[OBSERVATION])
        return texts

    assert trajectory(11) == trajectory(11)
    assert trajectory(11) != trajectory(12)


# ---- misuse and bad configs ----------------------------------------------------------------


def test_bad_actions_and_bad_opponents_raise() -> None:
    env = BoardGameTextEnv()
    with pytest.raises(ResetNeededError):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"valid indices are 0\.\.8"):
        env.step(9)
    cheat = BoardGameTextEnv(opponent=lambda obs, rng: 42)
    cheat.reset(seed=0)
    with pytest.raises(InvalidActionError, match="the opponent policy returned a bad move"):
        cheat.step(0)
    with pytest.raises(TypeError, match="opponent must be callable"):
        BoardGameTextEnv(opponent="minimax")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"game": "chess"}, "unknown board game 'chess'. Allowed: connect_four, tictactoe"),
        ({"game": "tic_tac_toe"}, "Did you mean: tictactoe"),
        ({"agent_plays": "middle"}, "'first', 'second' or 'random'"),
        ({"opponent": "minimax"}, "opponent"),
        ({"max_actions": 5}, "max_actions=5 is too small for tictactoe"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_configs_name_the_value_and_what_is_allowed(
    config: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError) as error:
        BoardGameTextEnv(config)
    assert expected in str(error.value)


def test_config_from_yaml_and_a_larger_action_space(tmp_path) -> None:
    path = tmp_path / "c4.yaml"
    path.write_text("game: connect_four\nagent_plays: second\nmax_actions: 16\n")
    env = BoardGameTextEnv(BoardGameConfig.from_file(path))
    _, info = env.reset(seed=0)
    assert env.action_space.n == 16 and info["action_mask"].tolist() == [1] * 7 + [0] * 9
    with pytest.raises(ValueError, match="render_mode must be one of"):
        BoardGameTextEnv(render_mode="human")


# ---- Gymnasium ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_id", "config"),
    [
        ("BoardGame-Text/TicTacToe-v0", {}),
        ("BoardGame-Text/TicTacToe-v0", {"agent_plays": "random"}),
        ("BoardGame-Text/ConnectFour-v0", {"agent_plays": "second"}),
    ],
)
def test_registered_ids_pass_gymnasium_check_env(env_id: str, config: dict[str, Any]) -> None:
    register_board_game_envs()
    env = gym.make(env_id, config=config)
    check_env(env.unwrapped)
    env.close()


def test_registered_id_refuses_another_game_and_renders_ansi() -> None:
    register_board_game_envs()
    with pytest.raises(ValueError, match="plays 'connect_four' but its config asks for"):
        gym.make("BoardGame-Text/ConnectFour-v0", config={"game": "tictactoe"})
    env = gym.make("BoardGame-Text/TicTacToe-v0", render_mode="ansi")
    env.reset(seed=0)
    assert "row 1: . . ." in env.render()
