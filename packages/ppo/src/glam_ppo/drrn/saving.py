"""A trained DRRN policy on disk: its Q-network's weights, its vocabulary, its config.

What ``glam train`` keeps as a run's best and final policy, and what an evaluation
loads: safetensors for the weights, JSON for the rest, nothing pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glam_ppo.drrn.config import DRRNConfig
from glam_ppo.drrn.policy import DRRNPolicy
from glam_ppo.saved_modules import load_module, save_module

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
    arguments = {
        "format": SAVED_FORMAT,
        "config": config.model_dump(mode="json"),
        "vocabulary": policy.tokenizer.state_dict(),
        "extra": extra or {},
    }
    return save_module(policy.network, directory, (WEIGHTS_FILE, ARGUMENTS_FILE), arguments)


def is_saved_drrn_policy(directory: str | Path) -> bool:
    return (Path(directory) / ARGUMENTS_FILE).is_file()


def _build(arguments: dict[str, Any]) -> DRRNPolicy:
    if arguments.get("format") != SAVED_FORMAT:
        raise ValueError(f"unknown format {arguments.get('format')!r}")
    config = DRRNConfig.model_validate(arguments["config"]).model_copy(
        update={"device": "cpu", "checkpoint_dir": None}
    )
    policy = DRRNPolicy.from_config(config)
    policy.tokenizer.load_state_dict(arguments["vocabulary"])
    return policy


def load_drrn_policy(directory: str | Path) -> tuple[DRRNPolicy, dict[str, Any]]:
    """The policy :func:`save_drrn_policy` wrote and its ``extra`` data.

    A damaged or foreign file is a :class:`~glam_ppo.errors.CheckpointError` naming it.
    """
    policy, arguments = load_module(
        directory,
        (WEIGHTS_FILE, ARGUMENTS_FILE),
        _build,
        weights_of=lambda policy: policy.network,
        what="DRRN policy",
    )
    policy.train(False)
    return policy, dict(arguments.get("extra") or {})
