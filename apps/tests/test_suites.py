"""The paper suite's tests: the French test as the paper ran it, its broader variant, and
the second synonym-action set."""

from __future__ import annotations

import pytest

from glam_apps.evaluation.suites import TestSpec, env_config_for_test, french_test, suite_tests
from glam_env import BabyAITextConfig, make_env
from glam_env.levels import HELD_OUT_PAIRS
from glam_env.levels.local import described_pairs


def _by_name(base_level: str = "MixedTrainLocal") -> dict[str, TestSpec]:
    return {test.name: test for test in suite_tests("paper", base_level)}


def test_paper_suite_ends_with_both_synonym_sets_and_both_french_tests() -> None:
    names = [test.name for test in suite_tests("paper")]
    assert names[-4:] == [
        "synonym actions",
        "synonym actions 2",
        "French",
        "French (all families)",
    ]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("base", ["MixedTrainLocal", "GoToLocal", "PickUpSeqGoToLocal"])
def test_french_plays_go_to_french_with_french_goals_and_prompt(base: str) -> None:
    tests = _by_name(base)
    french = tests["French"]
    assert (french.level, french.variant, french.template) == ("GoToFrench", "french", "french")
    broad = tests["French (all families)"]
    assert (broad.level, broad.variant, broad.template) == (base, "french", "french")


def test_second_synonym_test_plays_the_base_level_with_the_second_set() -> None:
    test = _by_name("GoToLocal")["synonym actions 2"]
    assert (test.level, test.variant, test.template) == ("GoToLocal", "synonym_actions_2", None)
    config = env_config_for_test(BabyAITextConfig(level="GoToLocal"), test)
    env = make_env(config)
    obs, _ = env.reset(seed=0)
    assert obs["admissible_actions"] == (
        "shift left",
        "shift right",
        "go ahead",
        "take",
        "release",
        "turn",
    )
    assert obs["mission"].startswith("go to ")


def test_french_after_mixed_training_keeps_held_out_pairs_out() -> None:
    """A MixedTrainLocal agent never saw the held-out pairs: French must not test them."""
    base = BabyAITextConfig(level="MixedTrainLocal", num_distractors=8, history_length=2)
    test = french_test("MixedTrainLocal")
    assert test.level_kwargs == (("split", "train"),)
    config = env_config_for_test(base, test)
    assert config.level == "GoToFrench" and config.resolved_language == "fr"
    assert config.level_kwargs == {"split": "train"} and config.history_length == 2
    env = make_env(config)
    for seed in range(120):
        obs, _ = env.reset(seed=seed)
        level = env.unwrapped.minigrid_env
        assert not set(described_pairs(level.instrs)) & HELD_OUT_PAIRS, level.mission
        objects = [c for c in level.grid.grid if c is not None and c.type in ("key", "ball", "box")]
        assert len(objects) == 8  # the reference's GoToFrench: 8 objects, target included
        assert obs["mission"].startswith("va à ")
        assert obs["admissible_actions"][0] == "tourner à gauche"


def test_french_after_go_to_local_training_is_the_references_go_to_french() -> None:
    """The paper's own setting: no split restriction, as in GoToLocal; level options of
    GoToLocal do not reach GoToFrench."""
    test = french_test("BabyAI-GoToLocal-v0")
    assert test.level_kwargs == ()
    base = BabyAITextConfig(level="GoToLocal", level_kwargs={"room_size": 6})
    config = env_config_for_test(base, test)
    assert config.level == "GoToFrench" and config.level_kwargs == {}
    env = make_env(config)
    named = set()
    for seed in range(150):
        env.reset(seed=seed)
        named |= set(described_pairs(env.unwrapped.minigrid_env.instrs))
    assert named & HELD_OUT_PAIRS  # any pair, ~1 mission in 6 names a held-out one


def test_french_test_for_an_unknown_base_level_does_not_fail_early() -> None:
    assert french_test("NoSuchLevel").level_kwargs == ()


def test_french_all_families_plays_the_base_level_in_french() -> None:
    base = BabyAITextConfig(level="MixedTrainLocal", family_weights={"put_next": 1.0})
    config = env_config_for_test(base, _by_name()["French (all families)"])
    assert config.level == "MixedTrainLocal" and config.resolved_language == "fr"
    obs, _ = make_env(config).reset(seed=3)
    assert obs["mission"].startswith("pose ")


def test_test_level_kwargs_win_over_the_base_levels() -> None:
    base = BabyAITextConfig(level="GoToFrench", level_kwargs={"split": "any", "room_size": 7})
    config = env_config_for_test(base, french_test("MixedTrainLocal"))
    assert config.level_kwargs == {"split": "train", "room_size": 7}


@pytest.mark.parametrize(
    ("own", "test", "used"),
    [
        ("compact", "i_would_like", "compact_i_would_like"),
        ("compact", "french", "compact_french"),
        ("paper", "you_have_to", "you_have_to"),
    ],
)
def test_goal_phrasing_tests_keep_the_agents_prompt_layout(own: str, test: str, used: str) -> None:
    from types import SimpleNamespace

    from glam_apps.evaluation.agents import PolicyAgent
    from glam_policy import TEMPLATES

    encoder = SimpleNamespace(template=TEMPLATES[own])
    policy = SimpleNamespace(encoder=encoder, config=SimpleNamespace(template=own))
    agent = PolicyAgent(policy)
    with agent.template(test):
        assert encoder.template == TEMPLATES[used]
    assert encoder.template == TEMPLATES[own]
