"""Behavioural cloning: fine-tune an :class:`~glam_policy.policy.LLMPolicy` on expert actions.

PPO from a policy that knows nothing of the task spends most of its samples
finding the first rewards. Cloning an expert (the BabyAI bot) first gives it a
policy that already acts sensibly, which PPO can then improve. The loss is the
cross-entropy of the expert's action among the admissible ones under the
policy's *own* logits (the masked logits ``policy(observations)`` returns, with
the config's normalization), so what is trained is exactly the distribution the
agent samples from, and the trained object is the same ``LLMPolicy``: save it
with ``save_pretrained`` and continue it with PPO.

What trains is what the policy's fine-tuning settings make trainable
(:mod:`glam_policy.finetuning`): every LM weight (``full``), the LoRA adapters
(``lora``), nothing of the LM (``frozen``); plus the action head of an NPAE
policy. The value head gets no gradient from this loss and is left as it is.

Records are plain mappings (:class:`BCRecord`: an observation dict and the
expert's action index) so that this package needs nothing from the environment
package: ``glam_env.demonstrations`` writes records of that shape. Training is
deterministic given ``BCConfig.seed`` (shuffling, held-out split, dropout) on a
given machine and torch build; the global random state is left untouched.
"""

from __future__ import annotations

import logging
import math
import numbers
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from glam_policy.errors import PolicyInputError
from glam_policy.inputs import PolicyInput

if TYPE_CHECKING:
    from glam_policy.policy import LLMPolicy

__all__ = [
    "BCConfig",
    "BCEpochMetrics",
    "BCEvaluation",
    "BCRecord",
    "BCResult",
    "bc_param_groups",
    "behavior_cloning_loss",
    "evaluate_behavior_cloning",
    "split_records",
    "train_behavior_cloning",
]

logger = logging.getLogger(__name__)


class BCRecord(TypedDict):
    """One expert decision; extra keys (reward, seed, ...) are allowed and ignored.

    ``observation`` is a text-game observation dict (or anything
    :meth:`PolicyInput.from_any` takes); ``action`` the index of the expert's
    action in its ``admissible_actions``. Records with the same ``episode`` are
    held out together, so held-out metrics are measured on unseen episodes.
    """

    observation: Mapping[str, Any]
    action: int
    episode: NotRequired[int]


class BCConfig(BaseModel):
    """Settings of one behavioural-cloning run (AdamW, mini-batches of decisions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    """Decisions per optimizer step (the policy chunks its forward by ``token_budget``)."""
    learning_rate: float = Field(1e-4, gt=0)
    """Learning rate of the LM's trainable weights (all of them, or the LoRA adapters)."""
    head_learning_rate: float | None = Field(None, gt=0)
    """Action head (NPAE) learning rate; ``None``: ``learning_rate``."""
    weight_decay: float = Field(0.0, ge=0)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = Field(1e-8, gt=0)
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Clip the global gradient norm to this; ``None``: no clipping."""
    max_updates: int | None = Field(None, ge=1)
    """Stop after this many optimizer steps in all (``None``: run every epoch)."""
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    """Share of the episodes (records without ``episode``: of the records) held out."""
    eval_batch_size: int = Field(64, ge=1)
    seed: int = 0


@dataclass(frozen=True)
class BCEvaluation:
    """How well a policy predicts the expert on some records."""

    loss: float
    """Mean cross-entropy of the expert's action."""
    expert_probability: float
    """Mean probability the policy gives the expert's action."""
    accuracy: float
    """Share of decisions where the expert's action is the policy's most likely one."""
    samples: int


@dataclass(frozen=True)
class BCEpochMetrics:
    """One epoch: training averages and the held-out evaluation after it."""

    epoch: int
    updates: int
    """Optimizer steps so far, over all epochs."""
    train_loss: float
    train_accuracy: float
    train_samples: int
    seconds: float
    validation: BCEvaluation | None

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready metrics (``validation_*`` are ``None`` without a held-out set)."""
        flat = {k: v for k, v in asdict(self).items() if k != "validation"}
        for name in ("loss", "expert_probability", "accuracy", "samples"):
            value = getattr(self.validation, name) if self.validation is not None else None
            flat[f"validation_{name}"] = value
        return flat


@dataclass
class BCResult:
    """The trained policy (the very object given) and what happened."""

    policy: LLMPolicy
    config: BCConfig
    train_size: int
    validation_size: int
    initial: BCEvaluation | None
    """Held-out evaluation before the first update."""
    epochs: list[BCEpochMetrics] = field(default_factory=list)

    @property
    def updates(self) -> int:
        return self.epochs[-1].updates if self.epochs else 0


# ---------------------------------------------------------------------- loss


def _expert_log_probs(logits: torch.Tensor, expert_indices: Any) -> torch.Tensor:
    """Log-probability of each expert action under the softmax of ``logits``; validated."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (batch, max_actions), got shape {tuple(logits.shape)}")
    indices = torch.as_tensor(expert_indices, device=logits.device)
    if indices.dtype == torch.bool or indices.is_floating_point() or indices.is_complex():
        raise ValueError(f"expert indices must be integers, got {indices.dtype}")
    indices = indices.long()
    if indices.shape != (logits.shape[0],):
        raise ValueError(
            f"need one expert index per row of logits {tuple(logits.shape)}, "
            f"got shape {tuple(indices.shape)}"
        )
    if logits.shape[0] == 0:
        return logits.new_zeros(0, dtype=torch.float32)
    bad = (indices < 0) | (indices >= logits.shape[1])
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"expert index {int(indices[row])} of row {row} is outside the "
            f"{logits.shape[1]} action columns"
        )
    chosen = logits.gather(1, indices[:, None]).squeeze(1)
    masked = ~torch.isfinite(chosen)
    if bool(masked.any()):
        row = int(masked.nonzero()[0, 0])
        raise ValueError(
            f"expert index {int(indices[row])} of row {row} is a masked (not admissible) action"
        )
    return torch.log_softmax(logits.float(), dim=-1).gather(1, indices[:, None]).squeeze(1)


def behavior_cloning_loss(
    logits: torch.Tensor, expert_indices: torch.Tensor | Sequence[int], reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of the expert's action among the admissible ones.

    ``logits`` is the policy's ``(batch, max_actions)`` output, ``-inf`` on the
    columns past each row's admissible actions (those get probability 0 and no
    gradient); ``expert_indices`` the expert's column per row. An index on a
    masked column or outside the columns is an error, never a silent ``inf``.
    ``reduction``: ``mean``, ``sum`` or ``none`` (per row). Computed in float32.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    nll = -_expert_log_probs(logits, expert_indices)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    if nll.numel() == 0:
        raise ValueError("behavior_cloning_loss of an empty batch")
    return nll.mean()


# ---------------------------------------------------------------------- records


@dataclass(frozen=True)
class _Example:
    observation: Any
    action: int
    group: Any


def _examples(records: Sequence[Mapping[str, Any]], what: str) -> list[_Example]:
    """Records checked once, up front: a bad one names its position, not a batch."""
    examples = []
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise PolicyInputError(
                f"{what} record {position} must be a mapping, got {type(record).__name__}"
            )
        missing = [key for key in ("observation", "action") if key not in record]
        if missing:
            raise PolicyInputError(f"{what} record {position} has no {' or '.join(missing)}")
        action = record["action"]
        if isinstance(action, bool) or not isinstance(action, numbers.Integral):
            raise PolicyInputError(
                f"{what} record {position}: action must be an integer index, got {action!r}"
            )
        try:
            admissible = PolicyInput.from_any(record["observation"]).admissible_actions
        except ValueError as error:
            raise PolicyInputError(f"{what} record {position}: {error}") from None
        if not 0 <= int(action) < len(admissible):
            raise PolicyInputError(
                f"{what} record {position}: action {int(action)} is not an index of the "
                f"{len(admissible)} admissible actions"
            )
        group = record.get("episode", ("record", position))
        examples.append(_Example(record["observation"], int(action), group))
    return examples


def split_records(
    records: Sequence[Mapping[str, Any]], validation_fraction: float, seed: int = 0
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """``(train, held_out)``: whole episodes held out (each record is its own without one).

    The held-out groups are drawn with ``random.Random(seed)``; at least one group is
    held out when the fraction is positive and there are two groups or more. Both
    lists keep the records' order.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    groups: dict[Any, None] = {}
    for position, record in enumerate(records):
        groups.setdefault(_group_key(record, position), None)
    keys = list(groups)
    count = math.ceil(validation_fraction * len(keys)) if validation_fraction > 0 else 0
    count = min(count, len(keys) - 1) if len(keys) > 1 else 0
    held = set(random.Random(seed).sample(keys, count)) if count else set()
    train: list[Mapping[str, Any]] = []
    held_out: list[Mapping[str, Any]] = []
    for position, record in enumerate(records):
        (held_out if _group_key(record, position) in held else train).append(record)
    return train, held_out


def _group_key(record: Mapping[str, Any], position: int) -> Any:
    if isinstance(record, Mapping) and "episode" in record:
        return ("episode", record["episode"])
    return ("record", position)


# ---------------------------------------------------------------------- training


def bc_param_groups(policy: LLMPolicy, config: BCConfig) -> list[dict[str, Any]]:
    """The optimizer groups: the LM's trainable weights, and the NPAE action head.

    The LM's trainable weights are those its fine-tuning mode left trainable (all,
    the LoRA adapters, or none). A policy with nothing the loss can move (a frozen
    LM with the scoring head) is an error rather than a run that changes nothing.
    """
    groups: list[dict[str, Any]] = []
    lm = policy.lm_parameters()
    if lm:
        groups.append({"name": "lm", "params": lm, "lr": config.learning_rate})
    if policy.action_head is not None:
        head = [p for p in policy.action_head.parameters() if p.requires_grad]
        if head:
            lr = config.head_learning_rate or config.learning_rate
            groups.append({"name": "action_head", "params": head, "lr": lr})
    if not groups:
        raise ValueError(
            "behavioural cloning has nothing to train: the LM is frozen and the scoring head "
            "has no weights; use finetuning 'full' or 'lora', or head 'action_heads'"
        )
    return groups


def _batches(items: Sequence[_Example], size: int) -> list[Sequence[_Example]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


@torch.no_grad()
def _evaluate(policy: LLMPolicy, examples: Sequence[_Example], batch_size: int) -> BCEvaluation:
    was_training = policy.training
    policy.eval()
    loss = probability = correct = 0.0
    try:
        for batch in _batches(examples, batch_size):
            logits, _ = policy([e.observation for e in batch])
            targets = torch.tensor([e.action for e in batch], device=logits.device)
            log_probs = _expert_log_probs(logits, targets)
            loss -= float(log_probs.sum())
            probability += float(log_probs.exp().sum())
            correct += float((logits.argmax(dim=-1) == targets).sum())
    finally:
        policy.train(was_training)
    n = len(examples)
    return BCEvaluation(loss / n, probability / n, correct / n, n)


def evaluate_behavior_cloning(
    policy: LLMPolicy, records: Sequence[Mapping[str, Any]], batch_size: int = 64
) -> BCEvaluation:
    """Expert-action loss, probability and accuracy of ``policy`` on ``records`` (eval mode)."""
    examples = _examples(records, "evaluation")
    if not examples:
        raise ValueError("no records to evaluate")
    return _evaluate(policy, examples, batch_size)


def _rng_devices(policy: LLMPolicy) -> list[int]:
    device = policy.device
    if device.type == "cuda":
        return [device.index if device.index is not None else torch.cuda.current_device()]
    return []


def train_behavior_cloning(
    policy: LLMPolicy,
    records: Sequence[Mapping[str, Any]],
    config: BCConfig | Mapping[str, Any] | None = None,
    *,
    validation: Sequence[Mapping[str, Any]] | None = None,
    on_epoch: Callable[[BCEpochMetrics], None] | None = None,
) -> BCResult:
    """Fine-tune ``policy`` in place to pick the expert's actions of ``records``.

    ``validation`` is an explicit held-out set; without it ``config.validation_fraction``
    of the episodes of ``records`` are held out (:func:`split_records`). After every
    epoch the held-out loss, expert-action probability and accuracy are measured
    (eval mode, no gradient), logged and passed to ``on_epoch``. The policy is
    left in the train/eval mode it came in.
    """
    cfg = config if isinstance(config, BCConfig) else BCConfig.model_validate(config or {})
    if validation is None:
        train_records, held_records = split_records(records, cfg.validation_fraction, seed=cfg.seed)
    else:
        train_records, held_records = list(records), list(validation)
    train = _examples(train_records, "training")
    held = _examples(held_records, "validation")
    if not train:
        raise ValueError("no training records (after holding out the validation share)")
    groups = bc_param_groups(policy, cfg)
    parameters = [p for group in groups for p in group["params"]]
    optimizer = torch.optim.AdamW(
        groups, betas=cfg.adam_betas, eps=cfg.adam_eps, weight_decay=cfg.weight_decay
    )
    logger.info(
        "behavioural cloning: %d training and %d held-out decisions, %d trainable parameters",
        len(train),
        len(held),
        sum(p.numel() for p in parameters),
    )
    was_training = policy.training
    result = BCResult(policy, cfg, len(train), len(held), initial=None)
    with torch.random.fork_rng(devices=_rng_devices(policy)):
        torch.manual_seed(cfg.seed)
        order_generator = torch.Generator().manual_seed(cfg.seed)
        if held:
            result.initial = _evaluate(policy, held, cfg.eval_batch_size)
            logger.info(
                "before cloning: held-out loss %.4f, expert probability %.3f, accuracy %.3f",
                result.initial.loss,
                result.initial.expert_probability,
                result.initial.accuracy,
            )
        updates = 0
        try:
            for epoch in range(1, cfg.epochs + 1):
                started = time.perf_counter()
                policy.train()
                order = torch.randperm(len(train), generator=order_generator).tolist()
                shuffled = [train[i] for i in order]
                loss_sum = correct = 0.0
                seen = 0
                for batch in _batches(shuffled, cfg.batch_size):
                    logits, _ = policy([e.observation for e in batch])
                    targets = torch.tensor([e.action for e in batch], device=logits.device)
                    loss = behavior_cloning_loss(logits, targets)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(parameters, cfg.max_grad_norm)
                    optimizer.step()
                    updates += 1
                    seen += len(batch)
                    loss_sum += float(loss.detach()) * len(batch)
                    correct += float((logits.detach().argmax(dim=-1) == targets).sum())
                    if cfg.max_updates is not None and updates >= cfg.max_updates:
                        break
                evaluation = _evaluate(policy, held, cfg.eval_batch_size) if held else None
                metrics = BCEpochMetrics(
                    epoch=epoch,
                    updates=updates,
                    train_loss=loss_sum / seen,
                    train_accuracy=correct / seen,
                    train_samples=seen,
                    seconds=time.perf_counter() - started,
                    validation=evaluation,
                )
                result.epochs.append(metrics)
                _log_epoch(metrics)
                if on_epoch is not None:
                    on_epoch(metrics)
                if cfg.max_updates is not None and updates >= cfg.max_updates:
                    break
        finally:
            policy.train(was_training)
    return result


def _log_epoch(metrics: BCEpochMetrics) -> None:
    held = metrics.validation
    logger.info(
        "cloning epoch %d (%d updates, %.1fs): train loss %.4f, accuracy %.3f%s",
        metrics.epoch,
        metrics.updates,
        metrics.seconds,
        metrics.train_loss,
        metrics.train_accuracy,
        ""
        if held is None
        else (
            f"; held-out loss {held.loss:.4f}, expert probability "
            f"{held.expert_probability:.3f}, accuracy {held.accuracy:.3f}"
        ),
    )
