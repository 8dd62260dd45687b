"""The project's small offline default model: built from the environment's own text.

No model hub is needed: a byte-level BPE tokenizer is trained on text generated
by playing the training environment with seeded random actions (missions,
observations, action names and whole prompts), and a tiny randomly initialised
transformer is built on it with ``glam_policy.tiny``, optionally pretrained as a
language model on those prompts (``pretrain_steps``). The result is written in
Hugging Face format, so it loads through the same ``from_pretrained`` path as a
hub model.

It is cached under ``<cache>/models/<key>`` where ``key`` hashes the recipe, the
environment settings the corpus was played with, and the versions of the
packages generating the text: the same recipe is built once, atomically, and
reused by every later run. The cache root is ``$GLAM_CACHE_DIR``, else
``$XDG_CACHE_HOME/glam``, else ``~/.cache/glam``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

import glam_env
import glam_policy
from glam_apps.config.schema import DefaultModelRecipe, GameSection
from glam_apps.evaluation.suites import TestSpec, env_config_for_test
from glam_apps.games.envs import EnvSpec, make_game
from glam_apps.runs.atomic import atomic_directory, atomic_write_json
from glam_policy import PromptTemplate, build_prompt, build_tiny_model, train_bpe_tokenizer
from glam_policy.tiny import save_tiny_model

logger = logging.getLogger(__name__)

#: Bump when the corpus generation below changes: old cached models are not reused.
CORPUS_VERSION = 2
RECIPE_FILE = "glam_recipe.json"

#: Every field spelled out, so that a change of PromptTemplate's defaults cannot move it.
_CORPUS_BASE: dict[str, str] = {
    "header": "Possible action of the agent: {actions}",
    "goal_line": "Goal of the agent: {goal}",
    "observation": "Observation {index}: {observation}",
    "observation_suffix": "",
    "action": "Action {index}: {action}",
    "query": "Action {index}:",
    "action_separator": ", ",
    "line_separator": "\n",
}
#: The templates the corpus renders, in this order, pinned here rather than read from
#: ``glam_policy.TEMPLATES``: cached models and the figures published from them were
#: built from exactly these texts, so adding, renaming or changing a named template
#: must not change them (and the cache key would not see it). They are the four
#: templates glam had when CORPUS_VERSION 2 was set (then named ``paper``,
#: ``i_would_like``, ``you_have_to``, ``french``; ``compact*`` in glam_policy today).
#: Changing this list changes the corpus: bump CORPUS_VERSION with it.
CORPUS_TEMPLATES: tuple[PromptTemplate, ...] = (
    PromptTemplate(**{**_CORPUS_BASE, "name": "compact"}),
    PromptTemplate(
        **{
            **_CORPUS_BASE,
            "name": "compact_i_would_like",
            "goal_line": "I would like the agent to: {goal}",
        }
    ),
    PromptTemplate(
        **{**_CORPUS_BASE, "name": "compact_you_have_to", "goal_line": "You have to: {goal}"}
    ),
    PromptTemplate(
        **{
            **_CORPUS_BASE,
            "name": "compact_french",
            "header": "Actions possibles pour l'agent: {actions}",
            "goal_line": "But de l'agent: {goal}",
        }
    ),
)


def cache_root() -> Path:
    """Where glam caches what it builds (see the module docstring)."""
    explicit = os.environ.get("GLAM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "glam"


def corpus_env_configs(recipe: DefaultModelRecipe, env: EnvSpec) -> list[EnvSpec]:
    """The environments the corpus is played in: the run's settings on each corpus level.

    The text variant is dropped (the corpus is the plain game's text); settings
    that only apply to the run's level are dropped on other levels. Another text
    game (``GameSection``) is its own corpus.
    """
    if isinstance(env, GameSection):
        return [env]
    # The text alone makes the corpus: a reward setting (noop_penalty) does not change it.
    update: dict[str, Any] = {"variant": glam_env.get_variant("none"), "noop_penalty": 0.0}
    if recipe.corpus_history_length is not None:
        update["history_length"] = recipe.corpus_history_length
    base = env.model_copy(update=update)
    levels = recipe.corpus_levels or [env.level]
    return [env_config_for_test(base, TestSpec("corpus", level)) for level in levels]


def recipe_payload(recipe: DefaultModelRecipe, env: EnvSpec) -> dict[str, Any]:
    """Everything the built model depends on (hashed into its cache key)."""
    return {
        # A field added later is left out while unset, so older recipes keep their keys.
        "recipe": recipe.model_dump(
            mode="json",
            exclude={"corpus_history_length"} if recipe.corpus_history_length is None else None,
        ),
        # Fields added to the env config later are left out, so older recipes keep their keys.
        "corpus_envs": [
            c.model_dump(mode="json", exclude={"noop_penalty"})
            for c in corpus_env_configs(recipe, env)
        ],
        "corpus_version": CORPUS_VERSION,
        "glam_env": glam_env.__version__,
        "glam_policy": glam_policy.__version__,
        "torch": torch.__version__.split("+")[0],
    }


def recipe_key(recipe: DefaultModelRecipe, env: EnvSpec) -> str:
    """A short hash naming the model a recipe builds for an environment."""
    payload = json.dumps(recipe_payload(recipe, env), sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def corpus_samples(recipe: DefaultModelRecipe, env: EnvSpec) -> Iterator[tuple[str, str]]:
    """``(prompt, action)`` pairs of seeded random-action episodes.

    Prompts are rendered with a random template of :data:`CORPUS_TEMPLATES` so that
    every goal phrasing's words ("Goal of the agent", "I would like the agent to",
    ...) are in the corpus.
    """
    rng = random.Random(recipe.seed)
    templates = CORPUS_TEMPLATES
    for env_config in corpus_env_configs(recipe, env):
        game = make_game(env_config)
        try:
            for episode in range(recipe.corpus_episodes):
                obs, _ = game.reset(seed=recipe.seed + episode)
                done = False
                while not done:
                    action = rng.randrange(len(obs["admissible_actions"]))
                    prompt = build_prompt(templates[rng.randrange(len(templates))], obs)
                    yield prompt, obs["admissible_actions"][action]
                    obs, _, terminated, truncated, _ = game.step(action)
                    done = terminated or truncated
        finally:
            game.close()


def corpus_texts(samples: list[tuple[str, str]]) -> list[str]:
    """Unique texts for the tokenizer: whole prompts with their action, and the action names."""
    texts = [f"{prompt} {action}" for prompt, action in samples]
    texts.extend(action for _, action in samples)
    return list(dict.fromkeys(texts))


def pretrain(
    model: Any, tokenizer: Any, samples: list[tuple[str, str]], recipe: DefaultModelRecipe
) -> float:
    """A short language-model pretraining on the corpus; returns the last loss."""
    generator = random.Random(recipe.seed)
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    pad = int(tokenizer.pad_token_id)
    loss_value = float("nan")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.pretrain_learning_rate)
        model.train()
        limit = recipe.max_positions
        for step in range(recipe.pretrain_steps):
            batch = [
                samples[generator.randrange(len(samples))]
                for _ in range(recipe.pretrain_batch_size)
            ]
            if encoder_decoder:
                inputs = _pad([tokenizer(p)["input_ids"][-limit:] for p, _ in batch], pad)
                labels = _pad([tokenizer(" " + a)["input_ids"] for _, a in batch], pad)
                labels = labels.masked_fill(labels == pad, -100)
                loss = model(
                    input_ids=inputs, attention_mask=(inputs != pad).long(), labels=labels
                ).loss
            else:
                eos = tokenizer.eos_token or ""
                ids = [tokenizer(f"{p} {a}{eos}")["input_ids"][-limit:] for p, a in batch]
                inputs = _pad(ids, pad)
                mask = torch.zeros_like(inputs)
                for row, item in enumerate(ids):
                    mask[row, : len(item)] = 1
                loss = model(
                    input_ids=inputs,
                    attention_mask=mask,
                    labels=inputs.masked_fill(mask == 0, -100),
                ).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_value = float(loss.detach())
            if step % 50 == 0:
                logger.info("pretraining step %d: loss %.3f", step, loss_value)
        model.eval()
    return loss_value


def _pad(rows: list[list[int]], pad: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([row + [pad] * (width - len(row)) for row in rows], dtype=torch.long)


def is_built(directory: Path) -> bool:
    return (directory / RECIPE_FILE).is_file() and (directory / "config.json").is_file()


def model_dir_for(recipe: DefaultModelRecipe, env: EnvSpec) -> Path:
    """Where the model of this recipe lives in the cache (it may not be built yet)."""
    return cache_root() / "models" / recipe_key(recipe, env)


def ensure_default_model(recipe: DefaultModelRecipe, env: EnvSpec) -> Path:
    """The directory of the offline default model, building it on first use."""
    directory = model_dir_for(recipe, env)
    if is_built(directory):
        logger.info("offline default model found in cache: %s", directory)
        return directory
    logger.info("building the offline default model (%s) in %s", recipe.size, directory)
    samples = list(corpus_samples(recipe, env))
    texts = corpus_texts(samples)
    tokenizer = train_bpe_tokenizer(
        texts,
        recipe.vocab_size,
        add_eos=recipe.kind == "encoder-decoder",
        model_max_length=recipe.max_positions,
    )
    model = build_tiny_model(
        recipe.kind, recipe.size, tokenizer, seed=recipe.seed, max_positions=recipe.max_positions
    )
    info: dict[str, Any] = recipe_payload(recipe, env)
    info["corpus_texts"] = len(texts)
    if recipe.pretrain_steps:
        info["pretrain_final_loss"] = pretrain(model, tokenizer, samples, recipe)
    with atomic_directory(directory) as tmp:
        save_tiny_model(model, tokenizer, tmp)
        atomic_write_json(tmp / RECIPE_FILE, info)
    logger.info("offline default model built: %s (%d corpus texts)", directory, len(texts))
    return directory
