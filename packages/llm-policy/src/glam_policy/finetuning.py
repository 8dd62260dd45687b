"""What of the language model trains: everything, nothing, or LoRA adapters.

``full`` fine-tunes every weight (the paper); ``frozen`` keeps the LM fixed so
only the heads learn (cheap, and NPAE-with-frozen-LM ablations); ``lora`` adds
``peft`` low-rank adapters and trains only them, in float32 even on a base model
stored in bfloat16 (see :mod:`glam_policy.precision`). Gradient checkpointing
trades compute for activation memory in any mode. ``disable_dropout`` zeroes the
LM's dropout so that a PPO update's first ratios are exactly 1 and the policy is
a deterministic function of its weights in train mode too.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from torch import nn

from glam_policy.config import LLMPolicyConfig, LoraSettings

logger = logging.getLogger(__name__)

#: Float attributes through which some models (T5's attention) apply dropout without nn.Dropout.
_DROPOUT_ATTRIBUTES = ("dropout", "attention_dropout", "attn_dropout", "dropout_rate")


def disable_dropout(model: nn.Module) -> int:
    """Set every dropout probability of ``model`` to 0; return how many were changed."""
    changed = 0
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            if module.p != 0.0:
                changed += 1
            module.p = 0.0
        for name in _DROPOUT_ATTRIBUTES:
            value = getattr(module, name, None)
            if isinstance(value, float) and not isinstance(value, bool):
                if value != 0.0:
                    changed += 1
                setattr(module, name, 0.0)
    return changed


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Turn on Hugging Face activation checkpointing (non-reentrant, works with frozen inputs)."""
    kwargs = {"use_reentrant": False}
    enable = getattr(model, "activation_checkpointing_enable", None)
    if callable(enable):
        enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "use_cache"):
        config.use_cache = False


def is_gradient_checkpointing(model: nn.Module) -> bool:
    """Whether Hugging Face activation checkpointing is on for ``model``."""
    if hasattr(type(model), "is_activation_checkpointing"):
        return bool(model.is_activation_checkpointing)
    return bool(getattr(model, "is_gradient_checkpointing", False))


def _peft() -> Any:
    try:
        import peft
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "finetuning='lora' needs peft: pip install 'glam-llm-policy[peft]'"
        ) from error
    return peft


def lora_config(settings: LoraSettings) -> Any:
    """A ``peft.LoraConfig`` from the policy's LoRA settings."""
    peft = _peft()
    return peft.LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        bias=settings.bias,
    )


def apply_finetuning(
    model: nn.Module, cfg: LLMPolicyConfig, *, adapter_dir: str | Path | None = None
) -> nn.Module:
    """Prepare ``model`` for ``cfg.finetuning``; returns the module to call (peft-wrapped for LoRA).

    With ``adapter_dir`` the LoRA adapters are loaded from there (a saved policy)
    instead of freshly initialised.
    """
    if cfg.disable_dropout:
        changed = disable_dropout(model)
        logger.debug("disabled %d dropout settings", changed)
    if cfg.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    if cfg.finetuning == "full":
        model.requires_grad_(True)
        return model
    if cfg.finetuning == "frozen":
        model.requires_grad_(False)
        return model
    peft = _peft()
    with warnings.catch_warnings():
        # peft's own notices: it flips fan_in_fan_out for GPT-2's Conv1D layers by itself,
        # and it queries transformers' deprecated checkpointing flag.
        warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*")
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        # autocast_adapter_dtype (peft's default, spelled out): adapters on a bfloat16 or
        # float16 base model are created in float32, since they are what trains.
        if adapter_dir is not None:
            wrapped = peft.PeftModel.from_pretrained(
                model, str(adapter_dir), is_trainable=True, autocast_adapter_dtype=True
            )
        else:
            wrapped = peft.get_peft_model(model, lora_config(cfg.lora), autocast_adapter_dtype=True)
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    logger.info("LoRA adapters: %d trainable parameters", trainable)
    return wrapped
