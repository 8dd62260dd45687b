"""Behavioural cloning of the BabyAI bot on GoToLocal, with the quickstart's offline model.

What it measures: how far cloning expert demonstrations takes the project's offline
default model (the quickstart's recipe: ``nano`` GPT-2, BPE tokenizer and language
pretraining on random-action text, built here for GoToLocal) on GoToLocal, without
any reinforcement learning. Steps:

1. the bot plays ``--episodes`` episodes of GoToLocal (seeds ``--demo-seed`` onward,
   the agent's own observations: quickstart env settings, level on GoToLocal) into
   ``<out>/demos.jsonl`` (``glam_env.demonstrations``);
2. the offline model is built (or found in the cache) and cloned on them
   (``glam_policy.behavior_cloning``), a share of the episodes held out;
3. the cloned policy (greedy actions), the model before cloning (greedy), the random
   agent and the bot play ``--eval-episodes`` fresh episodes on fixed seeds
   (``--eval-seed`` onward, disjoint from the demonstration seeds) with
   ``glam_apps.evaluation.evaluate.run_episodes``; success with its 99% Wilson interval.

Every result is printed and appended as one JSON line to ``<out>/results.jsonl``;
the cloned policy is saved in ``<out>/policy`` (``LLMPolicy.save_pretrained``).

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bc_gotolocal.py --episodes 1000 --epochs 4

The figures of docs/baselines/bc.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from glam_apps.config.packaged import default_train_config
from glam_apps.evaluation.agents import BotAgent, PolicyAgent, RandomAgent
from glam_apps.evaluation.evaluate import run_episodes
from glam_apps.evaluation.stats import summarize
from glam_apps.models.policies import build_policy, model_source
from glam_env.demonstrations import collect_demonstrations, read_demonstrations
from glam_policy.behavior_cloning import BCConfig, train_behavior_cloning

logger = logging.getLogger("bc_gotolocal")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", default="GoToLocal")
    parser.add_argument("--max-steps", type=int, default=None, help="default: the level's (64)")
    parser.add_argument("--history-length", type=int, default=None, help="default: quickstart's")
    parser.add_argument("--episodes", type=int, default=1000, help="expert episodes played")
    parser.add_argument("--demo-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0, help="BC and model seed")
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--eval-seed", type=int, default=1_000_000)
    parser.add_argument("--eval-num-envs", type=int, default=25)
    parser.add_argument("--skip-zero-shot", action="store_true", help="no evaluation before BC")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", type=Path, default=None, help="default: runs/bc-<level>-<time>")
    return parser.parse_args(argv)


class Results:
    """Prints each result and appends it to a JSON Lines file as it comes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def emit(self, kind: str, **fields: Any) -> None:
        record = {"kind": kind, **fields}
        line = json.dumps(record, sort_keys=False)
        print(line, flush=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def evaluate(
    name: str, agent: Any, env: Any, seeds: list[int], num_envs: int, results: Results
) -> dict[str, Any]:
    started = time.perf_counter()
    outcomes = run_episodes(env, agent, seeds, num_envs=num_envs)
    summary = summarize(
        [o.success for o in outcomes],
        [o.episode_return for o in outcomes],
        [o.length for o in outcomes],
    ).to_dict()
    summary["seconds"] = round(time.perf_counter() - started, 2)
    results.emit("evaluation", agent=name, first_seed=seeds[0], **summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("runs") / f"bc-{args.level}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    results = Results(out / "results.jsonl")
    overrides = [f"env.level={args.level}", f"run.seed={args.seed}"]
    overrides.append(f"env.max_steps={args.max_steps if args.max_steps else 'null'}")
    if args.history_length:
        overrides.append(f"env.history_length={args.history_length}")
    config = default_train_config(overrides)
    env = config.env
    results.emit(
        "setup",
        command=" ".join([Path(sys.executable).name, *sys.argv]),
        level=env.level,
        env=env.to_dict(),
        default_model=config.default_model.model_dump(mode="json"),
        policy_template=str(config.policy.template),
        torch=torch.__version__,
        threads=args.threads,
        python=platform.python_version(),
        started=stamp,
        args={k: str(v) for k, v in vars(args).items()},
    )

    started = time.perf_counter()
    header = collect_demonstrations(
        env, args.episodes, args.demo_seed, out / "demos.jsonl", overwrite=True
    )
    demos = read_demonstrations(out / "demos.jsonl")
    results.emit(
        "demonstrations",
        episodes=header.episodes,
        skipped=header.skipped,
        steps=header.steps,
        mean_length=round(header.steps / max(1, header.episodes), 3),
        seconds=round(time.perf_counter() - started, 2),
    )

    started = time.perf_counter()
    model_dir = model_source(config)  # builds the offline model for this env, or reuses it
    policy = build_policy(config)
    results.emit("model", directory=model_dir, seconds=round(time.perf_counter() - started, 2))

    seeds = list(range(args.eval_seed, args.eval_seed + args.eval_episodes))
    if not args.skip_zero_shot:
        evaluate(
            "before BC (greedy)",
            PolicyAgent(policy, greedy=True),
            env,
            seeds,
            args.eval_num_envs,
            results,
        )

    bc = BCConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
    )
    started = time.perf_counter()
    result = train_behavior_cloning(
        policy,
        demos.steps,
        bc,
        on_epoch=lambda m: results.emit("bc_epoch", **m.to_dict()),
    )
    results.emit(
        "bc",
        config=bc.model_dump(mode="json"),
        train_decisions=result.train_size,
        held_out_decisions=result.validation_size,
        initial_held_out=None if result.initial is None else vars(result.initial),
        updates=result.updates,
        seconds=round(time.perf_counter() - started, 2),
    )
    saved = policy.save_pretrained(out / "policy")

    evaluate(
        "BC (greedy)", PolicyAgent(policy, greedy=True), env, seeds, args.eval_num_envs, results
    )
    evaluate(
        "BC (sampled)",
        PolicyAgent(policy, greedy=False, seed=0),
        env,
        seeds,
        args.eval_num_envs,
        results,
    )
    evaluate("random", RandomAgent(seed=0), env, seeds, args.eval_num_envs, results)
    evaluate("bot", BotAgent(seed=0), env, seeds, args.eval_num_envs, results)
    results.emit("done", policy=str(saved), results=str(results.path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
