"""French missions for every BabyAI/Mixed form, and the French action names."""

from __future__ import annotations

import re

import gymnasium as gym
import minigrid  # noqa: F401  (registers the BabyAI levels)
import pytest

from glam_env import BabyAITextEnv
from glam_env.french import FRENCH_ACTION_NAMES, translate_mission


@pytest.mark.parametrize(
    ("mission", "expected"),
    [
        ("go to the red ball", "va à la balle rouge"),
        ("go to a green key", "va à une clef verte"),
        ("go to the box", "va à la boîte"),
        ("go to the blue object", "va à l'objet bleu"),
        ("go to a object", "va à un objet"),
        ("pick up the purple box", "attrape la boîte violette"),
        ("pick up a yellow key", "attrape une clef jaune"),
        ("open the grey door", "ouvre la porte grise"),
        ("open the door", "ouvre la porte"),
        ("open a door", "ouvre une porte"),
        ("open the door on your left", "ouvre la porte à ta gauche"),
        ("go to the ball in front of you", "va à la balle devant toi"),
        ("pick up a key behind you", "attrape une clef derrière toi"),
        ("go to a grey object on your right", "va à un objet gris à ta droite"),
        (
            "put the red ball next to the blue box",
            "pose la balle rouge à côté de la boîte bleue",
        ),
        ("put a key next to a yellow ball", "pose une clef à côté d'une balle jaune"),
        ("put the ball next to the green object", "pose la balle à côté de l'objet vert"),
        ("put the ball next to a object", "pose la balle à côté d'un objet"),
        (
            "pick up the red key, then go to a blue ball",
            "attrape la clef rouge, puis va à une balle bleue",
        ),
        (
            "go to a blue ball after you pick up the red key",
            "va à une balle bleue après avoir attrapé la clef rouge",
        ),
        (
            "pick up a green box, then pick up the grey ball",
            "attrape une boîte verte, puis attrape la balle grise",
        ),
        (
            "pick up the grey ball after you pick up a green box",
            "attrape la balle grise après avoir attrapé une boîte verte",
        ),
        (
            "open the red door after you go to the key",
            "ouvre la porte rouge après être allé à la clef",
        ),
        (
            "pick up the key after you open the door",
            "attrape la clef après avoir ouvert la porte",
        ),
        (
            "go to the box after you put the ball next to a key",
            "va à la boîte après avoir posé la balle à côté d'une clef",
        ),
        (
            "go to the red ball and open a door",
            "va à la balle rouge et ouvre une porte",
        ),
        (
            "open the door and pick up the ball, then go to the key and go to the box",
            "ouvre la porte et attrape la balle, puis va à la clef et va à la boîte",
        ),
        (
            "go to the key after you open the door and go to a ball",
            "va à la clef après avoir ouvert la porte et être allé à une balle",
        ),
    ],
)
def test_translate_every_form(mission: str, expected: str) -> None:
    assert translate_mission(mission) == expected


def test_extra_whitespace_is_tolerated() -> None:
    assert translate_mission("  go to  the red ball ") == "va à la balle rouge"


@pytest.mark.parametrize(
    "mission",
    [
        "get to the green goal square",
        "go to the red chair",
        "go to the pink ball",
        "pick up the red ball, then",
        "jump",
        "",
    ],
)
def test_unknown_forms_fail_naming_them(mission: str) -> None:
    with pytest.raises(ValueError, match="cannot translate mission") as error:
        translate_mission(mission)
    assert repr(mission) in str(error.value)


_ENGLISH_WORDS = re.compile(
    r"\b(the|a|go|to|pick|up|open|put|next|then|after|you|and|red|green|blue|purple|"
    r"yellow|grey|key|ball|box|door|object)\b"
)


def test_every_babyai_level_mission_translates() -> None:
    """Missions of every BabyAI level minigrid ships translate with no English word left."""
    levels = sorted(
        name
        for name, spec in gym.registry.items()
        if name.startswith("BabyAI-") and str(spec.entry_point).startswith("minigrid.")
    )
    assert len(levels) > 20
    missions = set()
    for level in levels:
        env = gym.make(level)
        for seed in range(2):
            missions.add(env.reset(seed=seed)[0]["mission"])
        env.close()
    for mission in missions:
        french = translate_mission(mission)
        assert _ENGLISH_WORDS.search(french) is None, (mission, french)


def test_french_action_names() -> None:
    assert FRENCH_ACTION_NAMES == (
        "tourner à gauche",
        "tourner à droite",
        "aller tout droit",
        "attraper",
        "lâcher",
        "basculer",
    )


_FRENCH_GO_TO = re.compile(
    r"va à (la|une) (clef|balle|boîte) (rouge|verte|bleue|violette|jaune|grise)"
)


def test_go_to_french_missions_are_french_go_to_missions() -> None:
    """GoToFrench speaks French by default: every mission a French "go to" of its target."""
    env = BabyAITextEnv("GoToFrench")
    again = BabyAITextEnv("GoToFrench")
    missions = set()
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        raw = env.minigrid_env.mission
        assert re.fullmatch(r"go to (the|a) \w+ (key|ball|box)", raw)
        assert obs["mission"] == translate_mission(raw)
        assert _FRENCH_GO_TO.fullmatch(obs["mission"]), obs["mission"]
        assert obs["admissible_actions"] == FRENCH_ACTION_NAMES
        assert all(sentence.startswith("Tu ") for sentence in info["sentences"])
        assert again.reset(seed=seed)[0]["mission"] == obs["mission"]  # seeded
        missions.add(obs["mission"])
    assert len(missions) > 15
    assert any(m.startswith("va à la ") for m in missions)
    assert any(m.startswith("va à une ") for m in missions)
