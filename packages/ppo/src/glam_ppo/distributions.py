"""Categorical distributions over masked logits, as plain tensor functions.

Policies mark the actions an observation does not have with ``-inf`` (or the
dtype's lowest value). ``torch.distributions.Categorical`` handles that but
validates and re-normalises on every construction; these few functions do only
what PPO needs, stay finite under masks (entropy and its gradient included) and
take an explicit ``torch.Generator`` so that sampling flows from the run's seed.
"""

from __future__ import annotations

import torch


def log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Normalised log-probabilities in float32 (masked actions stay at ``-inf``)."""
    if logits.dtype != torch.float32:
        logits = logits.float()
    return torch.log_softmax(logits, dim=-1)


def sample(log_p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One action index per row, drawn from ``exp(log_p)``; shape ``(batch,)``.

    The generator must live on ``log_p``'s device; for accelerator policies the
    probabilities are moved to the CPU first so that one CPU generator serves all.
    """
    probs = log_p.exp()
    if generator is not None and probs.device != generator.device:
        probs = probs.to(generator.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The most likely action per row (masked actions are never chosen)."""
    return logits.argmax(dim=-1)


def gather(log_p: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The log-probability of ``actions[i]`` under row ``i``; shape ``(batch,)``."""
    if actions.dtype != torch.int64:
        actions = actions.long()
    return log_p.gather(1, actions.unsqueeze(1)).squeeze(1)


def entropy(log_p: torch.Tensor) -> torch.Tensor:
    """Entropy per row, finite with masked actions (``0 * -inf`` would be NaN).

    Clamping ``log_p`` at the dtype's lowest finite value makes masked terms
    ``0 * finite = 0``; their gradient is zero as well because ``exp(-inf) = 0``.
    """
    clamped = log_p.clamp(min=torch.finfo(log_p.dtype).min)
    return -(log_p.exp() * clamped).sum(dim=-1)
