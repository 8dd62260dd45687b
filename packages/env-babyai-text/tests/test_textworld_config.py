"""TextWorld configs, cache names and feedback cleaning: no game is generated here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from glam_env.textworld.clean import clean_feedback
from glam_env.textworld.config import (
    TEXTWORLD_GAMES,
    TextWorldConfig,
    default_cache_dir,
    resolve_textworld_config,
)
from glam_env.textworld.generate import game_dir_name

# ---- configs -------------------------------------------------------------------------------


def test_defaults_are_a_level_one_coin_collector() -> None:
    config = TextWorldConfig()
    assert config.game == "coin_collector"
    assert config.difficulty == {"level": 1}
    assert config.challenge == "tw-coin_collector"
    assert config.num_games == 1


def test_each_game_fills_its_own_difficulty_defaults() -> None:
    assert set(TEXTWORLD_GAMES) == {"coin_collector", "treasure_hunter", "simple", "cooking"}
    simple = TextWorldConfig(game="simple")
    assert simple.difficulty == {"rewards": "dense", "goal": "detailed", "test": False}
    cooking = TextWorldConfig(game="cooking", difficulty={"recipe": 2, "go": 6, "cut": True})
    assert cooking.difficulty["take"] == 1 and cooking.difficulty["go"] == 6


def test_unknown_game_names_it_and_lists_the_games() -> None:
    with pytest.raises(ValidationError) as error:
        TextWorldConfig(game="coin_colector")
    message = str(error.value)
    assert "'coin_colector'" in message
    assert "Did you mean: coin_collector" in message
    assert "cooking" in message and "treasure_hunter" in message


@pytest.mark.parametrize(
    ("game", "difficulty", "expected"),
    [
        ("coin_collector", {"level": 301}, "level: Input should be less than or equal to 300"),
        ("coin_collector", {"level": 0}, "greater than or equal to 1"),
        ("treasure_hunter", {"level": 31}, "less than or equal to 30"),
        ("simple", {"rewards": "very"}, "'dense', 'balanced' or 'sparse'"),
        ("cooking", {"go": 5}, "go: Input should be 1, 6, 9 or 12"),
        ("cooking", {"recipe": 6}, "recipe: Input should be less than or equal to 5"),
        ("cooking", {"recipe": 1, "take": 2}, "take=2 is impossible with recipe=1"),
        ("cooking", {"take": 0, "recipe_seed": 3}, "recipe_seed=3 needs take >= 1"),
        ("coin_collector", {"levle": 2}, "levle: Extra inputs are not permitted"),
    ],
)
def test_impossible_difficulty_names_the_value_and_what_is_allowed(
    game: str, difficulty: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValidationError) as error:
        TextWorldConfig(game=game, difficulty=difficulty)
    message = str(error.value)
    assert f"impossible difficulty for {game}" in message
    assert expected in message
    assert "settings of" in message  # lists the knobs of that game


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_actions", 0), ("max_episode_steps", 0), ("num_games", 0), ("seed", -1)],
)
def test_out_of_range_fields_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        TextWorldConfig(**{field: value})


def test_seed_pool_past_textworlds_largest_seed_is_refused() -> None:
    with pytest.raises(ValidationError, match="largest seed 65534"):
        TextWorldConfig(seed=65_530, num_games=10)


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="levle"):
        TextWorldConfig.from_dict({"levle": 3})


def test_config_loads_from_yaml_and_json(tmp_path) -> None:
    yaml_file = tmp_path / "tw.yaml"
    yaml_file.write_text("game: treasure_hunter\ndifficulty:\n  level: 12\nseed: 4\n")
    config = TextWorldConfig.from_file(yaml_file)
    assert (config.game, config.difficulty, config.seed) == ("treasure_hunter", {"level": 12}, 4)
    json_file = tmp_path / "tw.json"
    json_file.write_text(json.dumps({"game": "simple", "difficulty": {"goal": "brief"}}))
    assert TextWorldConfig.from_file(json_file).difficulty["goal"] == "brief"


def test_environment_id_fixes_the_game() -> None:
    config = resolve_textworld_config({"difficulty": {"level": 7}}, game="treasure_hunter")
    assert config.game == "treasure_hunter"
    with pytest.raises(ValueError, match="plays 'cooking' but its config asks for 'simple'"):
        resolve_textworld_config({"game": "simple"}, game="cooking")
    with pytest.raises(TypeError, match="TextWorldConfig, a mapping or None"):
        resolve_textworld_config(["coin_collector"])  # type: ignore[arg-type]


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "glam" / "textworld"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir().parts[-3:] == (".cache", "glam", "textworld")
    assert TextWorldConfig(cache_dir=tmp_path).resolved_cache_dir() == tmp_path


def test_cache_names_are_readable_and_differ_by_every_input() -> None:
    base = TextWorldConfig(difficulty={"level": 3})
    name = game_dir_name(base, 1, "1.7.0")
    assert name.startswith("coin_collector-level3-seed1-")
    others = {
        game_dir_name(base, 2, "1.7.0"),
        game_dir_name(base, 1, "1.6.0"),
        game_dir_name(TextWorldConfig(difficulty={"level": 4}), 1, "1.7.0"),
        game_dir_name(TextWorldConfig(game="treasure_hunter", difficulty={"level": 3}), 1, "1.7.0"),
    }
    assert name not in others and len(others) == 4
    assert game_dir_name(TextWorldConfig(difficulty={"level": 3}), 1, "1.7.0") == name


# ---- feedback cleaning (raw strings as TextWorld 1.7 prints them) ---------------------------

_INTRO = (
    "\n\n\n                    ________  ________  __    __  ________        \n"
    "                   |        \\|        \\|  \\  |  \\|        \\       \n"
    "                      | $$   | $$  \\     >$$  $$    | $$          \n"
    "              \\$$      \\$$  \\$$$$$$  \\$$   \\$$ \\$$$$$$$$ \\$$$$$$$ \n\n"
    "Your objective is to retrieve the passkey from the floor of the cookery.\n\n"
    "-= Cookery =-\nYou arrive in a cookery. A normal kind of place.\n\n\n\n"
    "There is a passkey on the floor.\n\n>" + " " * 100 + "-= Cookery =-0/1"
)
_END = (
    "\nYou pick up the passkey from the ground.\n\n\n\nYour score has just gone up by one point."
    "\n\n\n                                                       *** The End ***\n\n"
    "You scored 1 out of a possible 1, in 4 turns.\n\n\n"
    "Would you like to RESTART, RESTORE a saved game, QUIT or UNDO the last command?\n>"
    + " " * 100
    + "-= Cookery =-0/3"
)


def test_clean_feedback_drops_banner_objective_and_status_bar() -> None:
    objective = "Your objective is to retrieve the passkey from the floor of the cookery."
    assert clean_feedback(_INTRO, objective) == (
        "-= Cookery =-\nYou arrive in a cookery. A normal kind of place.\n"
        "There is a passkey on the floor."
    )


def test_clean_feedback_drops_end_question_and_keeps_the_score() -> None:
    assert clean_feedback(_END) == (
        "You pick up the passkey from the ground.\nYour score has just gone up by one point.\n"
        "*** The End ***\nYou scored 1 out of a possible 1, in 4 turns."
    )


def test_clean_feedback_keeps_text_lines_with_symbols() -> None:
    recipe = 'You open the copy of "Cooking".\n\nRecipe #1\n---------\nmilk\n\n>  -= Kitchen =-2/7'
    assert clean_feedback(recipe) == 'You open the copy of "Cooking".\nRecipe #1\n---------\nmilk'


# ---- optional dependencies and registration -----------------------------------------------


def test_missing_textworld_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from glam_env.textworld.generate import TextWorldNotInstalledError, import_textworld

    monkeypatch.setitem(sys.modules, "textworld", None)  # makes `import textworld` fail
    with pytest.raises(TextWorldNotInstalledError, match=r"glam-env-babyai-text\[textworld\]"):
        import_textworld()


def test_configs_and_registration_import_neither_textworld_nor_pettingzoo() -> None:
    code = (
        "import sys, gymnasium\n"
        "from glam_env.board_games import BoardGameConfig, register_other_games\n"
        "from glam_env.textworld import TextWorldConfig\n"
        "register_other_games(); register_other_games()\n"
        "ids = [i for i in gymnasium.registry if i.startswith(('TextWorld/', 'BoardGame-Text/'))]\n"
        "print(len(ids), 'textworld' in sys.modules, 'pettingzoo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["6", "False", "False"]
