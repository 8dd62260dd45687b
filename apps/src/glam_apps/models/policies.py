"""Building and loading policies: from a config, a saved policy, or a run directory.

All the ways a model can fail to load end here as one-line ``UserError``s: a
missing directory, a model the policy package cannot load, a checkpoint written
with a different configuration, a corrupt file.

Remote code: every function that loads a model takes ``trust_remote_code``, the
caller's decision for this call (``--trust-remote-code``). A config, whoever
wrote it (a run's ``config.yaml``, a YAML given to ``--config``, ``--set``), a
saved policy's ``policy_config.json`` or a model's ``auto_map`` can ask for it
and is then refused with one line naming what asked (:func:`apply_trust_flag`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal, get_args

import torch

from glam_apps.config.loading import ConfigError, load_yaml, validate
from glam_apps.config.schema import OFFLINE_DEFAULT, TrainConfig
from glam_apps.errors import IncompatibleCheckpointError, UserError
from glam_apps.models.default_model import ensure_default_model
from glam_apps.runs.rundir import RunDir
from glam_env import make_env
from glam_policy import LLMPolicy, LLMPolicyConfig, ModelLoadError, validate_device
from glam_policy.errors import RemoteCodeError, SavedPolicyError
from glam_ppo import CheckpointError
from glam_ppo import checkpoint as ppo_checkpoint
from glam_ppo.drrn import DRRNPolicy, is_saved_drrn_policy, load_drrn_policy
from glam_ppo.networks import (
    SymbolicActorCritic,
    is_saved_symbolic_policy,
    load_symbolic_policy,
)

logger = logging.getLogger(__name__)

#: The file, in every checkpoint and saved policy of a run, holding the run's config.
CHECKPOINT_CONFIG = "glam_config.yaml"
#: Saved-policy marker (written by ``LLMPolicy.save_pretrained``).
POLICY_CONFIG = "policy_config.json"

#: Config keys a checkpoint's weights and optimizer state depend on. Where and how
#: precisely the policy computes (``policy.device``, ``policy.dtype``,
#: ``policy.autocast``) is deliberately not among them: a run may resume on another
#: machine, and saved tensors are converted to the parameters' dtype when loaded.
COMPATIBILITY_KEYS: tuple[str, ...] = (
    "agent",
    "symbolic",
    "drrn",
    "policy.model",
    "policy.architecture",
    "policy.pretrained",
    "policy.keep_pretrained_embeddings",
    "policy.head",
    "policy.actions",
    "policy.action_head_hidden_sizes",
    "policy.value_hidden_sizes",
    "policy.value_activation",
    "policy.finetuning",
    "policy.lora",
    "default_model",
    "env.actions",
    "game",
    "run.num_envs",
)

Which = Literal["auto", "final", "best", "latest"]


def check_checkpoint_choice(which: str) -> Which:
    """``which`` if it names a checkpoint kind; a one-line error listing them otherwise."""
    choices = get_args(Which)
    if which not in choices:
        raise UserError(
            f"unknown checkpoint {which!r}; choose {', '.join(choices[:-1])} or {choices[-1]}"
        )
    return which  # type: ignore[return-value]


#: What a refusal tells the user to do; remote code runs with the user's rights.
TRUST_HINT = (
    "run it only if you trust its author: pass --trust-remote-code (Python: trust_remote_code=True)"
)


def remote_code_refused(error: RemoteCodeError) -> UserError:
    """The one line for a model or file that asked to run its own code."""
    return UserError(f"{error.path} {error.reason}; refused: {TRUST_HINT}")


def apply_trust_flag(config: TrainConfig, trust_remote_code: bool, asked_by: str) -> TrainConfig:
    """``config`` with ``policy.trust_remote_code`` set to the caller's decision.

    A config cannot turn remote code on (it may be someone else's file, and a run's
    ``config.yaml`` is rewritten by every run): one that says ``true`` without the
    flag is refused, naming ``asked_by`` (the file, or "the config").
    """
    if config.policy.trust_remote_code and not trust_remote_code:
        raise UserError(
            f"{asked_by} sets policy.trust_remote_code: true, which a config cannot turn on; "
            + TRUST_HINT
        )
    if config.policy.trust_remote_code == trust_remote_code:
        return config
    policy = config.policy.model_copy(update={"trust_remote_code": trust_remote_code})
    return config.model_copy(update={"policy": policy})


def looks_like_path(model: str) -> bool:
    """Whether ``model`` is meant as a local directory rather than a hub name."""
    # Hub names are "name" or "owner/name"; anything else is a path.
    return (
        model.startswith((".", "~", "/"))
        or model.count("/") > 1
        or Path(model).expanduser().exists()
    )


def model_source(config: TrainConfig) -> str:
    """The directory or hub name to load ``config.policy.model`` from (builds the default)."""
    model = config.policy.model
    if model == OFFLINE_DEFAULT:
        return str(ensure_default_model(config.default_model, config.game or config.env))
    if looks_like_path(model):
        path = Path(model).expanduser()
        if not path.is_dir():
            raise UserError(f"model directory not found: {path}")
        return str(path.resolve())
    return model


def policy_config(config: TrainConfig, source: str | None = None) -> LLMPolicyConfig:
    """The plain ``LLMPolicyConfig`` of a run (model resolved, seed from ``run.seed``)."""
    values = config.policy.model_dump()
    values["model"] = source if source is not None else model_source(config)
    values["seed"] = config.run.seed
    return LLMPolicyConfig(**values)


def device_override(device: str | None) -> dict[str, str]:
    """``{"device": device}`` for a device a user asked for, ``{}`` for none.

    Checked here, before anything loads, so that a typo is one line naming the
    value and the allowed forms rather than a torch error deep in loading.
    """
    if not device:
        return {}
    try:
        return {"device": validate_device(device)}
    except ValueError as error:
        raise UserError(str(error)) from None


def load_policy_from_config(config: LLMPolicyConfig) -> LLMPolicy:
    """``LLMPolicy.from_config`` with loading failures turned into one-line errors."""
    try:
        return LLMPolicy.from_config(config)
    except RemoteCodeError as error:
        raise remote_code_refused(error) from error
    except ModelLoadError as error:
        raise UserError(str(error)) from error


def build_policy(config: TrainConfig) -> Any:
    """A fresh policy for training, as ``config`` describes it (the agent's kind)."""
    if config.agent == "symbolic-ppo":
        return build_symbolic_policy(config)
    return load_policy_from_config(policy_config(config))


def build_symbolic_policy(config: TrainConfig) -> SymbolicActorCritic:
    """The ``symbolic-ppo`` agent's network, sized from one environment's spaces."""
    env = make_env(config.env)
    try:
        return SymbolicActorCritic.for_spaces(
            env.observation_space, env.action_space, config.symbolic
        )
    finally:
        env.close()


def is_saved_baseline(directory: Path) -> bool:
    """Whether ``directory`` holds a saved symbolic or DRRN policy (not an LLM policy)."""
    return is_saved_symbolic_policy(directory) or is_saved_drrn_policy(directory)


def load_baseline_saved(directory: Path) -> tuple[Any, dict[str, Any]]:
    """A saved symbolic or DRRN policy and its extra data; damage is one line naming the file."""
    try:
        if is_saved_drrn_policy(directory):
            return load_drrn_policy(directory)
        return load_symbolic_policy(directory)
    except CheckpointError as error:
        raise IncompatibleCheckpointError(
            f"saved policy {directory} cannot be loaded: {_one_line(error)}"
        ) from error


def load_saved_policy(
    directory: str | os.PathLike[str], *, trust_remote_code: bool = False, **overrides: Any
) -> LLMPolicy:
    """A policy written by ``save_pretrained`` (a run's ``final`` or ``best``).

    ``trust_remote_code`` is the caller's decision; the saved files cannot make it.
    """
    path = Path(directory)
    if not (path / POLICY_CONFIG).is_file():
        raise UserError(f"not a saved policy (no {POLICY_CONFIG}): {path}")
    try:
        return LLMPolicy.from_pretrained(path, trust_remote_code=trust_remote_code, **overrides)
    except RemoteCodeError as error:
        raise remote_code_refused(error) from error
    except ModelLoadError as error:
        raise UserError(str(error)) from error
    except SavedPolicyError as error:
        raise IncompatibleCheckpointError(
            f"saved policy {path} cannot be loaded: {_one_line(error)}"
        ) from error
    except (RuntimeError, ValueError, FileNotFoundError) as error:
        raise IncompatibleCheckpointError(
            f"saved policy {path} cannot be loaded: {_one_line(error)}"
        ) from error


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def config_differences(saved: TrainConfig, current: TrainConfig) -> list[str]:
    """The compatibility keys on which two configs differ, as ``key: saved -> current``."""
    a, b = saved.model_dump(mode="json"), current.model_dump(mode="json")
    return [
        f"{key}: {_get(a, key)!r} (checkpoint) vs {_get(b, key)!r} (now)"
        for key in COMPATIBILITY_KEYS
        if _get(a, key) != _get(b, key)
    ]


def read_checkpoint_config(directory: Path) -> TrainConfig | None:
    """The run config saved next to a checkpoint, if any."""
    path = directory / CHECKPOINT_CONFIG
    if not path.is_file():
        return None
    try:
        return validate(TrainConfig, load_yaml(path))
    except ConfigError as error:
        raise IncompatibleCheckpointError(
            f"checkpoint {directory} holds a config this version cannot read: {error}"
        ) from error


def check_compatible(directory: Path, current: TrainConfig) -> None:
    """Raise :class:`IncompatibleCheckpointError` if ``directory`` was written differently."""
    saved = read_checkpoint_config(directory)
    if saved is None:
        return
    differences = config_differences(saved, current)
    if differences:
        raise IncompatibleCheckpointError(
            f"checkpoint {directory} was written with an incompatible config: "
            + "; ".join(differences)
        )


def read_run_config(run: RunDir, *, trust_remote_code: bool = False) -> TrainConfig:
    """The resolved config of a run directory, with the caller's ``trust_remote_code``."""
    run.require_run()
    config = validate(TrainConfig, load_yaml(run.config))
    return apply_trust_flag(config, trust_remote_code, str(run.config))


def run_checkpoint(run: RunDir, which: Which = "auto") -> tuple[str, Path]:
    """``(kind, path)`` of the checkpoint to evaluate: final, best, or latest periodic.

    ``auto`` prefers final, then best, then the latest periodic checkpoint.
    """
    order: list[str] = ["final", "best", "latest"] if which == "auto" else [which]
    for kind in order:
        if kind == "final" and _is_saved_policy(run.final):
            return kind, run.final
        if kind == "best" and _is_saved_policy(run.best):
            return kind, run.best
        if kind == "latest":
            latest = ppo_checkpoint.latest_checkpoint(run.periodic)
            if latest is not None:
                return kind, latest
    wanted = "any checkpoint" if which == "auto" else f"{which} checkpoint"
    raise UserError(f"run {run.root} has no {wanted} yet")


def _is_saved_policy(directory: Path) -> bool:
    """An LLM policy (``save_pretrained``) or a symbolic / DRRN one (``glam_ppo.saved_modules``)."""
    return (directory / POLICY_CONFIG).is_file() or is_saved_baseline(directory)


def load_run_policy(
    run_dir: str | os.PathLike[str],
    which: Which = "auto",
    *,
    device: str | None = None,
    trust_remote_code: bool = False,
) -> tuple[Any, TrainConfig, str]:
    """The trained policy of a run, its config, and which checkpoint was used.

    ``device`` replaces the run's ``policy.device`` (which may be ``auto``);
    ``trust_remote_code`` is the caller's decision, never the run's files'.
    """
    overrides = device_override(device)
    run = RunDir.at(run_dir)
    config = read_run_config(run, trust_remote_code=trust_remote_code)
    kind, path = run_checkpoint(run, which)
    check_compatible(path, config)
    if config.agent == "symbolic-ppo":
        if kind in ("final", "best"):
            return load_baseline_saved(path)[0], config, kind
        policy = build_symbolic_policy(config)
        load_training_weights(policy, path)
        return policy, config, kind
    if config.agent == "drrn":
        if kind in ("final", "best"):
            return load_baseline_saved(path)[0], config, kind
        drrn = DRRNPolicy.from_config(config.drrn)
        try:
            drrn.tokenizer.load_state_dict(ppo_checkpoint.read_json(path / "vocab.json"))
        except (CheckpointError, KeyError, ValueError) as error:
            raise IncompatibleCheckpointError(
                f"checkpoint {path} cannot be read: {_one_line(error)}"
            ) from error
        load_training_weights(drrn, path)
        return drrn, config, kind
    if kind in ("final", "best"):
        policy = load_saved_policy(path, trust_remote_code=trust_remote_code, **overrides)
        return policy, config, kind
    # A periodic checkpoint holds the whole training state: rebuild, then load weights.
    if overrides:
        config = config.model_copy(update={"policy": config.policy.model_copy(update=overrides)})
    policy = build_policy(config)
    load_training_weights(policy, path)
    return policy, config, kind


def load_training_weights(policy: torch.nn.Module, checkpoint: Path) -> None:
    """Load the policy weights of a PPO checkpoint; a mismatch is an incompatible config."""
    try:
        state = ppo_checkpoint.read_json(checkpoint / "state.json")
        tensors = ppo_checkpoint.load_tensors(checkpoint / "model.safetensors")
    except CheckpointError as error:  # missing, truncated or corrupt: the message names it
        raise IncompatibleCheckpointError(
            f"checkpoint {checkpoint} cannot be read: {_one_line(error)}"
        ) from error
    try:
        ppo_checkpoint.load_module_tensors(
            policy, tensors, state["model"]["aliases"], state["model"]["trainable_only"]
        )
    except (CheckpointError, RuntimeError, KeyError, TypeError) as error:
        raise IncompatibleCheckpointError(
            f"checkpoint {checkpoint} does not fit the policy of this config: {_one_line(error)}"
        ) from error
