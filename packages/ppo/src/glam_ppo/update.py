"""The PPO update: epochs of minibatch gradient steps on one rollout's batch.

Every detail is visible here (Schulman et al. 2017; the "37 details" of Huang et
al. 2022): clipped surrogate, optional value clipping, entropy bonus, optional
per-minibatch advantage normalisation, KL early stopping, global gradient-norm
clipping. Three additions make it fit large policies:

* micro-batching: a minibatch is processed in pieces whose gradients accumulate.
  Each piece's loss is its *sum* of per-sample losses divided by the whole
  minibatch's size (and normalisation statistics are taken over the whole
  minibatch first), so the accumulated gradient is the unsplit one.
* data parallelism: the same sums are all-reduced over ranks (see distributed.py).
* sharded data parallelism (FSDP2, see sharding.py): the backward reduce-scatters
  the gradients itself (summed, not averaged), so the hand-written all-reduce is
  skipped; gradient norms are global over the shards. FSDP communicates inside
  every forward and backward, so all ranks must run the same number of them:
  each minibatch is cut into as many micro-batches as the rank that needs the
  most, and a rank with fewer samples pads with zero-weighted passes. Gradients
  are reduce-scattered after every micro-batch, not only after the last one (as
  ``set_requires_gradient_sync(False)`` would allow): accumulating unsharded
  gradients would keep a full gradient on every rank, what sharding avoids.

A NaN or infinite loss or gradient never reaches the parameters: the update
stops with :class:`NonFiniteLossError` or, if configured, skips that step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from glam_ppo import distributions as dist
from glam_ppo.buffer import Batch
from glam_ppo.config import PPOConfig
from glam_ppo.distributed import DistributedContext
from glam_ppo.errors import NonFiniteLossError, PPOError
from glam_ppo.optim import trainable_parameters
from glam_ppo.policy import ActorCriticPolicy, check_output
from glam_ppo.sharding import full_tensor, is_sharded, is_sharded_tensor

logger = logging.getLogger(__name__)

# Per-minibatch statistics, summed over samples (index into the stats vector).
_NONFINITE, _POLICY, _VALUE, _ENTROPY, _KL, _OLD_KL, _CLIPPED = range(7)
_NUM_STATS = 7


@dataclass
class LossTerms:
    """Per-sample terms of the PPO loss, each of shape ``(batch,)``."""

    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor
    log_ratio: torch.Tensor
    ratio: torch.Tensor


def ppo_loss_terms(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    old_logprobs: torch.Tensor,
    old_values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    clip_coef: float,
    value_clip: float | None,
) -> LossTerms:
    """The per-sample clipped surrogate, value error and entropy.

    * policy: ``max(-A * r, -A * clip(r, 1 - eps, 1 + eps))`` with ``r = pi / pi_old``;
    * value: ``(V - R)^2``, or with value clipping
      ``max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)``;
    * entropy of the masked categorical distribution.
    """
    log_p = dist.log_probs(logits)
    log_ratio = dist.gather(log_p, actions) - old_logprobs
    ratio = log_ratio.exp()
    # max(-A r, -A clip(r)) = -min(A r, A clip(r)): one negation instead of two.
    policy = -torch.minimum(
        advantages * ratio, advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)
    )
    if values.dtype != torch.float32:
        values = values.float()
    value = (values - returns).square()
    if value_clip is not None:
        clipped_values = old_values + (values - old_values).clamp(-value_clip, value_clip)
        value = torch.maximum(value, (clipped_values - returns).square())
    return LossTerms(
        policy=policy, value=value, entropy=dist.entropy(log_p), log_ratio=log_ratio, ratio=ratio
    )


def explained_variance(
    values: torch.Tensor, returns: torch.Tensor, dist_ctx: DistributedContext
) -> float:
    """``1 - Var(R - V) / Var(R)`` over all ranks' batches; NaN when ``Var(R) = 0``."""
    y = returns.double()
    error = y - values.double()
    sums = torch.stack(
        [
            torch.tensor(float(y.numel()), dtype=torch.float64),
            y.sum(),
            y.square().sum(),
            error.sum(),
            error.square().sum(),
        ]
    )
    count, y_sum, y_sq, e_sum, e_sq = dist_ctx.all_reduce_sum(sums).tolist()
    if count == 0:
        return math.nan
    var_y = y_sq / count - (y_sum / count) ** 2
    var_e = e_sq / count - (e_sum / count) ** 2
    return math.nan if var_y <= 0 else 1.0 - var_e / var_y


def _minibatch_normalisers(
    advantages: np.ndarray, chunks: list[np.ndarray], normalize: bool, dist_ctx: DistributedContext
) -> np.ndarray:
    """Per minibatch: global size, advantage mean and std, shape ``(num_chunks, 3)``.

    ``advantages`` is the batch's advantages in float64. With ``normalize`` off the
    mean is 0 and the std 1. The std is unbiased, as ``torch.std``; a minibatch of
    one sample is left as is (there is nothing to normalise against).
    """
    sums = np.zeros((len(chunks), 3), dtype=np.float64)
    for k, chunk in enumerate(chunks):
        sums[k, 0] = len(chunk)
        if normalize and len(chunk):
            selected = advantages[chunk]
            sums[k, 1] = selected.sum()
            sums[k, 2] = np.dot(selected, selected)
    if dist_ctx.enabled:
        sums = dist_ctx.all_reduce_sum(torch.from_numpy(sums)).numpy()
    out = np.zeros_like(sums)
    out[:, 0] = sums[:, 0]
    out[:, 2] = 1.0
    if normalize:
        count = sums[:, 0]
        usable = count > 1
        mean = sums[:, 1] / np.maximum(count, 1)
        var = (sums[:, 2] - count * mean**2) / np.maximum(count - 1, 1)
        out[:, 1] = np.where(usable, mean, 0.0)
        out[:, 2] = np.where(usable, np.sqrt(np.maximum(var, 0.0)) + 1e-8, 1.0)
    return out


def clip_grad_norm(params: list[torch.nn.Parameter], max_norm: float) -> float:
    """Scale gradients so that their global L2 norm is at most ``max_norm``; return the norm.

    As ``torch.nn.utils.clip_grad_norm_`` (same formula, ``max_norm / (norm + 1e-6)``),
    with one fused norm over all gradients when they share a device: on small models
    the per-tensor calls of the generic version cost more than the arithmetic.
    Sharded (``DTensor``) gradients go through ``clip_grad_norm_``, whose norm is
    reduced over the shards: every rank gets and applies the same global norm.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if len({(g.device, g.dtype) for g in grads}) > 1 or any(map(is_sharded_tensor, grads)):
        return float(full_tensor(torch.nn.utils.clip_grad_norm_(params, max_norm)))
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    if math.isfinite(max_norm):
        torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp(max=1.0))
    return total.item()


def _micro_slices(indices: np.ndarray, micro_batch_size: int | None) -> list[np.ndarray]:
    if micro_batch_size is None or micro_batch_size >= len(indices):
        return [indices]
    return [indices[i : i + micro_batch_size] for i in range(0, len(indices), micro_batch_size)]


def _sharded_pass_counts(
    chunks: list[np.ndarray],
    whole: bool,
    micro_batch_size: int | None,
    batch_size: int,
    dist_ctx: DistributedContext,
) -> list[int]:
    """Per minibatch, the most micro-batches any rank needs (one collective per epoch).

    Under FSDP every forward and backward communicates, so every rank must run as
    many as the others. A rank pads with passes on one of its samples weighted 0,
    so it needs at least one sample; all ranks fail together otherwise.
    """
    counts = [
        1 if whole else sum(1 for p in _micro_slices(c, micro_batch_size) if len(p)) for c in chunks
    ]
    maxima = dist_ctx.all_reduce_max(torch.tensor([*counts, -batch_size], dtype=torch.int64))
    *passes, minus_smallest = maxima.tolist()
    if minus_smallest == 0:
        raise PPOError(
            "a rank has no valid transition in this rollout: a sharded (FSDP) update needs "
            "at least one on every rank (use more steps or environments per rank)"
        )
    return passes


def ppo_update(
    policy: ActorCriticPolicy,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: PPOConfig,
    clip_coef: float,
    rng: np.random.Generator,
    dist_ctx: DistributedContext | None = None,
) -> dict[str, float]:
    """Run ``config.num_epochs`` epochs of minibatch steps; return the update's metrics.

    Every rank takes ``ceil(batch.capacity / minibatch_size)`` steps per epoch (the
    capacity, unlike the number of valid transitions, is the same on all ranks).
    """
    dist_ctx = dist_ctx or DistributedContext()
    params = trainable_parameters(optimizer)
    sharded = is_sharded(policy)
    num_minibatches = max(1, math.ceil(batch.capacity / config.minibatch_size))
    max_norm = config.max_grad_norm if config.max_grad_norm is not None else math.inf
    totals = np.zeros(_NUM_STATS, dtype=np.float64)
    total_count = 0.0
    grad_norms: list[float] = []
    steps = skipped = 0
    epochs_done = 0.0
    early_stop = False
    advantages64 = batch.advantages.double().numpy()
    was_training = bool(getattr(policy, "training", True))
    policy.train(not config.update_eval_mode)
    try:
        for epoch in range(config.num_epochs):
            whole = num_minibatches == 1 and (
                config.micro_batch_size is None or config.micro_batch_size >= batch.size
            )
            if whole:
                chunks = [np.arange(batch.size)]
            else:
                chunks = np.array_split(rng.permutation(batch.size), num_minibatches)
            normalisers = _minibatch_normalisers(
                advantages64, chunks, config.normalize_advantages, dist_ctx
            )
            passes = (
                _sharded_pass_counts(chunks, whole, config.micro_batch_size, batch.size, dist_ctx)
                if sharded
                else None
            )
            for k, chunk in enumerate(chunks):
                global_size, adv_mean, adv_std = normalisers[k].tolist()
                if global_size == 0:
                    continue
                optimizer.zero_grad(set_to_none=True)
                stats = _accumulate_gradients(
                    policy,
                    batch,
                    None if whole else chunk,
                    config,
                    clip_coef,
                    global_size,
                    adv_mean,
                    adv_std,
                    where=f"epoch {epoch}, minibatch {k}",
                    distributed=dist_ctx.enabled,
                    num_passes=None if passes is None else passes[k],
                )
                if not sharded:  # FSDP's backward has reduce-scattered them already
                    dist_ctx.all_reduce_gradients(params)
                if dist_ctx.enabled:
                    stats = dist_ctx.all_reduce_sum(torch.from_numpy(stats)).numpy()
                if stats[_NONFINITE] > 0:
                    _on_nonfinite(config, f"loss in epoch {epoch}, minibatch {k} (some rank)")
                    skipped += 1
                    continue
                totals += stats
                total_count += global_size
                if config.target_kl is not None and stats[_KL] / global_size > config.target_kl:
                    early_stop = True
                    logger.info(
                        "KL early stop in epoch %d, minibatch %d: approx KL %.4g > %.4g",
                        epoch,
                        k,
                        float(stats[_KL] / global_size),
                        config.target_kl,
                    )
                    break
                grad_norm = clip_grad_norm(params, max_norm)
                if not math.isfinite(grad_norm):
                    _on_nonfinite(config, f"gradient norm in epoch {epoch}, minibatch {k}")
                    skipped += 1
                    continue
                grad_norms.append(grad_norm)
                optimizer.step()
                steps += 1
            if early_stop:
                break
            epochs_done += 1
    finally:
        optimizer.zero_grad(set_to_none=True)
        policy.train(was_training)

    def mean(index: int) -> float:
        return float(totals[index] / total_count) if total_count else math.nan

    return {
        "policy_loss": mean(_POLICY),
        "value_loss": mean(_VALUE),
        "entropy": mean(_ENTROPY),
        "approx_kl": mean(_KL),
        "old_approx_kl": mean(_OLD_KL),
        "clip_fraction": mean(_CLIPPED),
        "explained_variance": explained_variance(batch.values, batch.returns, dist_ctx),
        "grad_norm": float(np.mean(grad_norms)) if grad_norms else math.nan,
        "grad_norm_max": float(np.max(grad_norms)) if grad_norms else math.nan,
        "gradient_steps": float(steps),
        "epochs": epochs_done,
        "kl_early_stop": float(early_stop),
        "skipped_nonfinite": float(skipped),
        "clip_coef": clip_coef,
    }


def _to(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    return tensor if tensor.device == device else tensor.to(device)


def _accumulate_gradients(
    policy: ActorCriticPolicy,
    batch: Batch,
    chunk: np.ndarray | None,
    config: PPOConfig,
    clip_coef: float,
    global_size: float,
    adv_mean: float,
    adv_std: float,
    where: str,
    distributed: bool,
    num_passes: int | None = None,
) -> np.ndarray:
    """Backward every micro-batch of one minibatch; return its summed statistics.

    ``chunk`` None means the whole batch in its order (one minibatch per epoch:
    shuffling would only change the order of a sum). ``num_passes`` (sharded
    policies): run exactly that many forward/backward passes, padding with passes
    on the batch's first sample whose loss is multiplied by 0 (a zero gradient
    that still takes part in FSDP's collectives); empty pieces are not run.
    """
    stats = np.zeros(_NUM_STATS, dtype=np.float64)
    pieces = [None] if chunk is None else _micro_slices(chunk, config.micro_batch_size)
    work: list[tuple[np.ndarray | None, bool]] = [(piece, True) for piece in pieces]
    if num_passes is not None:
        work = [(p, True) for p in pieces if p is None or len(p)]
        work += [(np.zeros(1, dtype=np.int64), False)] * (num_passes - len(work))
    for piece, real in work:
        mb = batch if piece is None else batch.select(piece)
        logits, values = policy(mb.observations)
        check_output(logits, values, mb.size)
        device = logits.device
        advantages = _to(mb.advantages, device)
        if config.normalize_advantages:
            advantages = (advantages - adv_mean) / adv_std
        terms = ppo_loss_terms(
            logits,
            values,
            _to(mb.actions, device),
            _to(mb.logprobs, device),
            _to(mb.values, device),
            advantages,
            _to(mb.returns, device),
            clip_coef,
            config.value_clip,
        )
        policy_sum = terms.policy.sum()
        value_sum = terms.value.sum()
        entropy_sum = terms.entropy.sum()
        loss = policy_sum + config.vf_coef * value_sum
        if config.ent_coef:  # without it the entropy stays out of the backward graph
            loss = loss - config.ent_coef * entropy_sum
        if not real:
            (loss * 0.0).backward()
            continue
        loss = loss / global_size
        if not math.isfinite(loss.item()):
            message = (
                f"non-finite PPO loss in {where}: policy={policy_sum.item():.4g}, "
                f"value={value_sum.item():.4g}, entropy={entropy_sum.item():.4g} (sums); "
                "check the policy's logits and values and the rewards"
            )
            if config.on_nonfinite == "raise" and not distributed:
                raise NonFiniteLossError(message)
            logger.warning(message)
            stats[_NONFINITE] += 1
            if num_passes is not None:
                # FSDP communicates in the backward: run it anyway. The (non-finite)
                # gradient is never applied, since the step is skipped on every rank.
                loss.backward()
            continue
        loss.backward()
        with torch.no_grad():
            ratio_minus_one = terms.ratio - 1.0
            piece_stats = torch.stack(
                [
                    policy_sum,
                    value_sum,
                    entropy_sum,
                    (ratio_minus_one - terms.log_ratio).sum(),
                    terms.log_ratio.sum(),
                    (ratio_minus_one.abs() > clip_coef).sum(),
                ]
            )
        stats[_POLICY:] += piece_stats.cpu().numpy()
    stats[_OLD_KL] = -stats[_OLD_KL]  # the old estimator is mean(-log_ratio)
    return stats


def _on_nonfinite(config: PPOConfig, what: str) -> None:
    message = f"non-finite {what}: the step was not applied"
    if config.on_nonfinite == "raise":
        raise NonFiniteLossError(message + " (set on_nonfinite='skip' to skip such steps)")
    logger.warning(message + "; skipping it")
