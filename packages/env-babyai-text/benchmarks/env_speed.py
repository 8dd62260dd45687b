"""Steps per second of BabyAI-Text against the raw MiniGrid level it wraps.

Same level, same seeds, same pre-drawn actions, resets included (an episode
that ends is reset with the next seed), so both sides play exactly the same
episodes; the script checks that they did. Three systems: the raw MiniGrid level
(generating silently, no Gymnasium wrappers), the text env (``BabyAITextEnv``) and
the text env with the paper's 3-observation history (``make_env`` defaults); one
env, then Gymnasium ``SyncVectorEnv``s of ``--num-envs``.

The systems run in interleaved rounds (the order rotated each round, see
``benchmarks/harness.py``); each run's rate is counted in the process's CPU time,
which other jobs on a shared machine barely change, with the wall-clock rate beside
it. The text/raw ratio is taken per round and reported as its median and range; a
headline is drawn only when that range is narrower than the ratio's distance from 1.

    python packages/env-babyai-text/benchmarks/env_speed.py
    python packages/env-babyai-text/benchmarks/env_speed.py --rounds 2 --steps 200
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import minigrid
import numpy as np

from glam_env import BabyAITextConfig, BabyAITextEnv, make_env
from glam_env.levels import build_level


def import_harness() -> Any:
    """The shared benchmark harness, ``benchmarks/harness.py`` at the repository root."""
    root = Path(__file__).resolve().parents[3]
    sys.path.insert(0, str(root / "benchmarks"))
    import harness

    return harness


H = import_harness()
SYSTEMS = ("raw", "text", "history")
LABELS = {"raw": "raw MiniGrid", "text": "text", "history": "text + 3-obs history"}


def run_single(env: gym.Env[Any, Any], actions: np.ndarray) -> int:
    """Play ``actions`` (resetting with seeds 0, 1, ... at episode ends); episodes ended."""
    seed = 0
    env.reset(seed=seed)
    for action in actions.tolist():
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            seed += 1
            env.reset(seed=seed)
    return seed


def run_vector(env: gym.vector.VectorEnv, actions: np.ndarray) -> int:
    """Play ``actions`` (shape steps x envs) with Gymnasium's autoreset; episodes ended."""
    env.reset(seed=0)
    episodes = 0
    for row in actions:
        _, _, terminated, truncated, _ = env.step(row)
        episodes += int(np.sum(terminated | truncated))
    return episodes


def measure_setting(
    makers: dict[str, Callable[[], Any]],
    run: Callable[[Any, np.ndarray], int],
    actions: np.ndarray,
    rounds: int,
    label: str,
) -> dict[str, list[Any]]:
    """Interleaved rounds of every env; checks that all played the same episodes."""
    envs = {name: maker() for name, maker in makers.items()}
    for env in envs.values():  # warm-up: first resets build caches
        run(env, actions[: min(len(actions), 50)])

    def system(env: Any) -> Callable[[int], int]:
        return lambda _round: run(env, actions)

    systems = {name: system(env) for name, env in envs.items()}
    results = H.interleave(systems, rounds)
    for env in envs.values():
        env.close()
    episodes = {name: {t.value for t in runs} for name, runs in results.items()}
    if len({frozenset(v) for v in episodes.values()}) != 1 or any(
        len(v) != 1 for v in episodes.values()
    ):
        raise RuntimeError(f"{label}: the envs played different episodes {episodes}")
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", nargs="+", default=["GoToLocal", "MixedTrainLocal"])
    parser.add_argument("--steps", type=int, default=3_000, help="env steps per run")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--out-dir", default="", help="write env_speed.md and .json here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    single_actions = rng.integers(0, 6, size=args.steps)
    # the same number of env steps in both settings
    vector_actions = rng.integers(0, 6, size=(max(1, args.steps // args.num_envs), args.num_envs))
    machine = H.Machine.current(None, gymnasium=gym.__version__, minigrid=minigrid.__version__)
    provenance = H.Provenance.start(H.command_line(__file__, argv), machine)
    print(f"machine: {machine.describe()}")
    print(f"load average before: {H.format_load(provenance.load_before)}", flush=True)
    rows: list[list[str]] = []
    data_rows: list[dict[str, Any]] = []
    headline_ratios: list[Any] = []
    start = time.perf_counter()
    for level in args.levels:
        history = BabyAITextConfig(level=level)  # paper defaults: 3 observations of history
        makers: dict[str, Callable[[], Any]] = {
            "raw": functools.partial(build_level, level),
            "text": functools.partial(BabyAITextEnv, level),
            "history": functools.partial(make_env, history),
        }
        n = args.num_envs
        vector_makers = {
            name: functools.partial(gym.vector.SyncVectorEnv, [maker] * n)
            for name, maker in makers.items()
        }
        settings = (
            ("single env", makers, run_single, single_actions),
            (f"SyncVectorEnv x{n}", vector_makers, run_vector, vector_actions),
        )
        for setting, setting_makers, run, actions in settings:
            results = measure_setting(
                setting_makers, run, actions, args.rounds, f"{level} {setting}"
            )
            steps = actions.size
            cpu_rate = {k: [steps / t.cpu_s for t in v] for k, v in results.items()}
            wall_rate = {k: [steps / t.wall_s for t in v] for k, v in results.items()}
            text = H.Ratio.paired(cpu_rate["text"], cpu_rate["raw"])
            hist = H.Ratio.paired(cpu_rate["history"], cpu_rate["raw"])
            headline_ratios += [text, hist]
            row = [level, setting]
            row += [H.Spread.of(cpu_rate[name]).format(",.0f") for name in SYSTEMS]
            row += [H.Spread.of(wall_rate[name]).format(",.0f") for name in SYSTEMS]
            row += [text.format(), hist.format()]
            rows.append(row)
            print("| " + " | ".join(row) + " |", flush=True)
            data_rows.append(
                {
                    "level": level,
                    "setting": setting,
                    "steps": steps,
                    "runs": {
                        k: [{"wall_s": t.wall_s, "cpu_s": t.cpu_s, "episodes": t.value} for t in v]
                        for k, v in results.items()
                    },
                    "text_over_raw": text.to_json(),
                    "history_over_raw": hist.to_json(),
                }
            )
    provenance.finish()
    low = min(r.spread.median for r in headline_ratios)
    high = max(r.spread.median for r in headline_ratios)
    lowest = min(r.spread.low for r in headline_ratios)
    highest = max(r.spread.high for r in headline_ratios)
    headline = (
        f"{low:.0%}-{high:.0%} of raw MiniGrid's steps per CPU second (medians per setting; "
        f"single rounds {lowest:.0%}-{highest:.0%})"
    )
    header = ["level", "setting"]
    header += [f"{LABELS[s]} steps/CPU s" for s in SYSTEMS]
    header += [f"{LABELS[s]} steps/wall s" for s in SYSTEMS]
    header += ["text / raw (CPU)", "text+history / raw (CPU)"]
    markdown = "\n".join(
        [
            f"Env steps per second, {args.steps} steps per run, {args.rounds} interleaved rounds "
            "(median [range]), resets included, same seeds and actions on every side.",
            "",
            provenance.markdown(),
            "",
            H.markdown_table(header, rows),
            "",
            f"Text layer: {headline}; goal: >= 70%. The ratios are taken per round; the "
            "range in brackets is how much they moved between rounds.",
        ]
    )
    print(f"\n{markdown}\n({time.perf_counter() - start:.0f} s)")
    if args.out_dir:
        data = {
            "args": vars(args),
            "provenance": provenance.to_json(),
            "rows": data_rows,
            "headlines": [f"text env speed vs raw MiniGrid: {headline} (goal >= 70%)"],
        }
        print(f"wrote {H.write_report(args.out_dir, 'env_speed', markdown, data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
