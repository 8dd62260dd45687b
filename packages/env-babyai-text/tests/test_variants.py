"""Generalization presets: each rewrites mission, observation and action text consistently."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from glam_env import make_env
from glam_env.variants import VARIANT_NAMES, TextVariant, get_variant, load_variant

PAPER_ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
MISSION = "pick up the red key, then go to the grey box"


def view() -> np.ndarray:
    """A 7x7 encoded view: red key ahead, blue ball left, yellow box right, purple door."""
    image = np.ones((7, 7, 3), dtype=np.uint8)  # every cell seen and empty
    image[1, 5] = (6, 2, 0)  # blue ball, 2 left 1 forward
    image[3, 4] = (5, 0, 0)  # red key, 2 forward
    image[4, 2] = (4, 3, 1)  # closed purple door, 1 right 4 forward
    image[5, 6] = (7, 4, 0)  # yellow box, 2 right
    return image


ENGLISH_SENTENCES = [
    "You see a blue ball 2 steps left and 1 step forward",
    "You see a red key 2 steps forward",
    "You see a closed purple door 1 step right and 4 steps forward",
    "You see a yellow box 2 steps right",
]


def test_variant_names_are_the_papers() -> None:
    assert VARIANT_NAMES == (
        "none",
        "renamed_nouns",
        "adjective_synonyms",
        "invented_nouns",
        "invented_adjectives",
        "invented_words",
        "synonym_actions",
        "synonym_actions_2",
        "french",
    )


def test_none_changes_nothing() -> None:
    variant = get_variant("none")
    assert variant.mission(MISSION) == MISSION
    assert variant.sentences(view()) == ENGLISH_SENTENCES
    assert variant.actions(PAPER_ACTIONS) == PAPER_ACTIONS


@pytest.mark.parametrize(
    ("name", "mission", "sentences"),
    [
        (
            "renamed_nouns",
            "pick up the red chair, then go to the grey car",
            [
                "You see a blue table 2 steps left and 1 step forward",
                "You see a red chair 2 steps forward",
                "You see a closed purple door 1 step right and 4 steps forward",
                "You see a yellow car 2 steps right",
            ],
        ),
        (
            "adjective_synonyms",
            "pick up the vermilion key, then go to the silver box",
            [
                "You see a cyan ball 2 steps left and 1 step forward",
                "You see a vermilion key 2 steps forward",
                "You see a closed violet door 1 step right and 4 steps forward",
                "You see a golden box 2 steps right",
            ],
        ),
        (
            "invented_nouns",
            "pick up the red dax, then go to the grey afze",
            [
                "You see a blue xolo 2 steps left and 1 step forward",
                "You see a red dax 2 steps forward",
                "You see a closed purple door 1 step right and 4 steps forward",
                "You see a yellow afze 2 steps right",
            ],
        ),
        (
            "invented_adjectives",
            "pick up the faze key, then go to the sil box",
            [
                "You see a croh ball 2 steps left and 1 step forward",
                "You see a faze key 2 steps forward",
                "You see a closed vurst door 1 step right and 4 steps forward",
                "You see a gakul box 2 steps right",
            ],
        ),
        (
            "invented_words",
            "pick up the faze dax, then go to the sil afze",
            [
                "You see a croh xolo 2 steps left and 1 step forward",
                "You see a faze dax 2 steps forward",
                "You see a closed vurst door 1 step right and 4 steps forward",
                "You see a gakul afze 2 steps right",
            ],
        ),
    ],
)
def test_word_presets_rewrite_mission_observation_and_actions(
    name: str, mission: str, sentences: list[str]
) -> None:
    variant = get_variant(name)
    assert variant.name == name
    assert variant.mission(MISSION) == mission
    assert variant.sentences(view()) == sentences
    # The same substitution reaches action strings: the paper's six contain no
    # noun or colour, so they stay; action strings that do contain one change.
    assert variant.actions(PAPER_ACTIONS) == PAPER_ACTIONS
    custom = ("go to red key", "drop grey box")
    assert variant.actions(custom) == tuple(variant.apply(action) for action in custom)
    assert variant.actions(custom) != custom
    assert variant.apply(", ".join(ENGLISH_SENTENCES)) == ", ".join(sentences)


SYNONYMS = {
    "synonym_actions": ("rotate left", "rotate right", "move ahead", "take", "release", "switch"),
    # The reference's second set (experiments/test_results.py of the paper's repository).
    "synonym_actions_2": ("shift left", "shift right", "go ahead", "take", "release", "turn"),
}


@pytest.mark.parametrize("name", list(SYNONYMS))
def test_synonym_actions_rename_actions_only(name: str) -> None:
    variant = get_variant(name)
    # In MiniGrid's order: position i is still MiniGrid action i (action heads rely on it).
    assert variant.actions(PAPER_ACTIONS) == SYNONYMS[name]
    # The paper replaces the action vocabulary, not the goal nor the observations.
    assert variant.mission(MISSION) == MISSION
    assert variant.sentences(view()) == ENGLISH_SENTENCES
    assert variant.substitutions == {}


@pytest.mark.parametrize("name", list(SYNONYMS))
def test_synonym_actions_on_3_and_9_action_sets(name: str) -> None:
    variant = get_variant(name)
    assert variant.actions(PAPER_ACTIONS[:3]) == SYNONYMS[name][:3]
    nine = (*PAPER_ACTIONS, "sleep", "do nothing", "think")
    assert variant.actions(nine) == (*SYNONYMS[name], "sleep", "do nothing", "think")


@pytest.mark.parametrize("name", list(SYNONYMS))
def test_synonym_actions_reach_the_action_list_and_history_only(name: str) -> None:
    """Both prompt parts made of actions (the list, the actions taken) are renamed; the
    goal and the observations, and the game itself, are the plain env's."""
    plain = make_env(level="MixedTrainLocal", history_length=3)
    varied = make_env(level="MixedTrainLocal", history_length=3, variant=name)
    taken = 0
    for seed in range(3):
        obs, _ = plain.reset(seed=seed)
        vobs, _ = varied.reset(seed=seed)
        assert vobs["admissible_actions"] == SYNONYMS[name]
        for action in (3, 1, 2, 4, 0, 5, 2):
            obs, reward, terminated, truncated, _ = plain.step(action)
            vobs, vreward, vterminated, vtruncated, _ = varied.step(action)
            taken += 1
            assert (vreward, vterminated, vtruncated) == (reward, terminated, truncated)
            for key in ("mission", "observation", "observation_history"):
                assert vobs[key] == obs[key]
            assert vobs["action_history"] == tuple(
                SYNONYMS[name][PAPER_ACTIONS.index(a)] for a in obs["action_history"]
            )
            texts = (*vobs["admissible_actions"], *vobs["action_history"])
            assert not set(texts) & set(PAPER_ACTIONS), texts
            if terminated or truncated:
                break
    assert taken > 10


def test_second_synonym_set_follows_the_canonical_order() -> None:
    """Built from a canonical-name mapping: "turn" is toggle's new name, not a rotation."""
    from glam_env.actions import CANONICAL_ACTIONS, SYNONYM_ACTIONS_2, minigrid_actions

    names = get_variant("synonym_actions_2").actions(PAPER_ACTIONS)
    canonical = {new: old for old, new in SYNONYM_ACTIONS_2.items()}
    assert [canonical[name] for name in names] == list(PAPER_ACTIONS)
    assert minigrid_actions([canonical["turn"]]) == (CANONICAL_ACTIONS["toggle"],)


def test_french_rewrites_all_three_kinds() -> None:
    variant = get_variant("french")
    assert variant.language == "fr"
    assert variant.mission(MISSION) == "attrape la clef rouge, puis va à la boîte grise"
    assert variant.sentences(view()) == [
        "Tu vois une balle bleue 2 pas à gauche et 1 pas devant",
        "Tu vois une clef rouge 2 pas devant",
        "Tu vois une porte violette fermée 1 pas à droite et 4 pas devant",
        "Tu vois une boîte jaune 2 pas à droite",
    ]
    assert variant.actions(PAPER_ACTIONS) == (
        "tourner à gauche",
        "tourner à droite",
        "aller tout droit",
        "attraper",
        "lâcher",
        "basculer",
    )


def test_french_on_3_and_9_action_sets() -> None:
    variant = get_variant("french")
    assert variant.actions(PAPER_ACTIONS[:3]) == (
        "tourner à gauche",
        "tourner à droite",
        "aller tout droit",
    )
    nine = variant.actions((*PAPER_ACTIONS, "sleep", "do nothing", "think"))
    assert nine[3:] == ("attraper", "lâcher", "basculer", "dormir", "ne rien faire", "réfléchir")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the key", "the chair"),
        ("two keys", "two chairs"),
        ("boxes and balls", "cars and tables"),
        ("Key, Keys", "Chair, Chairs"),
        ("keyboard monkey keys2 key_ring", "keyboard monkey keys2 key_ring"),
        ("key-ring", "chair-ring"),
        ("a box.", "a car."),
        ("", ""),
    ],
)
def test_whole_words_and_plurals(text: str, expected: str) -> None:
    assert get_variant("renamed_nouns").apply(text) == expected


def test_colour_inside_other_words_untouched() -> None:
    variant = get_variant("adjective_synonyms")
    assert variant.apply("blueberry greyish reddish green") == "blueberry greyish reddish jade"


def test_plurals_can_be_turned_off() -> None:
    variant = TextVariant(substitutions={"key": "chair"}, plurals=False)
    assert variant.apply("key keys") == "chair keys"


def test_substitutions_happen_in_one_pass() -> None:
    swap = TextVariant(substitutions={"key": "ball", "ball": "key"})
    assert swap.apply("the key and the ball") == "the ball and the key"


def test_multi_word_keys_and_longest_match_first() -> None:
    variant = TextVariant(substitutions={"pick up": "grab", "pick": "choose"})
    assert variant.apply("pick up the key, pick one") == "grab the key, choose one"


def test_cache_returns_same_results() -> None:
    variant = get_variant("invented_words")
    first = [variant.apply(sentence) for sentence in ENGLISH_SENTENCES]
    assert [variant.apply(sentence) for sentence in ENGLISH_SENTENCES] == first


def test_custom_variant_from_dict_yaml_and_json(tmp_path: Path) -> None:
    data = {
        "name": "kitchen",
        "substitutions": {"key": "spoon", "ball": "apple"},
        "action_names": ["left", "right", "ahead", "grab", "put down", "use"],
    }
    from_dict = load_variant(data)
    yaml_path = tmp_path / "kitchen.yaml"
    yaml_path.write_text(
        "name: kitchen\nsubstitutions: {key: spoon, ball: apple}\n"
        "action_names: [left, right, ahead, grab, put down, use]\n",
        encoding="utf-8",
    )
    json_path = tmp_path / "kitchen.json"
    json_path.write_text(json.dumps(data), encoding="utf-8")
    for variant in (from_dict, load_variant(yaml_path), load_variant(str(json_path))):
        assert variant == from_dict
        assert variant.mission("go to the red key") == "go to the red spoon"
        assert variant.actions(PAPER_ACTIONS)[3] == "grab"
    assert load_variant("french") == get_variant("french")
    assert load_variant(from_dict) is from_dict


def test_unknown_preset_lists_valid_names_and_close_matches() -> None:
    with pytest.raises(ValueError, match="unknown text variant 'invented_noun'") as error:
        get_variant("invented_noun")
    message = str(error.value)
    assert "valid variants: none, renamed_nouns" in message
    assert "Did you mean: invented_nouns" in message
    with pytest.raises(ValueError, match="unknown text variant 'zzz'"):
        load_variant("zzz")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"language": "de"}, "language"),
        ({"substitutions": {"": "x"}}, "non-empty word"),
        ({"substitutions": {" key": "x"}}, "leading/trailing"),
        ({"substitutions": {"key": " "}}, "non-empty string"),
        ({"action_names": []}, "non-empty"),
        ({"action_names": ["a", " "]}, "non-empty strings"),
        ({"action_names": ["a", "b", "a"]}, "repeated"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_custom_variants_fail_clearly(data: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        TextVariant.model_validate(data)


def test_wrong_number_of_action_names_fails_clearly() -> None:
    variant = TextVariant(name="four", action_names=("a", "b", "c", "d"))
    with pytest.raises(ValueError, match="variant 'four' has 4 action_names; the env has 6"):
        variant.actions(PAPER_ACTIONS)


def test_bad_variant_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        load_variant(tmp_path / "missing.yaml")
    not_a_mapping = tmp_path / "list.yaml"
    not_a_mapping.write_text("- key\n- chair\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must hold a mapping"):
        load_variant(not_a_mapping)


def test_variants_are_immutable() -> None:
    variant = get_variant("renamed_nouns")
    with pytest.raises(ValidationError):
        variant.language = "fr"  # type: ignore[misc]


def test_variants_survive_pickling_for_subprocess_vector_envs() -> None:
    variant = get_variant("invented_words")
    variant.apply("the red key")  # fill the cache: it must not break pickling
    clone = pickle.loads(pickle.dumps(variant))
    assert clone == variant
    assert clone.apply("the red key") == "the faze dax"


def test_model_copy_with_new_substitutions_uses_them() -> None:
    variant = get_variant("renamed_nouns")
    assert variant.apply("key") == "chair"
    copied = variant.model_copy(update={"substitutions": {"key": "spoon"}})
    assert copied.apply("key") == "spoon"
    assert variant.apply("key") == "chair"
