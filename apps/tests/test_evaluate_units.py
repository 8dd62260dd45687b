from __future__ import annotations

import pytest

from glam_apps.errors import UserError
from glam_apps.evaluation.agents import BotAgent, RandomAgent
from glam_apps.evaluation.evaluate import (
    LoadedAgent,
    TestSpec,
    env_config_for_test,
    evaluate_agent,
    run_episodes,
    suite_tests,
)
from glam_apps.models.policies import looks_like_path
from glam_env import BabyAITextConfig


def test_paper_suite_has_every_generalization_test() -> None:
    tests = suite_tests("paper")
    assert [t.name for t in tests] == [
        "no change",
        "renamed nouns",
        "adjective synonyms",
        "invented nouns",
        "invented adjectives",
        "invented words",
        "goal: I would like",
        "goal: you have to",
        "new objects",
        "new composition",
        "synonym actions",
        "synonym actions 2",
        "French",
        "French (all families)",
    ]
    by_name = {t.name: t for t in tests}
    assert by_name["new objects"].level == "MixedTestLocal"
    assert by_name["new composition"].level == "PickUpSeqPickUpLocal"
    assert by_name["goal: you have to"].template == "you_have_to"
    assert by_name["French"].variant == "french" and by_name["French"].template == "french"
    assert by_name["French"].level == "GoToFrench"
    assert by_name["French (all families)"].level == "MixedTrainLocal"
    with pytest.raises(UserError, match="unknown suite"):
        suite_tests("nope")


def test_env_for_a_test_keeps_the_run_settings_that_apply() -> None:
    base = BabyAITextConfig(
        level="MixedTrainLocal",
        family_weights={"go_to": 1.0},
        num_distractors=2,
        max_steps=20,
        history_length=2,
    )
    same = env_config_for_test(base, TestSpec("x", "MixedTestLocal", variant="invented_nouns"))
    assert same.family_weights == {"go_to": 1.0} and same.num_distractors == 2
    assert same.variant.name == "invented_nouns" and same.max_steps == 20
    other = env_config_for_test(base, TestSpec("x", "PickUpSeqPickUpLocal"))
    assert other.family_weights is None and other.num_distractors == 2
    minigrid = env_config_for_test(base, TestSpec("x", "GoToRedBallNoDists"))
    assert minigrid.num_distractors is None and minigrid.history_length == 2


def test_episodes_are_reproducible_and_in_seed_order() -> None:
    config = BabyAITextConfig(level="GoToRedBallNoDists", max_steps=10)
    first = run_episodes(config, RandomAgent(3), [5, 6, 7], num_envs=2)
    again = run_episodes(config, RandomAgent(3), [5, 6, 7], num_envs=2)
    assert first == again
    assert [o.seed for o in first] == [5, 6, 7]
    assert all(o.length <= 10 for o in first)


def test_bot_solves_and_family_breakdown_appears_on_mixed_levels() -> None:
    loaded = LoadedAgent(BotAgent(0), "bot", BabyAITextConfig())
    report = evaluate_agent(loaded, suite="level", episodes=10, num_envs=5)
    names = [r.name for r in report.results]
    assert names[0] == "no change"
    assert any(name.startswith("family: ") for name in names)
    assert report.results[0].summary.success_rate == 1.0


def test_bad_evaluation_arguments() -> None:
    loaded = LoadedAgent(RandomAgent(0), "random", BabyAITextConfig())
    with pytest.raises(UserError, match="episodes"):
        evaluate_agent(loaded, episodes=0)


@pytest.mark.parametrize(
    ("spec", "is_path"),
    [("google/flan-t5-small", False), ("gpt2", False), ("./model", True), ("/a/b", True)],
)
def test_hub_names_and_paths(spec: str, is_path: bool) -> None:
    assert looks_like_path(spec) is is_path
