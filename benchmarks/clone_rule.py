"""Can a model read the observation? Clone a memoryless rule and measure.

Cloning the BabyAI bot from one observation tops out near 0.72 held-out accuracy
for every model tried (docs/baselines/bc.md), but the bot acts on memory and a
plan, so that ceiling may be the task's, not the model's. The ``nearest`` rule of
``benchmarks/memoryless_rules.py`` is a function of the observation alone, so a
model that reads the "You see ..." sentences well can clone it to an accuracy near
1. This script plays the rule on GoToLocal (history 1, 64-step episodes), clones it
into the offline default model of a recipe (``glam_policy.behavior_cloning``) and
prints the held-out accuracy per epoch and the cloned policy's success on the 200
evaluation episodes (sampled actions).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/clone_rule.py --size nano
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/clone_rule.py --size micro
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import glam_env
from glam_apps.config.schema import DefaultModelRecipe
from glam_apps.evaluation.agents import PolicyAgent
from glam_apps.evaluation.evaluate import run_episodes
from glam_apps.models.default_model import ensure_default_model
from glam_policy import LLMPolicy
from glam_policy.behavior_cloning import BCConfig, train_behavior_cloning

sys.path.insert(0, str(Path(__file__).parent))
from memoryless_rules import NearestRuleAgent


def rule_records(config: glam_env.BabyAITextConfig, episodes: int, seed: int) -> list[dict]:
    """The deterministic ``nearest`` rule's decisions on ``episodes`` episodes from ``seed``."""
    env, rule = glam_env.make_env(config), NearestRuleAgent(explore=False)
    records = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = rule.act([0], [obs])[0]
            records.append({"observation": obs, "action": action, "episode": episode})
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    return records


def success(policy: LLMPolicy, config: glam_env.BabyAITextConfig, episodes: int) -> float:
    """Sampled actions on the evaluation episodes, one at a time, in seed order."""
    seeds = [1_000_000 + episode for episode in range(episodes)]
    outcomes = run_episodes(config, PolicyAgent(policy, seed=0), seeds, num_envs=1)
    return sum(o.success for o in outcomes) / episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="nano")
    parser.add_argument("--corpus-history-length", type=int, default=None)
    parser.add_argument("--pretrain-steps", type=int, default=400)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-episodes", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = glam_env.BabyAITextConfig(level="GoToLocal", max_steps=64, history_length=1)
    recipe = DefaultModelRecipe(
        size=args.size,
        vocab_size=1000,
        corpus_episodes=200,
        corpus_history_length=args.corpus_history_length,
        pretrain_steps=args.pretrain_steps,
        pretrain_learning_rate=0.002,
    )
    model = ensure_default_model(recipe, config)
    policy = LLMPolicy.from_config(
        {"model": str(model), "template": "compact", "value_hidden_sizes": [64]}
    )
    records = rule_records(config, args.episodes, seed=2_000_000)
    print(f"{args.size}: {len(records)} decisions of the nearest rule, {model.name}")
    start = time.perf_counter()
    train_behavior_cloning(
        policy,
        records,
        BCConfig(epochs=args.epochs, learning_rate=args.lr, seed=0),
        on_epoch=lambda m: print(
            f"  epoch {m.epoch}: held-out accuracy {m.validation.accuracy:.3f}, "
            f"expert-action probability {m.validation.expert_probability:.3f}"
        ),
    )
    policy.eval()
    rate = success(policy, config, args.eval_episodes)
    seconds = time.perf_counter() - start
    print(f"  cloned policy: success {rate:.3f} on {args.eval_episodes} episodes ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
