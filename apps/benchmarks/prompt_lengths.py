"""How long the Mixed levels' prompts get: words, characters and tokens, the longest first.

Why it matters: glam cuts a prompt only where the model's positions end. T5 (the
paper's Flan-T5) has relative positions and no such end, and the paper's code never
cut, so its prompts are scored whole however long; a learned position table (GPT-2's
``n_positions``, 512 for the offline default model) is a real end. This script
measures where the paper's prompts actually reach.

It plays seeded random-action episodes of each level with the packaged ``paper``
config's environment settings (3-observation history, the paper's episode lengths),
builds every step's prompt with ``--template`` (default ``paper``: the reference's
text) and reports the maximum, 99th percentile and mean of words (``str.split``),
characters and tokens, with each tokenizer available offline:

* ``offline-default``: the BPE tokenizer of the offline default model that
  ``glam train --config paper --set policy.model=offline-default`` builds (default
  recipe, corpus played on MixedTrainLocal; built once into the glam cache);
* ``tiny-test``: ``glam_policy.tiny``'s tokenizer of the built-in corpus (the tests').

No hub tokenizer (Flan-T5's sentencepiece, GPT-2's BPE) is downloaded: the script
never touches the network. Words and characters do not depend on a tokenizer.

    .venv/bin/python apps/benchmarks/prompt_lengths.py
    .venv/bin/python apps/benchmarks/prompt_lengths.py --episodes 50 --levels MixedTestLocal
"""

from __future__ import annotations

import argparse
import logging
import platform
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from transformers import AutoTokenizer

from glam_apps.config.packaged import load_train_config
from glam_apps.models.default_model import ensure_default_model
from glam_env import BabyAITextConfig, make_env
from glam_env.factory import as_config
from glam_policy import build_prompt, default_corpus, get_template, train_bpe_tokenizer

LEVELS = ("MixedTrainLocal", "MixedTestLocal")


@dataclass
class Lengths:
    """Every prompt's length in one unit, and the longest prompt's text."""

    values: list[int] = field(default_factory=list)
    longest: str = ""
    top: int = 0

    def add(self, value: int, prompt: str) -> None:
        if not self.values or value > self.top:
            self.longest = prompt
            self.top = value
        self.values.append(value)

    def summary(self) -> tuple[int, int, float]:
        """(max, 99th percentile, mean)."""
        ordered = sorted(self.values)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return ordered[-1], p99, statistics.fmean(ordered)


def level_prompts(
    env_config: BabyAITextConfig, template: str, episodes: int, seed: int
) -> Iterator[str]:
    """Every step's prompt of ``episodes`` seeded random-action episodes."""
    rng = random.Random(seed)
    env = make_env(env_config)
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            done = False
            while not done:
                yield build_prompt(template, obs)
                action = rng.randrange(len(obs["admissible_actions"]))
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    finally:
        env.close()


def offline_tokenizers() -> dict[str, Callable[[list[str]], list[int]]]:
    """Token counters of the tokenizers this machine has without a network."""
    paper = load_train_config("paper", ["policy.model=offline-default"])
    directory = ensure_default_model(paper.default_model, paper.env)
    default = AutoTokenizer.from_pretrained(directory)
    tiny = train_bpe_tokenizer(default_corpus())

    def counter(tokenizer: Any) -> Callable[[list[str]], list[int]]:
        def count(prompts: list[str]) -> list[int]:
            ids = tokenizer(prompts, add_special_tokens=True, verbose=False)["input_ids"]
            return [len(row) for row in ids]

        return count

    return {"offline-default": counter(default), "tiny-test": counter(tiny)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", nargs="+", default=list(LEVELS))
    parser.add_argument("--episodes", type=int, default=200, help="episodes per level")
    parser.add_argument("--template", default="paper")
    parser.add_argument("--history", type=int, default=3, help="observations per prompt")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    get_template(args.template)  # a clear error for an unknown name, before playing
    tokenizers = offline_tokenizers()
    base = load_train_config("paper").env
    print(
        f"template {args.template!r}, history {args.history}, {args.episodes} random-action "
        f"episodes per level (seeds {args.seed}..{args.seed + args.episodes - 1}); "
        f"python {platform.python_version()} on {platform.machine()}"
    )
    print()
    print("| level | prompts | unit | max | p99 | mean |")
    print("|---|---:|---|---:|---:|---:|")
    longest: dict[str, str] = {}
    for level in args.levels:
        start = time.perf_counter()
        env_config = as_config(base, level=level, history_length=args.history)
        prompts = list(level_prompts(env_config, args.template, args.episodes, args.seed))
        units: dict[str, Lengths] = {"words": Lengths(), "characters": Lengths()}
        for prompt in prompts:
            units["words"].add(len(prompt.split()), prompt)
            units["characters"].add(len(prompt), prompt)
        for name, count in tokenizers.items():
            lengths = units[f"tokens ({name})"] = Lengths()
            for prompt, tokens in zip(prompts, count(prompts), strict=True):
                lengths.add(tokens, prompt)
        for unit, lengths in units.items():
            top, p99, mean = lengths.summary()
            print(f"| {level} | {len(prompts)} | {unit} | {top} | {p99} | {mean:.1f} |")
        longest[level] = units["characters"].longest
        logging.info("%s: %.1f s", level, time.perf_counter() - start)
    for level, prompt in longest.items():
        print()
        print(f"longest {level} prompt ({len(prompt.split())} words, {len(prompt)} characters):")
        print(repr(prompt))


if __name__ == "__main__":
    main()
