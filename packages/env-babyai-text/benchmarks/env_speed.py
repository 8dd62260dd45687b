"""Steps per second of BabyAI-Text against the raw MiniGrid level it wraps.

Same level, same seeds, same pre-drawn actions, resets included (an episode
that ends is reset with the next seed), so both sides play exactly the same
episodes; the script checks that they did. Three single-env columns: the raw
MiniGrid level (generating silently, no Gymnasium wrappers), the text env
(``BabyAITextEnv``) and the text env with the paper's 3-observation history
(``make_env`` defaults). Then the same with Gymnasium ``SyncVectorEnv``s.
Time is the process's CPU time (``time.process_time``), so other jobs on a shared
machine do not count, and runs alternate raw/text and keep each one's best of
``--repeats`` to damp what noise remains (caches, frequency).

    python packages/env-babyai-text/benchmarks/env_speed.py
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from glam_env import BabyAITextConfig, BabyAITextEnv, make_env
from glam_env.levels import build_level


def run_single(env: gym.Env[Any, Any], actions: np.ndarray) -> tuple[float, int]:
    """Play ``actions`` (resetting with seeds 0, 1, ... at episode ends): (seconds, episodes)."""
    start = time.process_time()
    seed = 0
    env.reset(seed=seed)
    for action in actions.tolist():
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            seed += 1
            env.reset(seed=seed)
    return time.process_time() - start, seed


def run_vector(env: gym.vector.VectorEnv, actions: np.ndarray) -> tuple[float, int]:
    """Play ``actions`` (shape steps x envs) with Gymnasium's autoreset: (seconds, episodes)."""
    start = time.process_time()
    env.reset(seed=0)
    episodes = 0
    for row in actions:
        _, _, terminated, truncated, _ = env.step(row)
        episodes += int(np.sum(terminated | truncated))
    return time.process_time() - start, episodes


def best_rate(
    factories: dict[str, Callable[[], Any]],
    run: Callable[[Any, np.ndarray], tuple[float, int]],
    actions: np.ndarray,
    repeats: int,
) -> dict[str, tuple[float, int]]:
    """Best steps/s of each factory over ``repeats`` interleaved runs, and its episode count."""
    steps = actions.size
    best: dict[str, tuple[float, int]] = {}
    envs = {name: factory() for name, factory in factories.items()}
    for _ in range(repeats):
        for name, env in envs.items():
            seconds, episodes = run(env, actions)
            rate = steps / seconds
            if name not in best or rate > best[name][0]:
                best[name] = (rate, episodes)
    for env in envs.values():
        env.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", nargs="+", default=["GoToLocal", "MixedTrainLocal"])
    parser.add_argument("--steps", type=int, default=3_000, help="steps per run")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=15, help="runs; the best counts")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    single_actions = rng.integers(0, 6, size=args.steps)
    vector_actions = rng.integers(0, 6, size=(args.steps // args.num_envs, args.num_envs))
    # the same number of env steps in both settings
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"steps per CPU second; {args.steps} steps per run, best of {args.repeats} "
        "interleaved runs, resets included, same seeds and actions"
    )
    header = (
        f"| {'level':<16} | {'setting':<22} | {'raw MiniGrid':>12} | {'text':>12} | "
        f"{'text ratio':>10} | {'text+history':>12} | {'ratio':>6} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for level in args.levels:
        history = BabyAITextConfig(level=level)  # paper defaults: 3 observations of history
        makers: dict[str, Callable[[], Any]] = {
            "raw": functools.partial(build_level, level),
            "text": functools.partial(BabyAITextEnv, level),
            "history": functools.partial(make_env, history),
        }
        single = best_rate(makers, run_single, single_actions, args.repeats)
        n = args.num_envs
        vector_makers = {
            name: functools.partial(gym.vector.SyncVectorEnv, [maker] * n)
            for name, maker in makers.items()
        }
        vector = best_rate(vector_makers, run_vector, vector_actions, args.repeats)
        for setting, result in (("single env", single), (f"SyncVectorEnv x{n}", vector)):
            episodes = {name: episodes for name, (_, episodes) in result.items()}
            if len(set(episodes.values())) != 1:
                raise RuntimeError(
                    f"{level} {setting}: the envs played different episodes {episodes}"
                )
            raw, text, hist = (result[name][0] for name in ("raw", "text", "history"))
            print(
                f"| {level:<16} | {setting:<22} | {raw:>12,.0f} | {text:>12,.0f} | "
                f"{text / raw:>10.0%} | {hist:>12,.0f} | {hist / raw:>6.0%} |"
            )
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
