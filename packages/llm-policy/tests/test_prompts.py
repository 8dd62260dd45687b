"""Policy inputs and prompt templates: exact strings, history alignment, bad inputs."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from glam_policy.inputs import PolicyInput
from glam_policy.prompts import (
    TEMPLATES,
    PromptTemplate,
    build_prompt,
    build_prompts,
    get_template,
    resolve_template,
    truncate_left,
)

ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
OBS = (
    "You see a wall 2 steps forward, You see a red ball 1 step left",
    "You see a red ball 1 step forward",
    "You carry a red ball",
)
GAME_OBS = {
    "mission": "pick up the red ball",
    "observation": OBS[-1],
    "observation_history": OBS,
    "action_history": ("turn left", "pick up"),
    "admissible_actions": ACTIONS,
}

#: The reference's text (its generate_prompt, experiments/agents/base_agent.py of
#: flowersteam/Grounding_LLMs_with_online_RL), written out by hand.
PAPER = (
    "Possible action of the agent: turn left, turn right, go forward, pick up, drop, toggle"
    " \n Goal of the agent: pick up the red ball"
    " \n Observation 0: You see a wall 2 steps forward, You see a red ball 1 step left, "
    "\n Action 0: turn left"
    " \n Observation 1: You see a red ball 1 step forward, "
    "\n Action 1: pick up"
    " \n Observation 2: You carry a red ball, "
    "\n Action 2: "
)
COMPACT = (
    "Possible action of the agent: turn left, turn right, go forward, pick up, drop, toggle\n"
    "Goal of the agent: pick up the red ball\n"
    "Observation 0: You see a wall 2 steps forward, You see a red ball 1 step left\n"
    "Action 0: turn left\n"
    "Observation 1: You see a red ball 1 step forward\n"
    "Action 1: pick up\n"
    "Observation 2: You carry a red ball\n"
    "Action 2:"
)


# --------------------------------------------------------------------------- inputs


def test_from_game_observation_dict():
    data = PolicyInput.from_any(GAME_OBS)
    assert data == PolicyInput("pick up the red ball", OBS, ("turn left", "pick up"), ACTIONS)
    assert PolicyInput.from_any(data) is data


def test_from_alternative_key_names_and_sentence_lists():
    data = PolicyInput.from_any(
        {
            "goal": "go to the dax",
            "observations": [["You see a wall 1 step left", "You see a dax 2 steps forward"]],
            "admissible_actions": ["go forward"],
        }
    )
    assert data.observations == ("You see a wall 1 step left, You see a dax 2 steps forward",)
    assert data.actions == ()
    assert data.admissible_actions == ("go forward",)
    assert isinstance(data.admissible_actions, tuple)


def test_single_observation_without_history():
    data = PolicyInput.from_any(
        {"mission": "open the door", "observation": "You see a wall", "admissible_actions": ACTIONS}
    )
    assert data.observations == ("You see a wall",)


@pytest.mark.parametrize(
    ("missing", "match"),
    [
        ("mission", "goal, mission"),
        ("observation", "observation_history, observations, observation"),
        ("admissible_actions", "admissible_actions"),
    ],
)
def test_missing_key_names_the_accepted_keys(missing, match):
    obs = {k: v for k, v in GAME_OBS.items() if k != missing}
    if missing == "observation":
        del obs["observation_history"]
    with pytest.raises(ValueError, match=f"missing key.*{match}"):
        PolicyInput.from_any(obs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"admissible_actions": ()}, "admissible_actions is empty"),
        ({"admissible_actions": "turn left"}, "admissible_actions must be a sequence"),
        ({"admissible_actions": ("a", 3)}, "item 1 is not"),
        ({"observations": ()}, "at least the current observation"),
        ({"observations": (3,)}, "observation 0 must be a string"),
        ({"actions": ("a", "b", "c")}, "3 past actions for 3 observations"),
        ({"goal": None}, "goal must be a string"),
    ],
)
def test_bad_policy_inputs(kwargs, match):
    base = {
        "goal": "go to the red ball",
        "observations": OBS,
        "actions": (),
        "admissible_actions": ACTIONS,
    }
    with pytest.raises(ValueError, match=match):
        PolicyInput(**{**base, **kwargs})


def test_from_any_rejects_other_types():
    with pytest.raises(ValueError, match="PolicyInput or a mapping"):
        PolicyInput.from_any(["go to the red ball"])


# --------------------------------------------------------------------------- templates


def test_paper_template_is_the_reference_text():
    assert build_prompt("paper", GAME_OBS) == PAPER


def test_compact_template_exact_string():
    assert build_prompt("compact", GAME_OBS) == COMPACT


def test_first_step_of_an_episode():
    first = {**GAME_OBS, "observation_history": OBS[:1], "action_history": ()}
    assert build_prompt("paper", first) == (
        "Possible action of the agent: turn left, turn right, go forward, pick up, drop, toggle"
        " \n Goal of the agent: pick up the red ball"
        " \n Observation 0: You see a wall 2 steps forward, You see a red ball 1 step left, "
        "\n Action 0: "
    )
    assert build_prompt("compact", first) == (
        "Possible action of the agent: turn left, turn right, go forward, pick up, drop, toggle\n"
        "Goal of the agent: pick up the red ball\n"
        "Observation 0: You see a wall 2 steps forward, You see a red ball 1 step left\n"
        "Action 0:"
    )


def test_fewer_actions_are_aligned_to_the_latest_observations():
    partial = {**GAME_OBS, "action_history": ("pick up",)}
    assert build_prompt("paper", partial) == PAPER.replace("\n Action 0: turn left", "")
    assert build_prompt("compact", partial) == COMPACT.replace("Action 0: turn left\n", "")


def test_an_empty_observation_gets_no_sentence_separator():
    """The reference writes ", " after each sentence: none when there is no sentence."""
    blank = {**GAME_OBS, "observation_history": ("", OBS[1]), "action_history": ("go forward",)}
    assert build_prompt("paper", blank).endswith(
        " \n Observation 0: \n Action 0: go forward"
        " \n Observation 1: You see a red ball 1 step forward, \n Action 1: "
    )


@pytest.mark.parametrize(
    ("name", "base", "old", "new"),
    [
        ("i_would_like", PAPER, " \n Goal of the agent:", " \n I would like the agent to:"),
        ("you_have_to", PAPER, " \n Goal of the agent:", " \n You have to:"),
        ("compact_i_would_like", COMPACT, "\nGoal of the agent:", "\nI would like the agent to:"),
        ("compact_you_have_to", COMPACT, "\nGoal of the agent:", "\nYou have to:"),
    ],
)
def test_goal_phrasing_variants_change_only_the_goal_words(name, base, old, new):
    """As the paper's test did: "Goal of the agent" replaced in the prompt, colon kept."""
    assert base.count(old) == 1
    assert build_prompt(name, GAME_OBS) == base.replace(old, new)


FRENCH_OBS = {
    "mission": "va à la balle rouge",
    "observation_history": (
        "Tu vois un mur à 2 pas devant",
        "Tu vois une balle rouge 1 pas devant",
    ),
    "action_history": ("aller tout droit",),
    "admissible_actions": ("tourner à gauche", "tourner à droite", "aller tout droit"),
}


def test_french_template_is_the_reference_text():
    assert build_prompt("french", FRENCH_OBS) == (
        "Actions possibles pour l'agent: tourner à gauche, tourner à droite, aller tout droit"
        " \n But de l'agent: va à la balle rouge"
        " \n Observation 0: Tu vois un mur à 2 pas devant, "
        "\n Action 0: aller tout droit"
        " \n Observation 1: Tu vois une balle rouge 1 pas devant, "
        "\n Action 1: "
    )


def test_compact_french_template_exact_string():
    assert build_prompt("compact_french", FRENCH_OBS) == (
        "Actions possibles pour l'agent: tourner à gauche, tourner à droite, aller tout droit\n"
        "But de l'agent: va à la balle rouge\n"
        "Observation 0: Tu vois un mur à 2 pas devant\n"
        "Action 0: aller tout droit\n"
        "Observation 1: Tu vois une balle rouge 1 pas devant\n"
        "Action 1:"
    )


def test_named_templates_and_unknown_name():
    assert list(TEMPLATES) == [
        "paper",
        "i_would_like",
        "you_have_to",
        "french",
        "compact",
        "compact_i_would_like",
        "compact_you_have_to",
        "compact_french",
    ]
    assert get_template("paper") is TEMPLATES["paper"]
    assert all(template.name == name for name, template in TEMPLATES.items())
    with pytest.raises(ValueError, match=r"'papier'.*paper, i_would_like, .*compact_french"):
        get_template("papier")
    with pytest.raises(ValueError, match="unknown prompt template"):
        build_prompt("nope", GAME_OBS)


def test_a_dict_template_starts_from_the_compact_values():
    assert PromptTemplate.model_validate({"name": "compact"}) == TEMPLATES["compact"]
    custom = PromptTemplate.model_validate({"goal_line": "Mission: {goal}"})
    assert build_prompt(custom, GAME_OBS) == COMPACT.replace("Goal of the agent:", "Mission:")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("paper", True),
        ("i_would_like", True),
        ("french", True),
        ("compact", False),
        ("compact_french", False),
    ],
)
def test_which_templates_end_prompts_with_whitespace(name, expected):
    assert TEMPLATES[name].ends_with_whitespace is expected
    assert build_prompt(name, GAME_OBS)[-1:].isspace() is expected


def test_a_query_ending_with_a_field_is_taken_to_end_on_a_word():
    assert PromptTemplate(query="Action {index}").ends_with_whitespace is False
    assert PromptTemplate(query="Action {index}:\n").ends_with_whitespace is True


def test_user_template_from_a_config_dict():
    spec = {
        "name": "compact",
        "header": "",
        "goal_line": "Task: {goal} | choose from [{actions}]",
        "observation": "t={index} saw: {observation}",
        "action": "t={index} did: {action}",
        "query": "t={index} do ({goal}):",
        "action_separator": "; ",
        "line_separator": " || ",
    }
    one = {**GAME_OBS, "observation_history": OBS[1:], "action_history": ("pick up",)}
    assert build_prompt(spec, one) == (
        "Task: pick up the red ball | choose from [turn left; turn right; go forward; pick up; "
        "drop; toggle] || t=0 saw: You see a red ball 1 step forward || t=0 did: pick up"
        " || t=1 saw: You carry a red ball || t=1 do (pick up the red ball):"
    )
    assert resolve_template(spec) == PromptTemplate.model_validate_json(
        PromptTemplate.model_validate(spec).model_dump_json()
    )


def test_braces_in_texts_are_not_interpreted():
    obs = {**GAME_OBS, "mission": "go to {actions}", "action_history": ("{index}", "x")}
    assert "Goal of the agent: go to {actions}" in build_prompt("paper", obs)
    assert "Action 0: {index}" in build_prompt("paper", obs)


def test_build_prompts_batch():
    second = {**GAME_OBS, "mission": "go to the grey box"}
    prompts = build_prompts("paper", [GAME_OBS, second])
    assert prompts == [PAPER, PAPER.replace("pick up the red ball", "go to the grey box")]


def test_user_template_with_an_observation_suffix():
    spec = {"observation": "[{observation}]", "observation_suffix": ".", "line_separator": " "}
    one = {**GAME_OBS, "observation_history": OBS[1:], "action_history": ("pick up",)}
    assert build_prompt(spec, one).endswith(
        "[You see a red ball 1 step forward.] Action 0: pick up [You carry a red ball.] Action 1:"
    )


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"goal_line": "Goal: {mission}"}, r"'goal_line' uses unknown field\(s\) \{mission\}"),
        ({"header": "{index} {actions}"}, r"'header'.*\{index\}.*allowed: \{actions\}, \{goal\}"),
        ({"action": "Action {index}: {observation}"}, r"'action'.*\{observation\}"),
        ({"observation": "Obs {}: {observation}"}, "only named fields"),
        ({"observation": "Obs {0}"}, "only named fields"),
        ({"goal_line": "Goal {goal.__class__}"}, "only named fields"),
        ({"query": "Action {index"}, "not a valid format string"),
        ({"query": ""}, "query must not be empty"),
        ({"prompt": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_user_templates_name_the_problem(fields, match):
    with pytest.raises(ValidationError, match=match):
        PromptTemplate(**fields)


def test_resolve_template_rejects_other_types():
    with pytest.raises(ValueError, match="name, a mapping of fields or a PromptTemplate"):
        resolve_template(3)


# --------------------------------------------------------------------------- truncation


def test_truncate_left_keeps_the_end_and_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="glam_policy.prompts"):
        ids, cut = truncate_left(list(range(10)), 4)
    assert (ids, cut) == ([6, 7, 8, 9], True)
    assert "10 tokens exceeds the limit of 4" in caplog.text


def test_truncate_left_short_prompt_is_untouched_and_silent(caplog):
    with caplog.at_level(logging.WARNING):
        assert truncate_left([1, 2, 3], 3) == ([1, 2, 3], False)
    assert caplog.text == ""
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        truncate_left([1], 0)


@pytest.mark.parametrize(
    ("base", "phrasing", "expected"),
    [
        ("paper", "i_would_like", "i_would_like"),
        ("paper", "french", "french"),
        ("compact", "you_have_to", "compact_you_have_to"),
        ("compact_french", "i_would_like", "compact_i_would_like"),
        ("paper", "compact_i_would_like", "i_would_like"),
        ("compact", "paper", "paper"),  # a template named outright stays itself
    ],
)
def test_goal_phrasing_follows_the_agents_layout(base: str, phrasing: str, expected: str) -> None:
    from glam_policy.prompts import TEMPLATES, phrasing_variant

    assert phrasing_variant(base, phrasing) == expected
    assert expected in TEMPLATES
