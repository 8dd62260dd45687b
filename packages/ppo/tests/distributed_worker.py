"""One rank of the data-parallel test (run by test_distributed.py, not collected by pytest).

Usage: RANK=r WORLD_SIZE=2 MASTER_ADDR=... MASTER_PORT=... python distributed_worker.py OUT_DIR
Each rank collects its own CartPole rollouts, updates with all-reduced gradients,
and saves its batches and parameters so the test can replay the updates in one process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import torch
import torch.distributed as dist
from safetensors.torch import save_file

from glam_ppo import PPO, MLPActorCritic, PPOConfig

CONFIG = {
    "num_steps": 16,
    "minibatch_size": 32,  # per rank: one minibatch of each rank's 2 x 16 transitions
    "num_epochs": 3,
    "seed": 5,
    "value_clip": 0.2,
    "ent_coef": 0.01,
    "learning_rate": 3e-3,
}
ITERATIONS = 2


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.set_num_threads(1)
    torch.manual_seed(100 + rank)  # different initial weights: the trainer must broadcast
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    trainer = PPO(policy, env, PPOConfig(**CONFIG))
    params = {k: v.clone() for k, v in policy.state_dict().items()}
    save_file(params, str(out / f"initial_rank{rank}.safetensors"))
    for iteration in range(ITERATIONS):
        batch, _ = trainer.collect_rollout()
        save_file(
            {
                "observations": torch.from_numpy(batch.observations.copy()),
                "actions": batch.actions,
                "logprobs": batch.logprobs,
                "values": batch.values,
                "advantages": batch.advantages,
                "returns": batch.returns,
                "capacity": torch.tensor([batch.capacity]),
            },
            str(out / f"batch_it{iteration}_rank{rank}.safetensors"),
        )
        trainer.update(batch)
        params = {k: v.clone() for k, v in policy.state_dict().items()}
        save_file(params, str(out / f"params_it{iteration}_rank{rank}.safetensors"))
    trainer.save_checkpoint(out / "checkpoints")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
