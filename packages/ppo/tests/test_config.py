"""PPOConfig: presets carry the published values; bad values give errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from glam_ppo import PRESET_NAMES, PPOConfig


def test_defaults_are_valid_and_standard() -> None:
    config = PPOConfig()
    assert (config.gamma, config.gae_lambda, config.clip_coef) == (0.99, 0.95, 0.2)
    assert config.on_nonfinite == "raise"


def test_paper_preset_matches_reference_section_7() -> None:
    config = PPOConfig.preset("paper")
    assert config.num_steps == 40 and PPOConfig.preset_num_envs("paper") == 32
    assert config.num_epochs == 4 and config.minibatch_size == 64
    assert config.learning_rate == 1e-6 and config.adam_betas == (0.9, 0.999)
    assert config.adam_eps == 1e-5
    assert config.clip_coef == 0.2 and config.value_clip == 0.2
    assert config.ent_coef == 0.01 and config.vf_coef == 0.5 and config.max_grad_norm == 0.5
    assert config.gamma == 0.99 and config.gae_lambda == 0.99
    assert config.reward_scale == 20.0 and config.normalize_advantages is False
    assert config.total_steps == 1_500_000


def test_sb3_cartpole_preset_matches_rl_zoo() -> None:
    config = PPOConfig.preset("sb3_cartpole")
    assert PPOConfig.preset_num_envs("sb3_cartpole") == 8
    assert (config.num_steps, config.minibatch_size, config.num_epochs) == (32, 256, 20)
    assert (config.gamma, config.gae_lambda) == (0.98, 0.8)
    assert (config.learning_rate, config.lr_schedule) == (1e-3, "linear")
    assert (config.clip_coef, config.clip_schedule) == (0.2, "linear")
    assert config.ent_coef == 0.0 and config.total_steps == 100_000


def test_cleanrl_preset_and_overrides() -> None:
    config = PPOConfig.preset("cleanrl", seed=3)
    assert config.seed == 3 and config.num_steps == 128 and config.value_clip == 0.2
    assert config.lr_schedule == "linear" and config.learning_rate == 2.5e-4
    assert set(PRESET_NAMES) == {"paper", "cleanrl", "sb3_cartpole"}


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown PPO preset 'papr'.*paper, cleanrl"):
        PPOConfig.preset("papr")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gamma", 1.5, "less than or equal to 1"),
        ("gae_lambda", -0.1, "greater than or equal to 0"),
        ("num_steps", 0, "greater than 0"),
        ("minibatch_size", -4, "greater than 0"),
        ("learning_rate", 0.0, "greater than 0"),
        ("clip_coef", -0.2, "greater than 0"),
        ("reward_scale", 0.0, "greater than 0"),
        ("max_grad_norm", 0.0, "greater than 0"),
        ("target_kl", -1.0, "greater than 0"),
        ("lr_schedule", "cosine", "'constant' or 'linear'"),
        ("on_nonfinite", "ignore", "'raise' or 'skip'"),
        ("num_epochs", 2.5, "valid integer"),
    ],
)
def test_bad_values_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        PPOConfig(**{field: value})
    text = str(excinfo.value)
    assert field in text and message in text


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"learning_rat\n.*Extra inputs are not permitted"):
        PPOConfig(learning_rat=1e-3)


def test_micro_batch_larger_than_minibatch_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"micro_batch_size \(65\) must be <= minibatch_size"):
        PPOConfig(minibatch_size=64, micro_batch_size=65)


def test_checkpoint_every_needs_a_directory() -> None:
    with pytest.raises(ValidationError, match="checkpoint_dir is not"):
        PPOConfig(checkpoint_every=10)


def test_adam_betas_must_be_below_one() -> None:
    with pytest.raises(ValidationError, match=r"adam_betas must both be in \[0, 1\)"):
        PPOConfig(adam_betas=(0.9, 1.0))


def test_assignment_is_validated() -> None:
    config = PPOConfig()
    with pytest.raises(ValidationError, match="gamma"):
        config.gamma = 2.0


def test_from_yaml_with_preset(tmp_path: Path) -> None:
    path = tmp_path / "ppo.yaml"
    path.write_text("preset: paper\nlearning_rate: 1.0e-5\n", encoding="utf-8")
    config = PPOConfig.from_file(path)
    assert config.learning_rate == 1e-5 and config.reward_scale == 20.0


def test_from_json_round_trip(tmp_path: Path) -> None:
    original = PPOConfig.preset("cleanrl", checkpoint_dir=tmp_path, checkpoint_every=5)
    path = tmp_path / "ppo.json"
    path.write_text(json.dumps(original.model_dump(mode="json")), encoding="utf-8")
    assert PPOConfig.from_file(path) == original


def test_bad_file_reports_path_and_field(tmp_path: Path) -> None:
    path = tmp_path / "ppo.json"
    path.write_text(json.dumps({"gamma": 3}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"(?s)ppo.json: invalid PPO config:\n.*gamma"):
        PPOConfig.from_file(path)
    other = tmp_path / "ppo.toml"
    other.write_text("gamma = 0.9", encoding="utf-8")
    with pytest.raises(ValueError, match=r"must end in .json, .yaml or .yml"):
        PPOConfig.from_file(other)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a mapping"):
        PPOConfig.from_file(listing)
