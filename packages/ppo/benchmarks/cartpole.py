"""CartPole-v1: glam_ppo against Stable-Baselines3, same hyperparameters, same machine.

Both train an MLP actor-critic (64x64 tanh, separate networks) for 100k env steps
with rl-zoo's CartPole hyperparameters (8 envs, n_steps 32, batch 256, 20 epochs,
gamma 0.98, lambda 0.8, lr 1e-3 and clip 0.2 both annealed linearly, no entropy),
then play greedily. Runs are interleaved seed by seed (the order alternates) so
that machine load affects both alike; one torch thread each.

SB3 is not a dependency of glam_ppo: install it in a separate environment::

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install torch==2.13.0 stable-baselines3 -e packages/ppo
    .venv-bench/bin/python packages/ppo/benchmarks/cartpole.py --autoreset SameStep

Without SB3 installed, only glam_ppo runs (``--skip-sb3`` does the same on purpose).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from glam_ppo import PPO, MLPActorCritic, PPOConfig

ENV_ID = "CartPole-v1"
NUM_ENVS = 8

Act = Callable[[np.ndarray], int]


def greedy_return(act: Act, episodes: int, seed: int) -> float:
    """Mean return of ``episodes`` greedy episodes on fresh envs seeded seed, seed+1, ..."""
    env = gym.make(ENV_ID)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def run_glam_ppo(seed: int, steps: int, vector_mode: str, autoreset: str) -> tuple[float, Act]:
    """Train; return (wall-clock seconds from env creation to the end, greedy actor)."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    mode = gym.vector.AutoresetMode(autoreset)
    env = gym.make_vec(
        ENV_ID,
        num_envs=NUM_ENVS,
        vectorization_mode=vector_mode,
        vector_kwargs={"autoreset_mode": mode},
    )
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    PPO(policy, env, PPOConfig.preset("sb3_cartpole", seed=seed, total_steps=steps)).learn()
    seconds = time.perf_counter() - start
    env.close()

    def act(obs: np.ndarray) -> int:
        with torch.no_grad():
            return int(policy(obs[None])[0].argmax())

    return seconds, act


def run_sb3(seed: int, steps: int) -> tuple[float, Act]:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env

    def linear(initial: float) -> Callable[[float], float]:
        return lambda progress_remaining: progress_remaining * initial  # rl-zoo's schedule

    start = time.perf_counter()
    env = make_vec_env(ENV_ID, n_envs=NUM_ENVS, seed=seed)
    model = SB3PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=linear(1e-3),
        clip_range=linear(0.2),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - start
    env.close()

    def act(obs: np.ndarray) -> int:
        return int(model.predict(obs, deterministic=True)[0])

    return seconds, act


def sb3_version() -> str | None:
    try:
        import stable_baselines3
    except ImportError:
        return None
    return str(stable_baselines3.__version__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument(
        "--vector-mode",
        default="sync",
        choices=["sync", "vector_entry_point"],
        help="sync: SyncVectorEnv of CartPole-v1 (the same env code SB3 steps); "
        "vector_entry_point: Gymnasium's numpy-vectorised CartPole",
    )
    parser.add_argument(
        "--autoreset",
        default="SameStep",
        choices=["SameStep", "NextStep"],
        help="Gymnasium autoreset mode of glam_ppo's vector env. SameStep, like SB3's vector "
        "env, learns from every counted step; NextStep spends one unlearned reset step per "
        "episode",
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])  # one-time torch imports, untimed
    with_sb3 = not args.skip_sb3 and sb3_version() is not None
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"torch {torch.__version__}, gymnasium {gym.__version__}, SB3 {sb3_version()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: list[dict[str, Any]] = []
    for index, seed in enumerate(args.seeds):
        order = ["glam_ppo", "sb3"] if index % 2 else ["sb3", "glam_ppo"]
        row: dict[str, Any] = {"seed": seed}
        for name in order:
            if name == "sb3" and not with_sb3:
                continue
            if name == "sb3":
                seconds, act = run_sb3(seed, args.steps)
            else:
                seconds, act = run_glam_ppo(seed, args.steps, args.vector_mode, args.autoreset)
            row[f"{name}_seconds"] = seconds
            row[f"{name}_return"] = greedy_return(act, args.eval_episodes, 10_000 + 100 * seed)
            row[f"load_after_{name}"] = os.getloadavg()[0]
            print(f"seed {seed} {name}: {seconds:.1f} s, greedy return {row[f'{name}_return']:.1f}")
        results.append(row)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    print()
    header = "| seed | glam_ppo return | glam_ppo s |"
    if with_sb3:
        header += " SB3 return | SB3 s | glam_ppo / SB3 time |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in results:
        line = f"| {row['seed']} | {row['glam_ppo_return']:.1f} | {row['glam_ppo_seconds']:.1f} |"
        if with_sb3:
            ratio = row["glam_ppo_seconds"] / row["sb3_seconds"]
            line += f" {row['sb3_return']:.1f} | {row['sb3_seconds']:.1f} | {ratio:.2f} |"
        print(line)
    mean = {k: float(np.mean([r[k] for r in results])) for k in results[0] if k != "seed"}
    line = f"| mean | {mean['glam_ppo_return']:.1f} | {mean['glam_ppo_seconds']:.1f} |"
    if with_sb3:
        ratio = mean["glam_ppo_seconds"] / mean["sb3_seconds"]
        line += f" {mean['sb3_return']:.1f} | {mean['sb3_seconds']:.1f} | {ratio:.2f} |"
    print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"args": vars(args), "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
