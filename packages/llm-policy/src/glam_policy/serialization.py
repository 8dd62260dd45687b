"""A policy on disk: Hugging Face files for the LM, safetensors for the heads, JSON config.

Layout of a saved policy directory::

    policy_config.json    the LLMPolicyConfig (loadable with LLMPolicyConfig.from_file)
    lm/                   the language model and its tokenizer, Hugging Face format
                          (LoRA: the base weights without the adapters)
    adapter/              LoRA only: the peft adapters (adapter_config.json + safetensors)
    heads.safetensors     value head (and action head) weights

Nothing is pickled: the LM is written with ``save_pretrained`` (safetensors), the
heads with ``safetensors``, the config as JSON. The directory is written next to
its destination under a temporary name and moved into place at the end, so a
crash never leaves a half-written policy where a complete one was.

Loading trusts nothing in the directory: ``policy_config.json`` cannot turn on
``trust_remote_code`` (only :func:`load_policy`'s argument can), and a
missing, truncated or foreign file raises a
:class:`~glam_policy.errors.SavedPolicyError` naming it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from glam_policy.config import LLMPolicyConfig
from glam_policy.errors import SavedPolicyError
from glam_policy.loading import load_language_model
from glam_policy.quiet import quiet_transformers

if TYPE_CHECKING:
    from glam_policy.policy import LLMPolicy

logger = logging.getLogger(__name__)

CONFIG_FILE = "policy_config.json"
LM_DIR = "lm"
ADAPTER_DIR = "adapter"
HEADS_FILE = "heads.safetensors"
FORMAT_KEY = "glam_policy_format"
FORMAT_VERSION = "1"


def _base_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The base model's weights under a LoRA wrapper, with the adapters' traces removed."""
    state: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if ".lora_" in key:
            continue
        state[key.replace(".base_layer.", ".")] = value
    return state


def _heads_state(policy: LLMPolicy) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in (("value_head", policy.value_head), ("action_head", policy.action_head)):
        if module is None:
            continue
        for key, value in module.state_dict().items():
            tensors[f"{prefix}.{key}"] = value.detach().cpu().contiguous()
    return tensors


def save_policy(policy: LLMPolicy, directory: str | Path) -> Path:
    """Write ``policy`` to ``directory`` (replaced if it exists); return the path."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a saved policy is an ordinary folder
    try:
        lm_dir = staging / LM_DIR
        hf_model = policy.hf_model
        with quiet_transformers():  # no "Writing model shards" bar from a library
            if policy.config.finetuning == "lora":
                hf_model.save_pretrained(lm_dir, state_dict=_base_state_dict(hf_model))
                policy.lm.save_pretrained(staging / ADAPTER_DIR)
            else:
                hf_model.save_pretrained(lm_dir)
            policy.tokenizer.save_pretrained(lm_dir)
        save_file(
            _heads_state(policy),
            str(staging / HEADS_FILE),
            metadata={"format": "pt", FORMAT_KEY: FORMAT_VERSION},
        )
        (staging / CONFIG_FILE).write_text(policy.config.to_json() + "\n", encoding="utf-8")
        for path in staging.rglob("*"):  # safetensors writes 0600: give the umask's mode
            if path.is_file():
                path.chmod(0o666 & ~umask)
        _replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("saved policy to %s", target)
    return target


def _replace_directory(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; an existing ``target`` is removed only afterwards."""
    if not target.exists():
        os.replace(staging, target)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    backup.rmdir()
    os.replace(target, backup)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def read_config(
    directory: str | Path, *, trust_remote_code: bool = False, **overrides: Any
) -> LLMPolicyConfig:
    """The saved policy's config with ``overrides`` applied (validated).

    ``trust_remote_code`` is the caller's: a ``policy_config.json`` that asks for
    it without the argument raises :class:`~glam_policy.errors.RemoteCodeError`.
    """
    path = Path(directory)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"{path} is not a saved policy: {CONFIG_FILE} is missing")
    config = LLMPolicyConfig.from_file(config_path, trust_remote_code=trust_remote_code)
    if overrides:
        config = LLMPolicyConfig.from_dict({**config.model_dump(), **overrides})
    return config


def load_policy(
    policy_class: type[LLMPolicy],
    directory: str | Path,
    *,
    trust_remote_code: bool = False,
    **overrides: Any,
) -> LLMPolicy:
    """Rebuild a policy saved by :func:`save_policy` (see ``LLMPolicy.from_pretrained``).

    ``trust_remote_code=True`` is the only way to let the saved model run Python
    code of its own (``LLMPolicy.from_pretrained(directory, trust_remote_code=True)``);
    without it, a directory that asks for it is refused with a
    :class:`~glam_policy.errors.RemoteCodeError` naming the file that asked.
    """
    path = Path(directory)
    config = read_config(path, trust_remote_code=trust_remote_code, **overrides)
    # The saved LM directory holds the weights to use, whatever the original source was.
    load_config = config.model_copy(
        update={"pretrained": True, "keep_pretrained_embeddings": False, "revision": None}
    )
    loaded = load_language_model(load_config, source=path / LM_DIR)
    adapter_dir = path / ADAPTER_DIR if config.finetuning == "lora" else None
    if adapter_dir is not None and not adapter_dir.is_dir():
        raise FileNotFoundError(f"{path} was saved with LoRA but has no {ADAPTER_DIR}/ folder")
    policy = policy_class(config, loaded, adapter_dir=adapter_dir)
    _load_heads(policy, path / HEADS_FILE)
    logger.info("loaded policy from %s", path)
    return policy


def _load_heads(policy: LLMPolicy, path: Path) -> None:
    if not path.is_file():
        raise SavedPolicyError(f"{path} is missing: the saved policy is incomplete")
    try:  # safetensors never unpickles: a pickle or garbage fails here, whatever its name
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path), device=str(policy.device))
    except Exception as error:  # SafetensorError, OSError, ... for truncated or foreign files
        reason = " ".join(f"{type(error).__name__}: {error}".split())[:300]
        raise SavedPolicyError(
            f"{path} is not a readable safetensors file (truncated or corrupt?): {reason}"
        ) from error
    version = metadata.get(FORMAT_KEY)
    if version != FORMAT_VERSION:
        raise SavedPolicyError(
            f"{path}: unsupported heads format {version!r} (expected {FORMAT_VERSION})"
        )
    for prefix, module in (("value_head", policy.value_head), ("action_head", policy.action_head)):
        if module is None:
            continue
        state = {
            key[len(prefix) + 1 :]: value
            for key, value in tensors.items()
            if key.startswith(prefix + ".")
        }
        module.load_state_dict(state, strict=True)
