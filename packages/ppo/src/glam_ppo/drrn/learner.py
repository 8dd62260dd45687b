"""The Q-learning update: TD targets from the target network, loss, clipped Adam step.

``y = r + gamma * (1 - terminated) * max_a' Q_target(s', a')``. Only
*termination* (the game ended) cuts the bootstrap; an episode cut by a time
limit is stored as not terminated, and its final observation (Gymnasium's
``info["final_obs"]``) is ``s'``. A next state without any admissible action
has value 0 (never ``-inf``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from glam_ppo.drrn.encoding import EncodedBatch
from glam_ppo.drrn.network import DRRNNetwork
from glam_ppo.drrn.policy import masked_max

LossKind = Literal["huber", "mse"]


def td_targets(
    rewards: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``r + gamma * max_a' next_q`` where not terminated, ``r`` where terminated.

    ``next_q`` is ``(B, A)`` with ``-inf`` for missing actions; ``torch.where``
    (not a multiplication by ``1 - terminated``) keeps ``0 * -inf`` out.
    """
    bootstrap = masked_max(next_q)
    return torch.where(terminated, rewards, rewards + gamma * bootstrap)


def q_loss(q_taken: torch.Tensor, targets: torch.Tensor, kind: LossKind) -> torch.Tensor:
    """Mean Huber (delta 1, i.e. smooth L1) or squared error of Q against the targets."""
    if kind == "huber":
        return F.smooth_l1_loss(q_taken, targets)
    return F.mse_loss(q_taken, targets)


def q_learning_step(
    network: DRRNNetwork,
    target_network: DRRNNetwork,
    optimizer: torch.optim.Optimizer,
    batch: EncodedBatch,
    next_batch: EncodedBatch,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    loss_kind: LossKind = "huber",
    max_grad_norm: float | None = None,
) -> dict[str, float]:
    """One gradient step on a batch of transitions; returns its statistics.

    ``batch`` encodes the states and their actions, ``next_batch`` the next
    states and theirs; ``actions`` are the indices taken, ``rewards`` and
    ``terminated`` per transition (on the network's device).
    """
    with torch.no_grad():
        targets = td_targets(rewards, terminated, target_network(next_batch), gamma)
    q = network(batch)
    q_taken = q.gather(1, actions.unsqueeze(1)).squeeze(1)
    loss = q_loss(q_taken, targets, loss_kind)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite DRRN loss {loss.item()}: update not applied")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm if max_grad_norm else float("inf"))
    optimizer.step()
    return {
        "loss": float(loss.detach()),
        "q_mean": float(q_taken.detach().mean()),
        "target_mean": float(targets.mean()),
        "td_error_abs": float((q_taken.detach() - targets).abs().mean()),
        "grad_norm": float(norm),
    }
