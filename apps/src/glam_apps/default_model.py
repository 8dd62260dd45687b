"""The project's small offline default model: built from the environment's own text.

No model hub is needed: a byte-level BPE tokenizer is trained on text generated
by playing the environment with seeded random actions (missions, observations,
action names and whole prompts), and a tiny randomly initialised transformer is
built on it with ``glam_policy.tiny``. The result is written in Hugging Face
format, so it loads through the same ``from_pretrained`` path as a hub model.

It is cached under ``<cache>/models/<key>`` where ``key`` hashes the recipe (and
the versions of the packages generating the text): the same recipe is built once,
atomically, and reused by every later run. The cache root is ``$GLAM_CACHE_DIR``,
else ``$XDG_CACHE_HOME/glam``, else ``~/.cache/glam``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path

import glam_env
import glam_policy
from glam_apps.atomic import atomic_directory, atomic_write_json
from glam_apps.config import DefaultModelRecipe
from glam_env import BabyAITextConfig, make_env
from glam_policy import TEMPLATES, build_prompt, make_tiny_model_dir

logger = logging.getLogger(__name__)

#: Bump when the corpus generation below changes: old cached models are not reused.
CORPUS_VERSION = 1
RECIPE_FILE = "glam_recipe.json"


def cache_root() -> Path:
    """Where glam caches what it builds (see the module docstring)."""
    explicit = os.environ.get("GLAM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "glam"


def resolve_recipe(recipe: DefaultModelRecipe, level: str) -> DefaultModelRecipe:
    """The recipe with its corpus levels filled in (``None`` -> the training level)."""
    levels = recipe.corpus_levels or [level]
    return recipe.model_copy(update={"corpus_levels": list(levels)})


def recipe_key(recipe: DefaultModelRecipe) -> str:
    """A short hash naming the model a (resolved) recipe builds."""
    payload = {
        "recipe": recipe.model_dump(mode="json"),
        "corpus_version": CORPUS_VERSION,
        "glam_env": glam_env.__version__,
        "glam_policy": glam_policy.__version__,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()[:16]


def corpus_texts(recipe: DefaultModelRecipe) -> Iterator[str]:
    """Text of seeded random-action episodes: missions, observations, actions, prompts.

    Prompts are rendered with every named template so that the prompt words
    ("Goal of the agent", "I would like the agent to", ...) are in the corpus too.
    """
    rng = random.Random(recipe.seed)
    templates = list(TEMPLATES)
    for level in recipe.corpus_levels or []:
        env = make_env(BabyAITextConfig(level=level))
        try:
            yield ", ".join(env.unwrapped.admissible_actions)
            for episode in range(recipe.corpus_episodes):
                obs, _ = env.reset(seed=recipe.seed + episode)
                yield obs["mission"]
                done = False
                while not done:
                    yield obs["observation"]
                    yield build_prompt(templates[rng.randrange(len(templates))], obs)
                    obs, _, terminated, truncated, _ = env.step(
                        rng.randrange(len(obs["admissible_actions"]))
                    )
                    done = terminated or truncated
        finally:
            env.close()


def model_dir_for(recipe: DefaultModelRecipe, level: str) -> Path:
    """Where the model of this recipe lives in the cache (it may not be built yet)."""
    return cache_root() / "models" / recipe_key(resolve_recipe(recipe, level))


def is_built(directory: Path) -> bool:
    return (directory / RECIPE_FILE).is_file() and (directory / "config.json").is_file()


def ensure_default_model(recipe: DefaultModelRecipe, level: str) -> Path:
    """The directory of the offline default model, building it on first use."""
    resolved = resolve_recipe(recipe, level)
    directory = cache_root() / "models" / recipe_key(resolved)
    if is_built(directory):
        logger.info("offline default model found in cache: %s", directory)
        return directory
    logger.info("building the offline default model (%s) in %s", resolved.size, directory)
    texts = list(dict.fromkeys(corpus_texts(resolved)))  # unique, in order
    with atomic_directory(directory) as tmp:
        make_tiny_model_dir(
            tmp,
            kind=resolved.kind,
            size=resolved.size,
            corpus=texts,
            vocab_size=resolved.vocab_size,
            seed=resolved.seed,
            max_positions=resolved.max_positions,
        )
        atomic_write_json(
            tmp / RECIPE_FILE,
            {"recipe": resolved.model_dump(mode="json"), "corpus_texts": len(texts)},
        )
    logger.info("offline default model built: %s (%d corpus texts)", directory, len(texts))
    return directory
