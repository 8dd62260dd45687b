from __future__ import annotations

import pytest
from pydantic import ValidationError

import glam_env
from glam_env.wrappers import NoOpPenaltyWrapper

TURN_LEFT, TURN_RIGHT, FORWARD, PICK_UP, DROP, TOGGLE = range(6)


def _walk_into_wall(penalty: float) -> list[tuple[int, float, bool]]:
    """Go forward until the wall, then keep pushing; every step's action, reward, noop."""
    env = glam_env.make_env(
        glam_env.BabyAITextConfig(
            level="GoToLocal", max_steps=64, history_length=1, noop_penalty=penalty
        )
    )
    env.reset(seed=1)  # seed 1: a wall 3 steps ahead, nothing in between
    steps = []
    for action in [FORWARD] * 6 + [DROP, TURN_LEFT]:
        _, reward, terminated, truncated, info = env.step(action)
        assert not (terminated or truncated)
        steps.append((action, reward, info["noop"]))
    return steps


def test_steps_that_change_nothing_are_charged() -> None:
    steps = _walk_into_wall(0.05)
    assert [noop for _, _, noop in steps] == [False, False, False, True, True, True, True, False]
    assert [reward for _, reward, _ in steps] == [0.0, 0.0, 0.0, -0.05, -0.05, -0.05, -0.05, 0.0]


def test_off_by_default_and_the_text_is_the_same() -> None:
    assert glam_env.BabyAITextConfig().noop_penalty == 0.0
    env = glam_env.make_env(glam_env.BabyAITextConfig(level="GoToLocal", history_length=1))
    assert not isinstance(env, NoOpPenaltyWrapper)
    shaped = glam_env.make_env(
        glam_env.BabyAITextConfig(level="GoToLocal", history_length=1, noop_penalty=0.1)
    )
    for game in (env, shaped):
        game.reset(seed=3)
    for action in [FORWARD, FORWARD, PICK_UP, TURN_RIGHT, FORWARD, TOGGLE]:
        plain, shaped_obs = env.step(action)[0], shaped.step(action)[0]
        assert plain == shaped_obs


def test_success_keeps_its_reward() -> None:
    """The step that ends an episode is never charged, even if the grid did not change."""
    env = glam_env.make_env(
        glam_env.BabyAITextConfig(level="GoToRedBallNoDists", history_length=1, noop_penalty=0.5)
    )
    env.reset(seed=0)
    expert, done, reward, info = glam_env.ExpertAgent(env), False, 0.0, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(expert.act())
        done = terminated or truncated
    assert info["success"] and reward > 0.5 and not info["noop"]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_a_bad_penalty_is_refused_by_name(bad: float) -> None:
    with pytest.raises(ValidationError, match="noop_penalty"):
        glam_env.BabyAITextConfig(noop_penalty=bad)
    with pytest.raises(ValueError, match="penalty must be a finite number"):
        NoOpPenaltyWrapper(glam_env.make_env(glam_env.BabyAITextConfig()), bad)
