"""Every misuse fails with a clear error naming what is wrong and what is allowed."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.error import ResetNeeded

from glam_env import (
    BabyAITextEnv,
    EpisodeEndedError,
    ExpertAgent,
    GlamEnvError,
    InvalidActionError,
    ResetNeededError,
    UnknownLevelError,
    make_env,
)


@pytest.fixture
def env() -> BabyAITextEnv:
    env = BabyAITextEnv("GoToLocal")
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("action", [6, -1, 100])
def test_action_index_out_of_range(env: BabyAITextEnv, action: int) -> None:
    with pytest.raises(InvalidActionError, match=r"out of range.*6 admissible actions.*toggle"):
        env.step(action)
    assert env.minigrid_env.step_count == 0  # nothing was played


@pytest.mark.parametrize("action", [1.0, "go forward", True, None])
def test_action_that_is_not_an_integer(env: BabyAITextEnv, action: object) -> None:
    with pytest.raises(InvalidActionError, match="integer index"):
        env.step(action)


def test_out_of_range_is_also_a_value_error_and_a_glam_error(env: BabyAITextEnv) -> None:
    with pytest.raises(ValueError):
        env.step(9)
    with pytest.raises(GlamEnvError):
        env.step(9)


def test_step_before_reset() -> None:
    with pytest.raises(ResetNeededError, match="before reset"):
        BabyAITextEnv("GoToLocal").step(0)
    with pytest.raises(ResetNeeded):  # Gymnasium's own exception type
        BabyAITextEnv("GoToLocal").step(0)


def test_step_after_termination_and_after_truncation() -> None:
    env = BabyAITextEnv("GoToLocal")
    ExpertAgent(env).play_episode(seed=1)  # ends terminated (success)
    with pytest.raises(EpisodeEndedError, match="after the episode ended"):
        env.step(0)
    short = BabyAITextEnv("GoToLocal", max_steps=1)
    short.reset(seed=0)
    assert short.step(0)[3]  # truncated
    with pytest.raises(EpisodeEndedError):
        short.step(0)
    short.reset(seed=0)
    short.step(0)  # a reset makes it playable again


def test_unknown_level_names_close_matches_and_how_to_list_all() -> None:
    with pytest.raises(UnknownLevelError, match=r"Did you mean: GoToLocal") as caught:
        BabyAITextEnv("GoToLocl")
    message = str(caught.value)
    assert "MixedTrainLocal" in message and "list_levels()" in message
    assert len(message) < 400  # not the 100+ names
    assert "GoToLocal" in caught.value.close_matches
    with pytest.raises(ValueError, match="unknown level 'Nothing'"):
        make_env(level="Nothing")


def test_level_names_accept_full_ids() -> None:
    for name in ("GoToLocal", "BabyAI-GoToLocal-v0", "BabyAI-Text/GoToLocal-v0"):
        assert BabyAITextEnv(name).level_name == "GoToLocal"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family_weights": {"go_to": 1.0}}, "only applies to the paper's levels"),
        ({"num_distractors": 3}, "only applies to the paper's levels"),
        ({"level_kwargs": {"no_such_argument": 1}}, "does not accept these arguments"),
        ({"max_steps": 0}, "max_steps must be an integer >= 1"),
        ({"render_mode": "human"}, "render_mode must be None or one of"),
        ({"actions": "paper7"}, "unknown action preset 'paper7'.*did you mean paper6"),
        ({"actions": ["turn left", "jump"]}, "unknown action name 'jump'"),
        ({"actions": ["drop", "drop"]}, "repeated: drop"),
        ({"actions": 6}, "preset name"),
        ({"variant": "french_words"}, "unknown text variant"),
        ({"variant": "french", "language": "en"}, "contradicts the French variant"),
        ({"language": "de"}, "language must be 'en' or 'fr'"),
        ({"substitutions": {"drop": "toggle"}}, "two actions read the same"),
    ],
)
def test_bad_env_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BabyAITextEnv("GoToLocal", **kwargs)  # type: ignore[arg-type]


def test_construction_options_need_a_level_name() -> None:
    with pytest.raises(ValueError, match="level built by name"):
        BabyAITextEnv(gym.make("BabyAI-GoToLocal-v0"), num_distractors=2)
    with pytest.raises(TypeError, match="MiniGridEnv"):
        BabyAITextEnv(gym.make("CartPole-v1"))  # type: ignore[arg-type]


def test_expert_needs_a_text_env() -> None:
    with pytest.raises(TypeError, match="BabyAITextEnv"):
        ExpertAgent(gym.make("BabyAI-GoToLocal-v0"))
