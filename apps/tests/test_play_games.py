"""``glam play`` on the text games other than BabyAI-Text: board games and TextWorld."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable

import pytest

from glam_apps.errors import UserError
from glam_apps.games.catalog import game_names, resolve_game
from glam_apps.games.play import PlaySession

RunGlam = Callable[..., tuple[int, str, str]]


def test_game_names() -> None:
    tictactoe = resolve_game("tictactoe")
    assert tictactoe is not None and tictactoe.gym_id == "BoardGame-Text/TicTacToe-v0"
    assert tictactoe.kwargs["config"]["agent_plays"] == "first"  # the packaged config's
    coins = resolve_game("coin_collector")
    assert coins is not None and coins.kwargs["config"]["difficulty"] == {"level": 5}
    connect = resolve_game("connect_four")
    assert connect is not None and connect.gym_id == "BoardGame-Text/ConnectFour-v0"
    assert resolve_game("TextWorld/Simple-v0") is not None
    assert resolve_game("GoToLocal") is None  # a BabyAI-Text level
    assert {"tictactoe", "coin_collector", "BoardGame-Text/ConnectFour-v0"} <= set(game_names())


def test_tictactoe_session_to_the_end() -> None:
    session = PlaySession("tictactoe", seed=2)
    turn = session.new_episode()
    assert session.title == "BoardGame-Text/TicTacToe-v0"
    assert len(turn.actions) == 9 and "row 1: . . ." in turn.observation
    assert session.parse("9").action == 8
    assert session.parse(" PUT AN X IN ROW 2, COLUMN 2 ").action == 4
    with pytest.raises(UserError, match="no expert plays BoardGame-Text/TicTacToe-v0"):
        session.hint()
    while not turn.done:
        turn = session.play(0)
    assert turn.extra["outcome"] in ("win", "draw", "loss")
    assert turn.success == (turn.extra["outcome"] == "win")
    assert turn.total_return == turn.reward  # the board games reward the last move only
    session.close()


@pytest.mark.slow  # the first TextWorld test of a session generates the game (5-15 s)
def test_textworld_hints_win(textworld_cache: None) -> None:
    session = PlaySession("TextWorld/CoinCollector-v0", seed=0)
    turn = session.new_episode()
    while not turn.done:
        index, name = session.hint()
        assert name == turn.actions[index]
        turn = session.play(index)
    assert turn.success and turn.total_return > 0
    session.close()


def test_variant_is_refused_for_a_game() -> None:
    with pytest.raises(UserError, match="TicTacToe-v0 has no variants"):
        PlaySession("tictactoe", variant="french")


def test_an_unknown_game_id_names_the_close_ones() -> None:
    with pytest.raises(UserError, match="did you mean BoardGame-Text/TicTacToe-v0"):
        PlaySession("BoardGame-Text/TicTacToe-v1")


def test_play_tictactoe_through_stdin(run_glam: RunGlam, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("5\n?\nput an X in row 1, column 1\nq\n"))
    code, out, err = run_glam("play", "tictactoe")
    assert code == 0, err
    assert out.startswith("BoardGame-Text/TicTacToe-v0.")
    assert "you: put an X in row 2, column 2" in out
    assert "you: put an X in row 1, column 1" in out
    assert "no hint available: no expert plays" in out
    assert "row 2: . X ." in out  # the board after the first move
    assert "1. put an X in row 1, column 1\n" in out  # one action per line: they are long
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "played 0 episode(s)" in out


def test_play_a_whole_tictactoe_game(run_glam: RunGlam, monkeypatch: pytest.MonkeyPatch) -> None:
    """Always the first free square: the game ends, its outcome is said, the next begins."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n" * 5 + "q\n"))
    code, out, _ = run_glam("play", "tictactoe", "--seed", "4")
    assert code == 0
    assert "played 1 episode(s)" in out
    assert "episode 2 (seed 5)" in out
    assert any(word in out for word in ("success in", "draw after", "loss after"))


@pytest.mark.slow  # may generate the TextWorld game (5-15 s)
def test_play_coin_collector_through_stdin(
    run_glam: RunGlam, monkeypatch: pytest.MonkeyPatch, textworld_cache: None
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hint\nq\n"))
    code, out, err = run_glam("play", "TextWorld/CoinCollector-v0")
    assert code == 0, err
    assert "hint: 4. take coin" in out  # level 1: the coin lies in the first room
    assert "goal:" in out and "played 0 episode(s)" in out


def test_play_refuses_bad_game_input(run_glam: RunGlam) -> None:
    code, _, err = run_glam("play", "tictactoe", "--variant", "french")
    assert code == 2 and "has no variants" in err and "Traceback" not in err
