"""The packaged `paper` config builds the reference's prompt, character for character.

The reference (flowersteam/Grounding_LLMs_with_online_RL, ``generate_prompt`` in
``experiments/agents/base_agent.py``; the same at the paper's release, 0c8718b, and
at 31847fb) keeps a deque of the last 3 observations (each a list of sentences) and
one of the last 2 actions, appends the action taken before stepping, clears both
when an episode ends and then appends the new observation. It is written out again
here, from that description, and compared with glam on real MixedTrainLocal steps.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence

import pytest

from glam_apps.config.packaged import load_train_config
from glam_apps.models.default_model import CORPUS_TEMPLATES
from glam_env import make_env
from glam_policy import TEMPLATES, build_prompt


def reference_prompt(
    goal: str,
    actions: Sequence[str],
    observations: Sequence[Sequence[str]],
    taken: Sequence[str],
) -> str:
    """The reference's construction, in its own steps (see the module docstring)."""
    text = "Possible action of the agent:"
    for action in actions:
        text += f" {action},"
    text = text[:-1]
    text += f" \n Goal of the agent: {goal}"
    for i, sentences in enumerate(observations):
        text += f" \n Observation {i}: "
        for sentence in sentences:
            text += f"{sentence}, "
        text += f"\n Action {i}: "
        if i < len(taken):
            text += taken[i]
    return text


def test_paper_config_prompt_is_the_reference_text_on_real_mixed_steps() -> None:
    config = load_train_config("paper", ["env.max_steps=12"])  # short episodes: many resets
    assert config.env.level == "MixedTrainLocal" and config.env.history_length == 3
    env = make_env(config.env)
    rng = random.Random(0)
    seen: deque[list[str]] = deque(maxlen=3)
    done_actions: deque[str] = deque(maxlen=2)
    obs, info = env.reset(seed=7)
    seen.append(info["sentences"])
    prompts_with_three, first_steps, episodes = 0, 0, 1
    try:
        for _ in range(40):
            expected = reference_prompt(
                obs["mission"], obs["admissible_actions"], list(seen), list(done_actions)
            )
            assert build_prompt(config.policy.template, obs) == expected
            prompts_with_three += len(seen) == 3
            first_steps += len(seen) == 1
            choice = rng.randrange(len(obs["admissible_actions"]))
            done_actions.append(obs["admissible_actions"][choice])
            obs, _, terminated, truncated, info = env.step(choice)
            if terminated or truncated:
                seen.clear()
                done_actions.clear()
                obs, info = env.reset()
                episodes += 1
            seen.append(info["sentences"])
    finally:
        env.close()
    assert prompts_with_three > 10 and first_steps >= 3 and episodes >= 3


@pytest.mark.parametrize(
    ("template", "goal_words"),
    [("i_would_like", "I would like the agent to"), ("you_have_to", "You have to")],
)
def test_goal_phrasing_templates_are_the_reference_test_substitution(template, goal_words):
    """The paper's test replaced "Goal of the agent" in the whole reference prompt."""
    env = make_env(load_train_config("paper").env)
    try:
        obs, info = env.reset(seed=3)
        obs, _, _, _, step_info = env.step(2)
    finally:
        env.close()
    expected = reference_prompt(
        obs["mission"],
        obs["admissible_actions"],
        [info["sentences"], step_info["sentences"]],
        [obs["admissible_actions"][2]],
    ).replace("Goal of the agent", goal_words)
    assert build_prompt(template, obs) == expected


def test_packaged_configs_name_their_templates() -> None:
    paper = load_train_config("paper")
    assert paper.policy.template == "paper" and paper.policy.append_eos is True
    assert paper.policy.normalization == "probability_ratio"  # the policy the paper's code played
    for name in ("quickstart", "tictactoe", "coin_collector"):
        config = load_train_config(name)
        assert config.policy.template == "compact", name
        assert config.policy.append_eos is False, name


def test_default_model_corpus_renders_the_compact_templates() -> None:
    """The offline model's corpus keeps the texts it was built from (cached models and
    published figures): glam's four templates before `paper` became the reference text."""
    obs = {
        "mission": "go to the red ball",
        "observation_history": ("You see a wall 1 step left", "You see a red ball 1 step forward"),
        "action_history": ("turn right",),
        "admissible_actions": ("turn left", "turn right"),
    }
    texts = [build_prompt(template, obs) for template in CORPUS_TEMPLATES]
    assert texts[0] == (
        "Possible action of the agent: turn left, turn right\n"
        "Goal of the agent: go to the red ball\n"
        "Observation 0: You see a wall 1 step left\n"
        "Action 0: turn right\n"
        "Observation 1: You see a red ball 1 step forward\n"
        "Action 1:"
    )
    assert texts[1] == texts[0].replace("Goal of the agent", "I would like the agent to")
    assert texts[2] == texts[0].replace("Goal of the agent", "You have to")
    assert texts[3] == texts[0].replace(
        "Possible action of the agent", "Actions possibles pour l'agent"
    ).replace("Goal of the agent", "But de l'agent")
    names = ["compact", "compact_i_would_like", "compact_you_have_to", "compact_french"]
    assert texts == [build_prompt(TEMPLATES[name], obs) for name in names]
