"""DRRN (He et al., 2016), the GLAM paper's text baseline, trained on BabyAI-Text GoToLocal.

What it measures: the greedy success rate of ``glam_ppo.drrn.DRRN`` after
``--steps`` environment steps of Q-learning on GoToLocal (glam_env level
``GoToLocal``, the paper's six actions; state = mission + current observation
unless ``--state-keys`` says otherwise), for each ``--seeds`` seed. Evaluation:
``--eval-episodes`` episodes played greedily on fixed seeds (``--eval-seed``
onward, env ``i`` reset with ``eval_seed + i``) with ``glam_ppo.evaluate``,
which takes the DRRN policy's logits (Q-values) like any PPO policy's; success
with its 95% Wilson interval. The uniform-random agent is evaluated on the same
seeds for reference.

Written as it goes: ``<out>/seed<S>/metrics.jsonl`` (one JSON line per
training iteration, glam_ppo's ``JSONLWriter``) and ``<out>/results.jsonl``
(one line per evaluation, with the command, config and machine).

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/drrn_gotolocal.py --steps 50000 --seeds 0

The figures of docs/baselines/drrn.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from gymnasium.vector import AutoresetMode

from glam_env import make_vector_env
from glam_ppo import JSONLWriter, evaluate
from glam_ppo.callbacks import Callback
from glam_ppo.drrn import DRRN, DRRNConfig

logger = logging.getLogger("drrn_gotolocal")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", default="GoToLocal")
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--history-length", type=int, default=1, help="1: no history keys")
    parser.add_argument("--state-keys", nargs="+", default=None, help="default: DRRNConfig's")
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--eval-seed", type=int, default=1_000_000)
    parser.add_argument("--eval-num-envs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--log-every", type=int, default=10, help="iterations between log lines")
    parser.add_argument("--out", type=Path, default=Path("runs/drrn-gotolocal"))
    parser.add_argument(
        "--config",
        default="{}",
        help="JSON overrides of DRRNConfig fields, e.g. '{\"gamma\": 0.9}'",
    )
    return parser.parse_args(argv)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


class ProgressLog(Callback):
    """One log line every ``every`` iterations (glam_ppo's LoggingCallback is PPO-specific)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_update_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        if trainer.iteration % self.every == 0:
            logger.info(
                "seed %d step %d: success %.2f return %.3f loss %.4f q %.3f eps %.2f %.0f steps/s",
                trainer.config.seed,
                trainer.global_step,
                metrics["success_rate"],
                metrics["episode_return_mean"],
                metrics["loss"],
                metrics["q_mean"],
                metrics["epsilon"],
                metrics["steps_per_second"],
            )


class UniformPolicy(torch.nn.Module):
    """Equal logits for every admissible action: the random agent, for reference."""

    def forward(self, observations: list[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        counts = [len(o["admissible_actions"]) for o in observations]
        logits = torch.full((len(counts), max(counts)), float("-inf"))
        for i, count in enumerate(counts):
            logits[i, :count] = 0.0
        return logits, torch.zeros(len(counts))


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "python": sys.version}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    env_config = {"level": args.level, "history_length": args.history_length}
    overrides = json.loads(args.config)
    if args.state_keys:
        overrides["state_keys"] = tuple(args.state_keys)
    command = " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv])

    def record(line: dict[str, Any]) -> None:
        base = {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "env": env_config,
            "machine": machine(),
        }
        with (args.out / "results.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**base, **line}) + "\n")
        logger.info("%s", json.dumps(line))

    def eval_env() -> Any:
        return make_vector_env(
            env_config, args.eval_num_envs, autoreset_mode=AutoresetMode.SAME_STEP
        )

    for seed in args.seeds:
        config = DRRNConfig(**{**overrides, "seed": seed, "total_steps": args.steps})
        env = make_vector_env(env_config, args.num_envs, autoreset_mode=AutoresetMode.SAME_STEP)
        run_dir = args.out / f"seed{seed}"
        trainer = DRRN(
            env,
            config,
            callbacks=[JSONLWriter(run_dir / "metrics.jsonl"), ProgressLog(args.log_every)],
        )
        start = time.perf_counter()
        trainer.learn()
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate(trainer.policy, eval_env(), args.eval_episodes, seed=args.eval_seed)
        eval_seconds = time.perf_counter() - start
        wins = sum(bool(e.success) for e in result.episodes)
        record(
            {
                "agent": "drrn",
                "seed": seed,
                "steps": trainer.global_step,
                "updates": trainer.num_updates,
                "train_seconds": round(train_seconds, 1),
                "steps_per_second": round(trainer.global_step / train_seconds, 1),
                "eval_seconds": round(eval_seconds, 1),
                "eval_episodes": len(result.episodes),
                "eval_seed": args.eval_seed,
                "success_rate": result.success_rate,
                "success_wilson95": wilson(wins, len(result.episodes)),
                "mean_return": result.mean_return,
                "mean_length": result.mean_length,
                "config": config.model_dump(mode="json"),
            }
        )
        env.close()

    result = evaluate(
        UniformPolicy(), eval_env(), args.eval_episodes, greedy=False, seed=args.eval_seed
    )
    wins = sum(bool(e.success) for e in result.episodes)
    record(
        {
            "agent": "random",
            "eval_episodes": len(result.episodes),
            "eval_seed": args.eval_seed,
            "success_rate": result.success_rate,
            "success_wilson95": wilson(wins, len(result.episodes)),
            "mean_return": result.mean_return,
            "mean_length": result.mean_length,
        }
    )


if __name__ == "__main__":
    main()
