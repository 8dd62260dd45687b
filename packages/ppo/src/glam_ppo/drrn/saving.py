"""A trained DRRN policy on disk: its Q-network's weights, its vocabulary, its config.

What ``glam train`` keeps as a run's best and final policy, and what an evaluation
loads: safetensors for the weights, JSON for the rest, nothing pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glam_ppo.checkpoint import (
    load_module_tensors,
    load_tensors,
    module_tensors,
    read_json,
    save_tensors,
    write_json_atomic,
)
from glam_ppo.drrn.config import DRRNConfig
from glam_ppo.drrn.policy import DRRNPolicy
from glam_ppo.errors import CheckpointError

WEIGHTS_FILE = "drrn_policy.safetensors"
ARGUMENTS_FILE = "drrn_policy.json"
SAVED_FORMAT = 1


def save_drrn_policy(
    policy: DRRNPolicy,
    config: DRRNConfig,
    directory: str | Path,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``policy`` (trained with ``config``) and ``extra`` JSON data to ``directory``."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    tensors, _ = module_tensors(policy.network, trainable_only=False)
    save_tensors(target / WEIGHTS_FILE, tensors)
    write_json_atomic(
        target / ARGUMENTS_FILE,
        {
            "format": SAVED_FORMAT,
            "config": config.model_dump(mode="json"),
            "vocabulary": policy.tokenizer.state_dict(),
            "extra": extra or {},
        },
    )
    return target


def is_saved_drrn_policy(directory: str | Path) -> bool:
    return (Path(directory) / ARGUMENTS_FILE).is_file()


def load_drrn_policy(directory: str | Path) -> tuple[DRRNPolicy, dict[str, Any]]:
    """The policy :func:`save_drrn_policy` wrote and its ``extra`` data.

    A damaged or foreign file is a :class:`~glam_ppo.errors.CheckpointError` naming it.
    """
    path = Path(directory)
    arguments = read_json(path / ARGUMENTS_FILE)
    try:
        if arguments.get("format") != SAVED_FORMAT:
            raise ValueError(f"unknown format {arguments.get('format')!r}")
        config = DRRNConfig.model_validate(arguments["config"]).model_copy(
            update={"device": "cpu", "checkpoint_dir": None}
        )
        policy = DRRNPolicy.from_config(config)
        policy.tokenizer.load_state_dict(arguments["vocabulary"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(
            f"{path / ARGUMENTS_FILE} does not describe a DRRN policy: {error}"
        ) from error
    tensors = load_tensors(path / WEIGHTS_FILE)
    try:
        load_module_tensors(policy.network, tensors, {}, trainable_only=False)
    except (CheckpointError, RuntimeError) as error:
        raise CheckpointError(
            f"{path / WEIGHTS_FILE} does not fit its arguments: {error}"
        ) from error
    policy.train(False)
    return policy, dict(arguments.get("extra") or {})
