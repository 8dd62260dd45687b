from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from glam_apps.config.loading import compose, parse_override, valid_keys
from glam_apps.errors import ConfigError


class Optim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    learning_rate: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "GoToLocal"
    num_envs: int = Field(4, ge=1)
    model: str | None = None
    optim: Optim = Optim()
    extra_kwargs: dict[str, int] = {}


class Root(BaseModel):
    model_config = ConfigDict(extra="forbid")
    section: Section = Section()
    seed: int = 0


def test_overrides_are_typed_by_the_field() -> None:
    config = compose(
        Root,
        overrides=[
            "section.optim.learning_rate=1e-5",
            "section.num_envs=8",
            "section.model=123",
            "section.name=MixedTrainLocal",
            "section.extra_kwargs.anything=3",
            "seed=7",
        ],
    )
    assert config.section.optim.learning_rate == pytest.approx(1e-5)
    assert config.section.num_envs == 8
    assert config.section.model == "123"  # a text field keeps the text
    assert config.section.name == "MixedTrainLocal"
    assert config.section.extra_kwargs == {"anything": 3}
    assert config.seed == 7


def test_null_override_clears_an_optional_text_field() -> None:
    config = compose(Root, base={"section": {"model": "x"}}, overrides=["section.model=null"])
    assert config.section.model is None


def test_yaml_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("section:\n  num_envs: 2\n  optim:\n    learning_rate: 0.5\nseed: 3\n")
    config = compose(Root, path=path, overrides=["section.num_envs=5"])
    assert (config.section.num_envs, config.section.optim.learning_rate, config.seed) == (5, 0.5, 3)


def test_unknown_override_key_names_the_closest_valid_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        compose(Root, overrides=["section.optim.lerning_rate=0.1"])
    message = str(caught.value)
    assert "section.optim.lerning_rate" in message
    assert "section.optim.learning_rate" in message


def test_misplaced_key_is_found_elsewhere_in_the_tree() -> None:
    with pytest.raises(ConfigError, match=r"section\.num_envs"):
        compose(Root, overrides=["num_env=3"])


def test_unknown_yaml_key_is_reported_with_suggestions(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("section:\n  nme: x\n")
    with pytest.raises(ConfigError, match=r"'section\.nme'.*'section\.name'"):
        compose(Root, path=path)


def test_a_key_without_close_match_lists_the_valid_keys() -> None:
    with pytest.raises(ConfigError, match="valid keys here: 'section', 'seed'"):
        compose(Root, overrides=["zzzzzz=1"])


def test_bad_value_names_the_key_and_the_value() -> None:
    with pytest.raises(ConfigError, match=r"section\.num_envs.*got 0"):
        compose(Root, overrides=["section.num_envs=0"])


def test_setting_below_a_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match="is a value, not a section"):
        compose(Root, overrides=["seed.x=1"])


@pytest.mark.parametrize("text", ["seed", "=3", "section..name=x"])
def test_malformed_override(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_override(text, Root)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        compose(Root, path=tmp_path / "nope.yaml")


def test_malformed_yaml_and_non_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("section: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        compose(Root, path=bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        compose(Root, path=listing)


def test_valid_keys_are_dotted_paths() -> None:
    keys = valid_keys(Root)
    assert "section.optim.learning_rate" in keys
    assert "seed" in keys
