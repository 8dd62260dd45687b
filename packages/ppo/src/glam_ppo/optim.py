"""Building the optimizer, with parameter groups that keep their own learning rates.

A language-model policy typically wants a small learning rate for the model and a
larger one for freshly initialised heads. Each group may set ``lr`` (and any other
AdamW option); the config supplies the defaults. Each group remembers its
``base_lr`` so that schedules scale every group by the same factor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from glam_ppo.config import PPOConfig

logger = logging.getLogger(__name__)

ParamGroups = Sequence[dict[str, Any]]


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter],
    config: PPOConfig,
    param_groups: ParamGroups | None = None,
) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay; equal to Adam when ``weight_decay`` is 0).

    ``parameters``: the policy's parameters; the trainable ones form the single
    default group when ``param_groups`` is None. Given groups must cover every
    trainable parameter: one left out would silently never learn.
    """
    trainable = [p for p in parameters if p.requires_grad]
    if param_groups is None:
        groups: list[dict[str, Any]] = [{"params": trainable}]
    else:
        groups = []
        for i, group in enumerate(param_groups):
            if "params" not in group:
                raise ValueError(f"param_groups[{i}] has no 'params' entry")
            groups.append({**group, "params": list(group["params"])})
        grouped = {id(p) for group in groups for p in group["params"]}
        missing = sum(1 for p in trainable if id(p) not in grouped)
        if missing:
            raise ValueError(
                f"param_groups leave out {missing} trainable parameter(s) of the policy; "
                "add them to a group or set requires_grad=False on them"
            )
    options: dict[str, Any] = {
        "lr": config.learning_rate,
        "betas": config.adam_betas,
        "eps": config.adam_eps,
        "weight_decay": config.weight_decay,
    }
    try:
        # One fused kernel for all parameters instead of ~10 ops per parameter: on small
        # models the per-op overhead dominates the step. Not every device/dtype has it.
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(groups, fused=True, **options)
    except (RuntimeError, ValueError) as error:
        logger.debug("fused AdamW unavailable (%s); using the default implementation", error)
        optimizer = torch.optim.AdamW(groups, **options)
    remember_base_lrs(optimizer)
    return optimizer


def remember_base_lrs(optimizer: torch.optim.Optimizer) -> None:
    """Record each group's unscheduled learning rate (kept if already there)."""
    for group in optimizer.param_groups:
        group.setdefault("base_lr", float(group["lr"]))


def apply_lr_factor(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Set every group's learning rate to ``base_lr * factor``."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor


def trainable_parameters(optimizer: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
    """The parameters the optimizer updates, in a fixed order (same on every rank)."""
    return [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
