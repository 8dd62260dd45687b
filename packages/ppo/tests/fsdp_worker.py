"""One rank of the FSDP2 test (run by test_fsdp.py, not collected by pytest).

Usage: RANK=r WORLD_SIZE=2 MASTER_ADDR=... MASTER_PORT=... python fsdp_worker.py OUT_DIR

In one process group, three runs with the same seeds and environments:

1. ``dp``: plain data parallelism (unsharded policy, all-reduced gradients);
2. ``fsdp``: the policy sharded with FSDP2 (actor and critic as units), then rank 0
   evaluates alone inside ``gathered`` while rank 1 waits;
3. ``resume0``, ``resume1``: fresh sharded policies resumed from the ``fsdp`` run's
   checkpoints of iterations 0 (no optimizer state yet) and 1.

The ranks' environments differ on purpose, so that FSDP meets what real runs do:
rank 0 uses SAME_STEP autoreset with a short time limit (values of truncated
episodes are computed mid-rollout, so the ranks call the policy a different number
of times), rank 1 NEXT_STEP (its reset rows are dropped: fewer transitions, fewer
micro-batches, padded in the update).
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
import torch.distributed as dist
from safetensors.torch import save_file

from glam_ppo import PPO, Batch, Callback, EpisodeRecord, MLPActorCritic, PPOConfig, evaluate
from glam_ppo.checkpoint import full_module_tensors
from glam_ppo.optim import build_optimizer
from glam_ppo.sharding import gathered, is_sharded_tensor, shard_policy

CONFIG: dict[str, Any] = {
    "num_steps": 16,
    "minibatch_size": 16,  # per rank: two minibatches of each rank's 2 x 16 rows
    "micro_batch_size": 5,
    "num_epochs": 2,
    "seed": 5,
    "value_clip": 0.2,
    "ent_coef": 0.01,
    "learning_rate": 3e-3,
    "max_grad_norm": 0.05,  # small enough to clip: the global norm over shards matters
    "checkpoint_every": 1,
    "keep_checkpoints": 3,
    "total_steps": 2 * 16 * 2 * 2,  # two iterations of 16 steps x 2 envs x 2 ranks
}
ITERATIONS = 2


class ModuleMLP(MLPActorCritic):
    """``MLPActorCritic`` calling its actor and critic as modules.

    FSDP2 gathers a unit's parameters in the unit's forward hooks; the parent class
    reads the layers' weights directly (a speed trick), which would see the shards.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        x = self._as_tensor(observations)
        return self.actor(x), self.critic(x).squeeze(-1)

    def predict_values(self, observations: Any) -> torch.Tensor:
        self.calls += 1
        return self.critic(self._as_tensor(observations)).squeeze(-1)


def make_env(rank: int) -> gym.vector.VectorEnv:
    if rank == 0:
        return gym.make_vec(
            "CartPole-v1",
            num_envs=2,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
            max_episode_steps=5,
        )
    return gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")


def make_policy(seed: int) -> ModuleMLP:
    torch.manual_seed(seed)
    return ModuleMLP(4, 2)


def full_parameters(policy: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every rank calls; rank 0 gets the full tensors."""
    tensors, _ = full_module_tensors(policy, trainable_only=False)
    return {k: v.clone() for k, v in tensors.items()}


def sharded_policy(seed: int) -> ModuleMLP:
    policy = make_policy(seed)
    return shard_policy(policy, [policy.actor, policy.critic])


class Recorder(Callback):
    """Per rollout: the number of policy calls and of transitions on this rank."""

    def __init__(self, policy: ModuleMLP) -> None:
        self.policy = policy
        self.info: dict[str, list[Any]] = {"rollout_calls": [], "batch_sizes": [], "grad_norm": []}
        self._calls = 0

    def on_rollout_start(self, trainer: PPO) -> None:
        self._calls = self.policy.calls

    def on_rollout_end(self, trainer: PPO, batch: Batch, episodes: list[EpisodeRecord]) -> None:
        self.info["rollout_calls"].append(self.policy.calls - self._calls)
        self.info["batch_sizes"].append(batch.size)

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        self.info["grad_norm"].append(metrics["grad_norm"])


def run(
    name: str, policy: ModuleMLP, rank: int, out: Path, resume: Path | None = None
) -> dict[str, Any]:
    """Train to ``ITERATIONS``, saving rank 0's full parameters after each iteration."""
    (out / name).mkdir(exist_ok=True)
    config = PPOConfig(**CONFIG, checkpoint_dir=out / name / "checkpoints")
    recorder = Recorder(policy)
    trainer = PPO(policy, make_env(rank), config, callbacks=[recorder])
    if resume is not None:
        trainer.load_checkpoint(resume)
    else:  # before any step: the optimizer has no state yet
        trainer.save_checkpoint()
    while trainer.iteration < trainer.num_iterations:
        trainer.train_iteration()
        if trainer.sharded:
            params = full_parameters(policy)
        else:
            params = {k: v.clone() for k, v in policy.state_dict().items()}
        if rank == 0:
            save_file(params, str(out / name / f"params_it{trainer.iteration}.safetensors"))
    return recorder.info


def main(out: Path) -> None:
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=90))
    rank = dist.get_rank()
    torch.set_num_threads(1)
    info: dict[str, Any] = {}

    # 1. plain data parallel; the ranks' initial weights differ: rank 0's are broadcast.
    info["dp"] = run("dp", make_policy(100 + rank), rank, out)

    # 2. sharded, from the same different initial weights (shard_policy broadcasts).
    policy = sharded_policy(100 + rank)
    info["fsdp"] = run("fsdp", policy, rank, out)
    with gathered(policy):
        if rank == 0:  # alone: the forwards of a gathered policy need no collective
            result = evaluate(policy, make_env(0), 3)
            info["evaluation_return"] = result.mean_return
        dist.barrier()
    info["sharded_after_gathered"] = all(is_sharded_tensor(p) for p in policy.parameters())
    local = [p.to_local().numel() for p in policy.parameters()]  # type: ignore[attr-defined]
    info["local_numel"] = sum(local)
    info["full_numel"] = sum(p.numel() for p in policy.parameters())

    # An optimizer built before sharding holds parameters the policy no longer has.
    stale = make_policy(1)
    optimizer = build_optimizer(stale.parameters(), PPOConfig())
    shard_policy(stale, [stale.actor, stale.critic])
    try:
        PPO(stale, make_env(rank), PPOConfig(), optimizer=optimizer)
        info["stale_optimizer_refused"] = False
    except ValueError:
        info["stale_optimizer_refused"] = True

    # 3. fresh sharded policies (other weights) resumed from the first two checkpoints.
    for iteration in (0, 1):
        checkpoint = out / "fsdp" / "checkpoints" / f"iteration_{iteration:06d}"
        name = f"resume{iteration}"
        info[name] = run(name, sharded_policy(7), rank, out, resume=checkpoint)

    (out / f"info_rank{rank}.json").write_text(json.dumps(info))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    # Seen once in a loaded full-suite run, after all work and the teardown above:
    # "terminate called without an active exception" (SIGABRT) from a thread still
    # alive at interpreter shutdown. The results are written; skip that shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
