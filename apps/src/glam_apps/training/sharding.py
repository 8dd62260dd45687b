"""``distributed.strategy: fsdp``: the LLM policy sharded over the ranks, saved whole.

glam_ppo shards any policy given its units (:func:`glam_ppo.shard_policy`) and
glam_policy knows which units an LLM has (:func:`glam_policy.sharding.transformer_blocks`);
this module joins the two for ``glam train`` and adds the two things a run needs
beyond training:

* **One LM forward per policy call.** FSDP's all-gathers are collectives, so during
  the update every rank must run the same forwards. The scorer normally splits a
  large batch into chunks by ``policy.token_budget``, a number that depends on the
  prompts' lengths and so differs between ranks; under FSDP the budget is lifted
  (memory is bounded by ``ppo.micro_batch_size`` instead). Rollouts and evaluations
  run with the parameters gathered, where chunking is harmless, but the budget is one
  setting, so it is lifted there too.
* **Saving a policy.** A sharded module's state is in shards; ``save_pretrained``
  needs whole tensors. :class:`PolicySaver` gathers them on rank 0 (a collective)
  and writes them through an unsharded copy of the policy kept on rank 0's CPU.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch.distributed as torch_dist

from glam_apps.config.schema import TrainConfig
from glam_apps.errors import UserError
from glam_apps.models.policies import load_policy_from_config, policy_config
from glam_apps.training.distributed import Launch
from glam_policy import LLMPolicy
from glam_policy.sharding import transformer_blocks
from glam_ppo import checkpoint as ppo_checkpoint
from glam_ppo import is_sharded, shard_policy
from glam_ppo.drrn import DRRNPolicy, save_drrn_policy
from glam_ppo.networks import SymbolicActorCritic, save_symbolic_policy

logger = logging.getLogger(__name__)

#: Methods of LLMPolicy called outside ``forward`` that FSDP must treat as forwards.
POLICY_FORWARD_METHODS = ("predict_values", "score")


def fsdp_build_config(config: TrainConfig) -> TrainConfig:
    """The config the policy is built from under FSDP: float32 weights throughout.

    FSDP2 gathers each unit's parameters as one flat buffer of one dtype, and the
    heads (float32, at the root) share the root unit with the embeddings. So
    ``dtype: auto`` means float32 here (bfloat16 compute still comes from
    ``autocast``), and an explicit 16-bit dtype is refused with the reason.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        raise UserError(
            "distributed.strategy fsdp shards over the ranks of a torchrun launch: start with "
            "torchrun --nproc_per_node K glam train ... (K >= 1), or use data_parallel"
        )
    dtype = config.policy.dtype
    if dtype not in ("auto", "float32"):
        raise UserError(
            f"distributed.strategy fsdp needs float32 weights (one dtype per sharded unit), "
            f"got policy.dtype={dtype}: use policy.dtype auto or float32 (policy.autocast "
            "bfloat16 keeps the bf16 speed)"
        )
    policy = config.policy.model_copy(update={"dtype": "float32"})
    return config.model_copy(update={"policy": policy})


def shard_llm_policy(policy: LLMPolicy) -> LLMPolicy:
    """Shard ``policy``'s transformer blocks, then the whole policy, over the ranks."""
    if policy.config.scoring == "naive":
        raise UserError(
            "distributed.strategy fsdp needs a fixed number of LM forwards per policy call; "
            "policy.scoring 'naive' runs one per action: use auto, packed or expanded"
        )
    units = transformer_blocks(policy)
    if not units:
        raise UserError(
            f"distributed.strategy fsdp: no transformer blocks found in {policy.config.model!r} "
            "(its class declares no _no_split_modules); use distributed.strategy data_parallel"
        )
    policy.scorer.token_budget = sys.maxsize
    # FSDP cautions that an in-place op on a returned view would skip its hooks; the
    # PPO loss only reads the policy's outputs (out-of-place), so the caution is moot.
    warnings.filterwarnings(
        "ignore", message=r"FSDP2-wrapped module \(FSDPLLMPolicy\) returned a view tensor"
    )
    logger.info("FSDP: %d blocks sharded; token budget lifted (one forward per call)", len(units))
    return shard_policy(policy, units, forward_methods=POLICY_FORWARD_METHODS)


class PolicySaver:
    """``save_pretrained`` of the run's policy, sharded or not; every rank calls :meth:`save`.

    Rank 0 writes. A sharded policy is gathered first (a collective) and written
    through an unsharded CPU copy, built on rank 0 the first time it is needed.
    """

    def __init__(self, policy: Any, config: TrainConfig, launch: Launch) -> None:
        self.policy = policy
        self.config = config
        self.launch = launch
        self._copy: LLMPolicy | None = None

    def save(self, directory: Path, write_extra: Callable[[Path], None]) -> None:
        if isinstance(self.policy, SymbolicActorCritic | DRRNPolicy):  # never sharded
            if self.launch.is_main:
                self._save_baseline(directory)
                write_extra(directory)
            return
        if not is_sharded(self.policy):
            if self.launch.is_main:
                self.policy.save_pretrained(directory)
                write_extra(directory)
            return
        tensors, aliases = ppo_checkpoint.full_module_tensors(self.policy, trainable_only=False)
        if not self.launch.is_main:
            return
        copy = self._unsharded_copy()
        ppo_checkpoint.load_module_tensors(copy, tensors, aliases, trainable_only=False)
        copy.save_pretrained(directory)
        write_extra(directory)

    def _save_baseline(self, directory: Path) -> None:
        """A non-LLM agent's policy, with the environment it plays (for evaluation)."""
        config = self.config
        extra = {
            "env": config.env.model_dump(mode="json"),
            "game": None if config.game is None else config.game.model_dump(mode="json"),
        }
        if isinstance(self.policy, DRRNPolicy):
            save_drrn_policy(self.policy, config.drrn, directory, extra=extra)
        else:
            save_symbolic_policy(self.policy, directory, extra=extra)

    def _unsharded_copy(self) -> LLMPolicy:
        if self._copy is None:
            cpu = policy_config(self.config).model_copy(update={"device": "cpu"})
            self._copy = load_policy_from_config(cpu)
            # The saved config is the run's (its device, dtype...), not the copy's.
            self._copy.config = self.policy.config
        return self._copy
