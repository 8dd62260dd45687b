"""Load a Hugging Face language model and tokenizer the same way for hub names and paths.

One loading path for everything: a hub name, a local checkpoint, or a tiny model
written by :mod:`glam_policy.tiny` all go through ``AutoConfig`` /
``AutoModelForCausalLM`` / ``AutoModelForSeq2SeqLM`` / ``AutoTokenizer``. Any
failure becomes a :class:`~glam_policy.errors.ModelLoadError` that names the
model and the reason in one line.

Remote code. ``cfg.trust_remote_code`` is passed to transformers, and it is the
caller's decision alone: whatever a file on disk says, nothing sets it but the
Python argument (``glam_policy.config.LLMPolicyConfig.from_file`` and
``glam_policy.serialization.load_policy`` refuse a file that asks for it). A
local model directory whose ``config.json`` or ``tokenizer_config.json`` has an
``auto_map`` (the way transformers finds Python code shipped with a model) is
refused before transformers reads it, with a :class:`RemoteCodeError` naming the
file, unless the caller opted in: transformers would otherwise use its own code
for a known ``model_type`` silently, or import the shipped file for an unknown one.

Offline. Where a hub name is read from (the network, or the cache only) is
decided once before transformers is called (:mod:`glam_policy.hub`): with no
network, a cached model loads at once and an uncached one fails at once, instead
of after transformers' 30 s of retries. transformers' progress bars and log lines
stay off the terminal while it loads (:mod:`glam_policy.quiet`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from glam_policy.config import LLMPolicyConfig
from glam_policy.errors import ModelLoadError, RemoteCodeError
from glam_policy.hub import ModelSource, require_cached, resolve_source
from glam_policy.precision import DTYPES, dtype_name, resolve_precision
from glam_policy.quiet import quiet_transformers
from glam_policy.scoring import Architecture

logger = logging.getLogger(__name__)

#: Config attributes that hold a model's hard limit on positions, first found wins.
POSITION_LIMIT_ATTRIBUTES = ("max_position_embeddings", "n_positions", "n_ctx", "seq_length")
#: Tokenizers without a known limit report a huge ``model_max_length``; ignore those.
_UNSET_TOKENIZER_LIMIT = 1_000_000
#: Files of a model directory whose ``auto_map`` makes transformers import Python code.
REMOTE_CODE_FILES = ("config.json", "tokenizer_config.json")


@dataclass
class LoadedModel:
    """A language model, its tokenizer and the family it belongs to."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    architecture: Architecture


def resolve_dtype(name: str) -> torch.dtype:
    """``"float32"`` / ``"bfloat16"`` / ``"float16"`` to the torch dtype.

    ``"auto"`` is not a dtype by itself: it depends on the device and the
    fine-tuning mode, see :func:`glam_policy.precision.resolve_precision`.
    """
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(
            f"unknown dtype {name!r}; allowed: {', '.join(DTYPES)} "
            "('auto' is resolved by glam_policy.precision.resolve_precision)"
        ) from None


def resolve_device(name: str) -> torch.device:
    """A torch device; ``"auto"`` is the current CUDA device when there is one, else the CPU.

    ``"auto"`` gives ``cuda`` without an index on purpose: a distributed launcher
    sets each process's current device first (``torch.cuda.set_device``).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def device_unavailable(device: torch.device) -> str | None:
    """Why this machine cannot use ``device`` (``None`` when it can).

    Checked before loading, so that a config naming a GPU on a machine without
    one fails with a sentence instead of a CUDA initialisation traceback.
    """
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return f"device {str(device)!r} is not available: this machine has no usable CUDA GPU"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"device {str(device)!r} is not available: this machine has {count} CUDA GPU(s)"
    if device.type == "mps" and not torch.backends.mps.is_available():
        return f"device {str(device)!r} is not available on this machine"
    return None


def detect_architecture(config: PretrainedConfig) -> Architecture:
    """Encoder-decoder when the model's config says so, decoder-only otherwise."""
    return "encoder-decoder" if getattr(config, "is_encoder_decoder", False) else "decoder"


def has_relative_positions(config: PretrainedConfig) -> bool:
    """Whether the model places tokens by a relative position bias (T5 and its kin).

    Such a model has no position table: any length runs. The hub's T5 configs still
    carry ``n_positions: 512``, the length it was pretrained on, which is no limit.
    """
    return bool(getattr(config, "relative_attention_num_buckets", None))


def hard_position_limit(model: PreTrainedModel) -> int | None:
    """Where the model's positions really end: its position table's size, if it has one.

    A learned or fixed table (GPT-2's ``n_positions``, BART's or Llama's
    ``max_position_embeddings``) has no row past its size, so longer sequences fail
    or go out of distribution. ``None`` for relative positions (T5: the paper's
    Lamorel scored every prompt whole, whatever its length) and when the config
    names no table. This, not :func:`position_limit`, is where prompts are cut.
    """
    config = model.config
    if has_relative_positions(config):
        return None
    for name in POSITION_LIMIT_ATTRIBUTES:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def position_limit(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The model's nominal sequence length, if known: informative, not where prompts are cut.

    A position table in the model's config gives it; otherwise the tokenizer's
    ``model_max_length`` (for T5, the length it was pretrained on, 512, which its
    relative positions go past); ``None`` when neither is known. The policy cuts
    prompts at :func:`hard_position_limit` only.
    """
    config = model.config
    for name in POSITION_LIMIT_ATTRIBUTES:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < _UNSET_TOKENIZER_LIMIT:
        return limit
    return None


def remote_code_request(source: str | Path) -> tuple[Path, str] | None:
    """``(file, how)`` when the local model directory ``source`` ships Python code to run.

    ``None`` for a hub name (transformers, given ``trust_remote_code=False``,
    refuses remote code there itself) and for a directory without an ``auto_map``.
    A file that is not readable JSON is left to transformers to report.
    """
    directory = Path(source)
    if not directory.is_dir():
        return None
    for name in REMOTE_CODE_FILES:
        path = directory / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(data, dict) and data.get("auto_map"):
            auto_map = data["auto_map"]
            classes = ", ".join(sorted(auto_map)) if isinstance(auto_map, dict) else auto_map
            return path, f"'auto_map': {classes}"
    return None


def check_remote_code(cfg: LLMPolicyConfig, source: str | Path) -> None:
    """Raise :class:`RemoteCodeError` if ``source`` ships code and ``cfg`` did not opt in."""
    if cfg.trust_remote_code:
        return
    request = remote_code_request(source)
    if request is not None:
        raise RemoteCodeError(str(request[0]), request[1])


def _refused_remote_code(cfg: LLMPolicyConfig, name: str, error: BaseException) -> None:
    """Turn transformers' own refusal of a hub model's code into a :class:`RemoteCodeError`."""
    if not cfg.trust_remote_code and "trust_remote_code" in str(error):
        raise RemoteCodeError(name, "custom code in the model repository") from error


def model_source(cfg: LLMPolicyConfig, name: str) -> ModelSource:
    """How ``name`` loads (directory, hub, cache only); an uncached offline model fails here."""
    source = resolve_source(name, local_files_only=cfg.local_files_only)
    require_cached(source, cfg.revision)
    return source


def _hub_kwargs(cfg: LLMPolicyConfig, source: ModelSource) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "trust_remote_code": cfg.trust_remote_code,
        "local_files_only": cfg.local_files_only or source.cache_only,
    }
    if cfg.revision is not None:
        kwargs["revision"] = cfg.revision
    return kwargs


def _model_kwargs(hub_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The hub arguments for ``AutoModel*.from_pretrained``, the adapter lookup's included.

    With peft installed, transformers looks for an ``adapter_config.json`` first,
    and does not pass ``local_files_only`` to that lookup: offline, it would retry
    the hub for 30 s before loading a cached model.
    """
    if not hub_kwargs["local_files_only"]:
        return hub_kwargs
    return {**hub_kwargs, "adapter_kwargs": {"local_files_only": True}}


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _weights_reason(name: str, error: BaseException) -> str:
    """The reason, naming the weights file when safetensors could not read it.

    safetensors' own message ("header too large") does not say which file of the
    directory is damaged; the one line the user sees should.
    """
    directory = Path(name)
    if type(error).__name__ != "SafetensorError" or not directory.is_dir():
        return _reason(error)
    files = ", ".join(str(path) for path in sorted(directory.glob("*.safetensors")))
    return f"weights file {files} is unreadable (truncated or corrupt?): {_reason(error)}"


def load_model_config(cfg: LLMPolicyConfig, source: str | None = None) -> PretrainedConfig:
    """The Hugging Face config of ``source`` (default ``cfg.model``)."""
    name = source or cfg.model
    check_remote_code(cfg, name)
    kwargs = _hub_kwargs(cfg, model_source(cfg, name))
    try:
        with quiet_transformers():
            return AutoConfig.from_pretrained(name, **kwargs)
    except Exception as error:  # HF raises OSError, ValueError, KeyError, ... for bad models
        _refused_remote_code(cfg, name, error)
        raise ModelLoadError(name, _reason(error)) from error


def load_tokenizer(cfg: LLMPolicyConfig, source: str | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer of ``source`` (default ``cfg.model``)."""
    name = source or cfg.model
    check_remote_code(cfg, name)
    kwargs = _hub_kwargs(cfg, model_source(cfg, name))
    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(name, **kwargs)
    except Exception as error:
        _refused_remote_code(cfg, name, error)
        raise ModelLoadError(name, f"tokenizer: {_reason(error)}") from error


def load_language_model(cfg: LLMPolicyConfig, source: str | Path | None = None) -> LoadedModel:
    """Load (or build, with ``pretrained=False``) the model and tokenizer of ``cfg``.

    ``source`` replaces ``cfg.model`` as the place to read from (a saved policy's
    ``lm`` folder). Random weights are drawn under ``cfg.seed`` without touching
    the global RNG; ``keep_pretrained_embeddings`` then copies the pretrained
    input embeddings in. The model is returned in eval mode on ``cfg.device``,
    its weights in the storage dtype that :func:`~glam_policy.precision.resolve_precision`
    picks for ``cfg`` on that device.
    """
    name = str(source) if source is not None else cfg.model
    hf_config = load_model_config(cfg, name)
    detected = detect_architecture(hf_config)
    architecture: Architecture = detected if cfg.architecture == "auto" else cfg.architecture
    if architecture != detected:
        logger.warning("model %r looks %s but the config forces %s", name, detected, architecture)
    auto_class = AutoModelForCausalLM if architecture == "decoder" else AutoModelForSeq2SeqLM
    device = resolve_device(cfg.device)
    unavailable = device_unavailable(device)
    if unavailable is not None:
        raise ModelLoadError(name, f"{unavailable}; use device 'auto' or 'cpu'")
    dtype = resolve_precision(cfg, device).storage_dtype
    tokenizer = load_tokenizer(cfg, name)
    hub_kwargs = _model_kwargs(_hub_kwargs(cfg, model_source(cfg, name)))
    try:
        if cfg.pretrained:
            with quiet_transformers():
                model = auto_class.from_pretrained(
                    name,
                    config=hf_config,
                    dtype=dtype,
                    attn_implementation=cfg.attn_implementation,
                    **hub_kwargs,
                )
        else:
            with torch.random.fork_rng(devices=[]), quiet_transformers():
                torch.manual_seed(cfg.seed)
                model = auto_class.from_config(
                    hf_config,
                    dtype=dtype,
                    attn_implementation=cfg.attn_implementation,
                    trust_remote_code=cfg.trust_remote_code,
                )
            if cfg.keep_pretrained_embeddings:
                _copy_pretrained_embeddings(model, auto_class, name, hf_config, dtype, hub_kwargs)
    except ModelLoadError:
        raise
    except Exception as error:
        _refused_remote_code(cfg, name, error)
        raise ModelLoadError(name, _weights_reason(name, error)) from error
    if not isinstance(model, PreTrainedModel):
        raise ModelLoadError(name, f"expected a transformers PreTrainedModel, got {type(model)}")
    model.to(device)
    model.eval()
    logger.info(
        "loaded %s model %r (%s, %s, %s weights)",
        architecture,
        name,
        dtype_name(dtype),
        device,
        "pretrained" if cfg.pretrained else "random",
    )
    return LoadedModel(model=model, tokenizer=tokenizer, architecture=architecture)


def _copy_pretrained_embeddings(
    model: PreTrainedModel,
    auto_class: Any,
    name: str,
    hf_config: PretrainedConfig,
    dtype: torch.dtype,
    hub_kwargs: dict[str, Any],
) -> None:
    """Overwrite the random input embeddings with the pretrained ones (NPAE variant)."""
    with quiet_transformers():
        pretrained = auto_class.from_pretrained(name, config=hf_config, dtype=dtype, **hub_kwargs)
    source = pretrained.get_input_embeddings().weight
    target = model.get_input_embeddings().weight
    if source.shape != target.shape:
        raise ModelLoadError(
            name, f"pretrained embeddings {tuple(source.shape)} do not fit {tuple(target.shape)}"
        )
    with torch.no_grad():
        target.copy_(source)
    del pretrained
    logger.info("kept the pretrained input embeddings of %r", name)
