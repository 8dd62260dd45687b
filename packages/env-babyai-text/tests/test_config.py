"""BabyAITextConfig: defaults, loading from dict/YAML/JSON, and every rejected value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from glam_env import (
    OBSERVATION_HISTORY,
    BabyAITextConfig,
    BabyAITextEnv,
    HistoryWrapper,
    get_variant,
    make_env,
)
from glam_env.actions import ACTION_PRESETS, resolve_action_names


def test_defaults_are_the_papers_setting() -> None:
    config = BabyAITextConfig()
    assert config.level == "MixedTrainLocal"
    assert config.actions == "paper6"
    assert config.history_length == 3
    assert config.variant == get_variant("none")
    assert config.resolved_language == "en"
    env = make_env(config)
    assert isinstance(env, HistoryWrapper) and env.num_observations == 3
    obs, _ = env.reset(seed=0)
    assert len(obs[OBSERVATION_HISTORY]) == 1


def test_history_length_one_means_no_history_wrapper() -> None:
    env = make_env(BabyAITextConfig(level="GoToLocal", history_length=1))
    assert isinstance(env, BabyAITextEnv)


def test_levels_are_canonicalised_and_languages_resolved() -> None:
    assert BabyAITextConfig(level="BabyAI-GoToLocal-v0").level == "GoToLocal"
    assert BabyAITextConfig(level="GoToFrench").resolved_language == "fr"
    assert BabyAITextConfig(variant="french").resolved_language == "fr"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_round_trip(tmp_path: Path, suffix: str) -> None:
    config = BabyAITextConfig(
        level="MixedTestLocal",
        actions=("turn left", "turn right", "go forward", "pick up"),
        history_length=2,
        max_steps=50,
        family_weights={"go_to": 2.0, "open": 1.0},
        num_distractors=4,
        variant="invented_nouns",
        substitutions={"wall": "fence"},
    )
    path = tmp_path / f"env{suffix}"
    data = config.to_dict()
    path.write_text(yaml.safe_dump(data) if suffix == ".yaml" else json.dumps(data))
    loaded = BabyAITextConfig.from_file(path)
    assert loaded == config
    env = make_env(loaded)
    obs, info = env.reset(seed=0)
    assert info["family"] in ("go_to", "open")
    assert env.unwrapped.minigrid_env.max_steps == 50
    assert "fence" in obs["observation"] or "wall" not in obs["observation"]


def test_variant_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump({"name": "spoons", "substitutions": {"key": "spoon"}}))
    config = BabyAITextConfig.from_dict({"level": "GoToLocal", "variant": str(path)})
    assert config.variant.name == "spoons"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"levle": "GoToLocal"}, "levle"),
        ({"level": "GoToLocl"}, "Did you mean: GoToLocal"),
        ({"language": "de"}, "language"),
        ({"actions": "paper7"}, "unknown action preset"),
        ({"actions": ["turn left", "fly"]}, "unknown action name 'fly'"),
        ({"history_length": 0}, "history_length"),
        ({"max_steps": 0}, "max_steps"),
        ({"num_distractors": -1}, "num_distractors"),
        ({"family_weights": {"goto": 1.0}}, "unknown task family 'goto'"),
        ({"family_weights": {"go_to": -2.0}}, ">= 0"),
        ({"level": "GoToLocal", "family_weights": {"go_to": 1.0}}, "only applies"),
        ({"level": "GoToLocal", "num_distractors": 2}, "only applies"),
        ({"variant": "frnch"}, "Did you mean: french"),
        ({"variant": "french", "language": "en"}, "contradicts"),
    ],
)
def test_bad_values_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BabyAITextConfig.from_dict(data)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.yaml, \.yml or \.json"):
        BabyAITextConfig.from_file(tmp_path / "env.toml")
    with pytest.raises(FileNotFoundError):
        BabyAITextConfig.from_file(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- level\n- GoToLocal\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        BabyAITextConfig.from_file(listing)
    with pytest.raises(TypeError, match="mapping"):
        BabyAITextConfig.from_dict(["level"])  # type: ignore[arg-type]


def test_make_env_overrides_and_rejects_unknown_inputs() -> None:
    env = make_env(BabyAITextConfig(level="GoToLocal"), history_length=1, actions="move3")
    assert env.unwrapped.admissible_actions == ACTION_PRESETS["move3"]
    with pytest.raises(TypeError, match="BabyAITextConfig"):
        make_env(42)  # type: ignore[arg-type]


def test_action_presets() -> None:
    assert resolve_action_names("paper6") == (
        "turn left",
        "turn right",
        "go forward",
        "pick up",
        "drop",
        "toggle",
    )
    assert len(resolve_action_names("extended9")) == 9
    with pytest.raises(ValueError, match="empty"):
        resolve_action_names([])
