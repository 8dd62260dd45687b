from __future__ import annotations

import json
from pathlib import Path

import pytest

from glam_apps.config.schema import DefaultModelRecipe
from glam_apps.models.default_model import (
    cache_root,
    corpus_samples,
    ensure_default_model,
    model_dir_for,
    recipe_key,
    recipe_payload,
)
from glam_env import BabyAITextConfig
from glam_policy import LLMPolicy

ENV = BabyAITextConfig(level="GoToRedBallNoDists", max_steps=5, history_length=2)
TINY = DefaultModelRecipe(size="nano", corpus_episodes=2, vocab_size=350)


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("GLAM_CACHE_DIR", str(tmp_path / "g"))
    assert cache_root() == tmp_path / "g"
    monkeypatch.delenv("GLAM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x" / "glam"


def test_key_depends_on_recipe_and_environment() -> None:
    key = recipe_key(TINY, ENV)
    assert key == recipe_key(TINY.model_copy(), ENV)
    assert key != recipe_key(TINY.model_copy(update={"seed": 1}), ENV)
    assert key != recipe_key(TINY, ENV.model_copy(update={"max_steps": 6}))
    # The variant is not part of the corpus: a French run shares the plain model.
    assert key == recipe_key(
        TINY, BabyAITextConfig.model_validate({**ENV.model_dump(), "variant": "french"})
    )


def test_corpus_history_is_its_own_setting() -> None:
    """Unset, the corpus plays the run's history and the key is the one older versions made."""
    unset = recipe_key(TINY, ENV)
    assert "corpus_history_length" not in json.dumps(recipe_payload(TINY, ENV)["recipe"])
    assert unset == recipe_key(TINY.model_copy(update={"corpus_history_length": None}), ENV)
    same_as_run = TINY.model_copy(update={"corpus_history_length": 2})
    assert recipe_key(same_as_run, ENV) != unset  # a different recipe, the same corpus
    longest = max(prompt.count("Observation ") for prompt, _ in corpus_samples(same_as_run, ENV))
    assert longest == 2
    three = TINY.model_copy(update={"corpus_history_length": 3})
    prompts = [prompt for prompt, _ in corpus_samples(three, ENV)]
    assert max(p.count("Observation ") for p in prompts) == 3
    assert min(p.count("Observation ") for p in prompts) == 1  # history cleared at reset


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_built_once_then_cached_and_loadable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    monkeypatch.setenv("GLAM_CACHE_DIR", str(tmp_path))
    recipe = TINY.model_copy(update={"kind": kind, "pretrain_steps": 2, "pretrain_batch_size": 2})
    directory = ensure_default_model(recipe, ENV)
    assert directory == model_dir_for(recipe, ENV) and directory.parent == tmp_path / "models"
    info = json.loads((directory / "glam_recipe.json").read_text())
    assert info["recipe"]["kind"] == kind and info["pretrain_final_loss"] > 0
    stamp = (directory / "config.json").stat().st_mtime_ns
    assert ensure_default_model(recipe, ENV) == directory
    assert (directory / "config.json").stat().st_mtime_ns == stamp  # not rebuilt
    assert [p.name for p in (tmp_path / "models").iterdir()] == [directory.name]  # no temp left
    policy = LLMPolicy.from_config({"model": str(directory), "value_hidden_sizes": [4]})
    obs = {
        "mission": "go to the red ball",
        "observation": "You see a wall 1 step forward",
        "admissible_actions": ("turn left", "go forward"),
    }
    logits, values = policy([obs])
    assert logits.shape == (1, 2) and values.shape == (1,)
