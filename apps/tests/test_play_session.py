from __future__ import annotations

import pytest

from glam_apps.errors import UserError
from glam_apps.games.play import PlaySession


@pytest.fixture
def session() -> PlaySession:
    game = PlaySession("GoToRedBallNoDists", seed=1)
    game.new_episode()
    yield game
    game.close()


def test_commands_are_parsed(session: PlaySession) -> None:
    assert session.parse("3").action == 2
    assert session.parse(" Turn Left ").action == 0
    assert session.parse("?").kind == "hint"
    assert session.parse("q").kind == "quit"
    assert session.parse("").kind == "empty"
    assert session.parse("0").kind == "invalid"
    assert "choose 1 to 6" in session.parse("7").message


def test_following_the_hints_wins(session: PlaySession) -> None:
    while not session.turn.done:
        index, name = session.hint()
        assert name == session.turn.actions[index]
        session.play(index)
    assert session.turn.success and session.turn.total_return > 0
    with pytest.raises(UserError, match="over"):
        session.hint()
    turn = session.new_episode()
    assert turn.seed == 2 and turn.step == 0


def test_same_seed_same_game() -> None:
    a = PlaySession("MixedTrainLocal", seed=4)
    b = PlaySession("MixedTrainLocal", seed=4)
    assert a.new_episode().goal == b.new_episode().goal
    a.close()
    b.close()


def test_variant_changes_the_words() -> None:
    game = PlaySession("GoToRedBallNoDists", seed=0, variant="synonym_actions")
    turn = game.new_episode()
    assert "rotate left" in turn.actions
    game.close()


def test_unknown_level_is_a_user_error() -> None:
    with pytest.raises(UserError, match="GoToLocal"):
        PlaySession("GoToLocl")
