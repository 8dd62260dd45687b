"""Behavioural cloning before PPO: the bot's demonstrations, then the policy's own logits.

``bc.episodes > 0`` in a run's config makes ``glam train`` start a fresh run by
letting the BabyAI bot play that many episodes of the training level (seeds
from :func:`demonstration_seed`; away from training and evaluation seeds), writing
its solved ones to ``RUN_DIR/demonstrations.jsonl`` (glam_env.demonstrations), and
fine-tuning the LLM policy to pick the bot's action among the admissible ones
(glam_policy.behavior_cloning), with one JSON line per epoch in ``RUN_DIR/bc.jsonl``.
PPO then continues from the cloned policy. Cloning alone, with no PPO, is
:func:`clone_policy` (``glam clone``): a saved policy instead of a run.

The demonstrations are data: ``read_demonstrations`` validates every line and
runs nothing. A run killed during this stage has no checkpoint yet, so ``--resume``
starts it again from the beginning, cloning included (deterministic: same result).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glam_apps.config.schema import TrainConfig
from glam_apps.errors import UserError
from glam_apps.models.policies import CHECKPOINT_CONFIG, apply_trust_flag, build_policy
from glam_apps.runs.atomic import append_jsonl, atomic_directory, atomic_write_yaml
from glam_env.demonstrations import collect_demonstrations, read_demonstrations
from glam_policy.behavior_cloning import BCConfig, BCEpochMetrics, train_behavior_cloning

logger = logging.getLogger(__name__)

DEMONSTRATIONS_FILE = "demonstrations.jsonl"
METRICS_FILE = "bc.jsonl"


def demonstration_seed(config: TrainConfig) -> int:
    """The first demonstration episode's seed: ``bc.seed + run.seed * bc.episodes``.

    Runs that differ by ``run.seed`` (``glam train --seeds``, a study's seeds) clone
    disjoint sets of demonstrations, as they would draw different ones in practice;
    ``run.seed`` 0 plays from ``bc.seed``.
    """
    return config.bc.seed + config.run.seed * config.bc.episodes


def cloning_settings(config: TrainConfig) -> BCConfig:
    """``bc.training`` with its seed offset by ``run.seed``: each run seed clones its own way
    (held-out split, batch order), not one clone repeated under several seed names."""
    training = config.bc.training
    return training.model_copy(update={"seed": training.seed + config.run.seed})


def collect(config: TrainConfig, root: Path, event: Callable[[str], None]) -> Path:
    """Rank 0: the bot's demonstrations of the run's level, written into the run directory."""
    path = root / DEMONSTRATIONS_FILE
    event(f"collecting {config.bc.episodes} bot demonstrations of {config.env.level}")
    header = collect_demonstrations(
        config.env, config.bc.episodes, demonstration_seed(config), path, overwrite=True
    )
    event(
        f"demonstrations: {header.steps} decisions from {header.episodes} solved episodes "
        f"({header.skipped} skipped) in {path.name}"
    )
    return path


def clone(
    policy: Any,
    config: TrainConfig,
    demonstrations: Path,
    metrics_path: Path | None,
    event: Callable[[str], None],
) -> None:
    """Fine-tune ``policy`` in place on ``demonstrations`` (every rank, identically)."""
    steps = read_demonstrations(demonstrations).steps

    def on_epoch(epoch: BCEpochMetrics) -> None:
        record = epoch.to_dict()
        if metrics_path is not None:
            append_jsonl(metrics_path, record)
        held = epoch.validation
        detail = (
            f"held-out expert-action probability {held.expert_probability:.3f}, "
            f"accuracy {held.accuracy:.3f}"
            if held is not None
            else f"training accuracy {epoch.train_accuracy:.3f}"
        )
        event(f"behavioural cloning epoch {epoch.epoch}: loss {epoch.train_loss:.4f}, {detail}")

    result = train_behavior_cloning(policy, steps, cloning_settings(config), on_epoch=on_epoch)
    if result.initial is not None:
        logger.info(
            "behavioural cloning: held-out expert-action probability %.3f before",
            result.initial.expert_probability,
        )


def clone_policy(
    config: TrainConfig,
    out: str | Path,
    *,
    event: Callable[[str], None] = logger.info,
    trust_remote_code: bool = False,
) -> Path:
    """Behavioural cloning alone: the bot's demonstrations, a cloned policy saved to ``out``.

    ``out`` becomes a saved policy (``glam evaluate OUT``; ``OUT/lm`` is a model
    directory that ``glam train --model OUT/lm`` continues with PPO, new heads)
    holding also ``demonstrations.jsonl``, ``bc.jsonl`` and the ``glam_config.yaml``
    it was made with. It is built under a temporary name and renamed when complete;
    an existing ``out`` is refused.
    """
    target = Path(out)
    if target.exists():
        raise UserError(f"{target} already exists: choose another --out or remove it")
    if config.bc.episodes < 1:
        raise UserError("behavioural cloning needs demonstrations: set bc.episodes (or --episodes)")
    config = apply_trust_flag(config, trust_remote_code, "the config")
    if config.uses_offline_default:
        event("preparing the offline default model (built once, then cached)")
    policy = build_policy(config)
    with atomic_directory(target) as staging:
        demonstrations = collect(config, staging, event)
        clone(policy, config, demonstrations, staging / METRICS_FILE, event)
        policy.save_pretrained(staging / "policy")
        for item in (staging / "policy").iterdir():  # the policy's files at the top
            item.rename(staging / item.name)
        (staging / "policy").rmdir()
        atomic_write_yaml(staging / CHECKPOINT_CONFIG, config.to_yaml_dict())
    event(f"cloned policy saved to {target}")
    return target
