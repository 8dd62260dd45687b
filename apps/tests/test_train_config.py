from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from glam_apps.cli import app
from glam_apps.config.loading import compose
from glam_apps.config.packaged import load_train_config, packaged_config_names
from glam_apps.config.schema import OFFLINE_DEFAULT, TrainConfig
from glam_apps.errors import ConfigError


def test_packaged_configs_load_and_validate() -> None:
    assert {"quickstart", "paper"} <= set(packaged_config_names())
    quick = load_train_config(None)
    assert quick.policy.model == OFFLINE_DEFAULT and quick.uses_offline_default
    paper = load_train_config("paper")
    assert paper.ppo.learning_rate == pytest.approx(1e-6)
    assert paper.ppo.reward_scale == 20.0 and paper.run.num_envs == 32


def test_resolved_config_round_trips_through_yaml() -> None:
    config = load_train_config("paper", ["run.seed=3", "env.variant=french"])
    text = yaml.safe_dump(config.to_yaml_dict(), sort_keys=False)
    again = TrainConfig.model_validate(yaml.safe_load(text))
    assert again == config
    assert "seed" not in again.to_yaml_dict()["ppo"]


def test_ppo_config_takes_seed_and_steps_from_run() -> None:
    config = compose(TrainConfig, overrides=["run.seed=4", "run.total_steps=640"])
    ppo = config.ppo.to_ppo_config(seed=config.run.seed, total_steps=config.run.total_steps)
    assert (ppo.seed, ppo.total_steps) == (4, 640)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("ppo.seed=5", "run.seed"),
        ("ppo.total_steps=5", "run.total_steps"),
        ("policy.seed=5", "run.seed"),
        ("ppo.checkpoint_every=5", "run.checkpoint_every"),
        ("ppo.preset=nope", "unknown PPO preset"),
        ("default_model.size=huge", "unknown tiny model size"),
        ("env.level=GoToLocl", "GoToLocal"),
        ("run.eval_level=GoToLocl", "run.eval_level.*GoToLocal"),
    ],
)
def test_conflicting_or_bad_settings_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compose(TrainConfig, overrides=[override])


def test_updates_for_rounds_up_to_whole_updates() -> None:
    config = compose(TrainConfig, overrides=["run.num_envs=4", "ppo.num_steps=10"])
    assert config.steps_per_update == 40
    assert config.updates_for(1) == 1 and config.updates_for(41) == 2
    assert config.updates_for(None) is None


def test_show_config_prints_the_resolved_yaml(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--show-config", "--set", "run.seed=9"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["run"]["seed"] == 9 and data["policy"]["model"] == OFFLINE_DEFAULT
