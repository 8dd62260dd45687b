"""One CleanRL ppo.py run on CartPole-v1, timed from inside, then greedy play.

Runs in CleanRL's own environment (``benchmarks/cleanrl_env.sh``), never in glam's:
``packages/ppo/benchmarks/cartpole.py`` starts it as a subprocess for the CleanRL row.
ppo.py runs unmodified with its defaults (4 envs x 128 steps, 4 epochs, 4
minibatches, lr 2.5e-4 annealed, entropy 0.01, clipped value loss), ``--cuda False``,
the seed and the step count given; its modules (and torch's lazily imported optimizer
machinery) are imported before the clock starts, so the time covers what glam's and
SB3's rows cover: argument parsing, env creation and training. Its own per-episode
prints go to /dev/null, its TensorBoard events to a temporary folder.

The last line of stdout is one JSON object: wall and CPU seconds of the run, the
mean return of greedy episodes (argmax of the actor's logits) on CartPole-v1 envs
seeded ``eval_seed``, ``eval_seed + 1``, ..., and the versions used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any


def greedy_return(agent: Any, episodes: int, seed: int) -> float:
    import gym
    import numpy as np
    import torch

    env = gym.make("CartPole-v1")
    returns = []
    for episode in range(episodes):
        obs = env.reset(seed=seed + episode)  # gym 0.23: reset returns the observation only
        total, done = 0.0, False
        while not done:
            with torch.no_grad():
                logits = agent.actor(torch.as_tensor(np.asarray(obs), dtype=torch.float32))
            obs, reward, done, _ = env.step(int(logits.argmax()))
            total += float(reward)
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--eval-seed", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import cleanrl
    import gym
    import numpy
    import torch
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (imported before timing)

    torch.set_num_threads(args.threads)
    # torch's one-time imports (the first optimizer pulls in torch._dynamo), untimed as
    # in glam's and SB3's rows
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    ppo_argv = ["ppo.py", "--seed", str(args.seed), "--total-timesteps", str(args.steps)]
    ppo_argv += ["--cuda", "False"]
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="cleanrl-") as work:
        os.chdir(work)
        saved_argv = sys.argv
        sys.argv = ppo_argv
        try:
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                wall, cpu = time.perf_counter(), time.process_time()
                namespace = runpy.run_module("cleanrl.ppo", run_name="__main__")
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            sys.argv = saved_argv
            os.chdir(here)
    result = {
        "wall_s": wall,
        "cpu_s": cpu,
        "greedy_return": greedy_return(namespace["agent"], args.eval_episodes, args.eval_seed),
        "steps": int(namespace["global_step"]),
        "versions": {
            "cleanrl": getattr(cleanrl, "__version__", None) or _dist_version("cleanrl"),
            "gym": gym.__version__,
            "numpy": numpy.__version__,
            "torch": torch.__version__,
        },
    }
    print(json.dumps(result))
    return 0


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())
