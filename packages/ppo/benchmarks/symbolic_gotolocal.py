"""Symbolic-PPO on BabyAI GoToLocal: glam_ppo's SymbolicActorCritic on symbolic observations.

A non-LLM baseline on the same episodes the text agents play: glam_env's
``observation="symbolic"`` (MiniGrid's 7x7x3 grid encoding, direction, mission
word ids), SAME_STEP-autoreset vector envs, ``glam_ppo.PPO`` with BabyAI-style
hyperparameters (16 envs x 128 steps, 4 epochs, lr 5e-4, gamma 0.99, lambda 0.95).
After training, the final policy plays 200 fresh episodes whose seeds are fixed
(``--eval-seed`` + 0..199, one sub-env per episode, the same for every run),
greedily and by sampling; a uniformly random policy plays them once too, for scale.

Every line of ``--out`` is one JSON record, written as it happens: ``"train"``
(one per PPO iteration), ``"eval"`` (one per seed and mode), ``"random"``.

This script composes glam_env and glam_ppo, which the packages themselves never do
(import-linter checks the packages, not their benchmarks)::

    OMP_NUM_THREADS=1 .venv/bin/python packages/ppo/benchmarks/symbolic_gotolocal.py \\
        --steps 50000 --seeds 0 1 2 --out runs/symbolic_gotolocal.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

import glam_env
from glam_ppo import PPO, Callback, PPOConfig, evaluate
from glam_ppo.networks import SymbolicActorCritic, SymbolicNetworkConfig

LEVEL = "BabyAI-GoToLocal-v0"  # glam_env's level "GoToLocal"


class JSONLines:
    """Append one JSON record per line, flushed at once (a killed run keeps its lines)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)


class IterationLog(Callback):
    """One "train" record per PPO iteration."""

    KEYS = (
        "success_rate",
        "episode_return_mean",
        "episode_length_mean",
        "episodes",
        "policy_loss",
        "value_loss",
        "entropy",
        "approx_kl",
        "clip_fraction",
        "explained_variance",
        "steps_per_second",
    )

    def __init__(self, out: JSONLines, seed: int, start: float) -> None:
        self.out, self.seed, self.start = out, seed, start

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        record: dict[str, Any] = {
            "kind": "train",
            "seed": self.seed,
            "iteration": trainer.iteration,
            "env_steps": trainer.global_step,
            "wall_s": round(time.perf_counter() - self.start, 1),
        }
        record.update({k: _finite(metrics.get(k)) for k in self.KEYS})
        self.out.write(record)


class UniformPolicy(torch.nn.Module):
    """Equal logits for every action: the random baseline, through the same evaluate()."""

    def __init__(self, num_actions: int) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, observations: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = len(observations)
        return torch.zeros(batch, self.num_actions), torch.zeros(batch)


def _finite(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 5)


def _config(history_length: int) -> glam_env.BabyAITextConfig:
    return glam_env.BabyAITextConfig(
        level=LEVEL, observation="symbolic", history_length=history_length
    )


def _vector_env(args: argparse.Namespace, num_envs: int) -> VectorEnv:
    return glam_env.make_vector_env(
        _config(args.history_length), num_envs, autoreset_mode=AutoresetMode.SAME_STEP
    )


def _evaluate(policy: torch.nn.Module, args: argparse.Namespace, greedy: bool) -> dict[str, Any]:
    """Success on ``--eval-episodes`` episodes seeded ``eval_seed + i``, one sub-env each."""
    env = _vector_env(args, args.eval_episodes)
    try:
        result = evaluate(policy, env, args.eval_episodes, greedy=greedy, seed=args.eval_seed)
    finally:
        env.close()
    return {
        "episodes": len(result.episodes),
        "success_rate": round(result.success_rate, 4),
        "mean_return": round(result.mean_return, 4),
        "mean_length": round(result.mean_length, 2),
    }


def train_one(args: argparse.Namespace, seed: int, out: JSONLines) -> None:
    start = time.perf_counter()
    torch.manual_seed(seed)
    env = _vector_env(args, args.num_envs)
    policy = SymbolicActorCritic.for_spaces(
        env.single_observation_space, env.single_action_space, SymbolicNetworkConfig()
    )
    config = PPOConfig(
        total_steps=args.steps,
        num_steps=args.num_steps,
        num_epochs=4,
        minibatch_size=args.minibatch_size,
        learning_rate=args.lr,
        lr_schedule="constant",
        gamma=0.99,
        gae_lambda=0.95,
        clip_coef=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
        normalize_advantages=True,
        seed=seed,
    )
    trainer = PPO(policy, env, config, callbacks=[IterationLog(out, seed, start)])
    trainer.learn()
    env.close()
    train_s = time.perf_counter() - start
    for greedy in (True, False):
        record = {
            "kind": "eval",
            "seed": seed,
            "mode": "greedy" if greedy else "sampled",
            "env_steps": trainer.global_step,
            "train_wall_s": round(train_s, 1),
            "eval_seed": args.eval_seed,
            **_evaluate(policy, args, greedy),
        }
        out.write(record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--num-steps", type=int, default=128, help="steps per env per rollout")
    parser.add_argument("--minibatch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--history-length", type=int, default=1, help="grids in the obs")
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--eval-seed", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--skip-random", action="store_true", help="no random baseline")
    parser.add_argument("--out", type=Path, default=Path("runs/symbolic_gotolocal.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = JSONLines(args.out)
    out.write(
        {
            "kind": "start",
            "level": LEVEL,
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "machine": platform.processor() or platform.machine(),
            "torch": torch.__version__,
        }
    )
    if not args.skip_random:
        out.write({"kind": "random", **_evaluate(UniformPolicy(6), args, greedy=False)})
    for seed in args.seeds:
        train_one(args, seed, out)


if __name__ == "__main__":
    main()
