"""Gymnasium ids for every level, and Gymnasium's env checker on each of them."""

from __future__ import annotations

import importlib.metadata
import io
import warnings
from contextlib import redirect_stdout

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import glam_env
from glam_env import PAPER_LEVELS, BabyAITextConfig, BabyAITextEnv, env_id, list_levels
from glam_env.registration import register_envs


def _text_ids() -> list[str]:
    return sorted(env for env in gym.registry if env.startswith("BabyAI-Text/"))


def test_every_minigrid_babyai_level_and_every_paper_level_is_registered() -> None:
    text_ids = set(_text_ids())
    minigrid_ids = [env for env in gym.registry if env.startswith("BabyAI-") and "/" not in env]
    assert len(minigrid_ids) > 90
    for minigrid_id in minigrid_ids:
        assert minigrid_id.replace("BabyAI-", "BabyAI-Text/", 1) in text_ids
    for level in PAPER_LEVELS:
        assert env_id(level) in text_ids
    assert list_levels()[: len(PAPER_LEVELS)] == tuple(PAPER_LEVELS)
    assert len(list_levels()) == len(text_ids)
    assert env_id("GoToObjS6") == "BabyAI-Text/GoToObjS6-v1"  # MiniGrid's version is kept


def test_registration_is_idempotent() -> None:
    before = len(gym.registry)
    register_envs()
    register_envs()
    assert len(gym.registry) == before


def test_check_env_passes_for_every_registered_level() -> None:
    """Gymnasium's checker (warnings as errors) on the text env of every id, silently."""
    out = io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(out):
        warnings.simplefilter("error")
        for text_id in _text_ids():
            env = gym.make(text_id)
            try:
                check_env(env.unwrapped, skip_render_check=True, skip_close_check=True)
            except Exception as error:  # name the level that failed
                raise AssertionError(f"{text_id}: {error}") from error
            env.close()
    assert out.getvalue() == ""


def test_check_env_on_the_history_wrapped_env() -> None:
    env = gym.make("BabyAI-Text/MixedTrainLocal-v0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*different from the unwrapped")
        check_env(env, skip_render_check=True)


def test_make_takes_config_fields_or_a_whole_config() -> None:
    env = gym.make("BabyAI-Text/GoToLocal-v0", language="fr", history_length=1)
    obs, _ = env.reset(seed=0)
    assert obs["mission"].startswith("va à ")
    assert isinstance(env.unwrapped, BabyAITextEnv)
    env = gym.make("BabyAI-Text/MixedTrainLocal-v0", config={"family_weights": {"open": 1}})
    assert env.reset(seed=0)[1]["family"] == "open"
    config = BabyAITextConfig(history_length=1, variant="invented_nouns")
    env = gym.make("BabyAI-Text/PutNextLocal-v0", config=config)
    assert env.unwrapped.level_name == "PutNextLocal"
    with pytest.raises(ValueError, match="plays level 'GoToLocal' but the config asks"):
        gym.make("BabyAI-Text/GoToLocal-v0", config={"level": "PutNextLocal"})


def test_module_prefixed_ids_import_the_package() -> None:
    env = gym.make("glam_env:BabyAI-Text/GoToLocal-v0")
    assert env.unwrapped.level_name == "GoToLocal"


def test_entry_point_declared_for_plugin_loaders() -> None:
    points = importlib.metadata.entry_points(group="gymnasium.envs")
    ours = [point for point in points if point.name == "glam_env"]
    assert len(ours) == 1
    assert ours[0].load() is glam_env.register_envs
