"""Numbers of a study: seed means with 95% bootstrap intervals, curves, steps to a threshold.

Pure functions on plain numbers (no files), so that ``glam plot``'s seed grouping
can share them later.

Intervals. Over seeds: the percentile bootstrap of the mean
(``scipy.stats.bootstrap``, 10,000 resamples, a fixed generator so the tables do
not change from one call to the next), the interval RL papers report for few
seeds (e.g. rliable). With few seeds it is narrow rather than honest: with 2 seeds
it is the range between them at best, so the tables print the per-seed values
next to it. With one seed there is no spread to resample: the curves have no
band, and a final success falls back to the 95% Wilson interval over that seed's
evaluation episodes (the evaluation's noise only), which the ``method`` field
says. Agents that do not learn (random, bot, keyword) have no training seeds:
their interval is the Wilson interval over their episodes.

Curves. Each seed's periodic evaluations (``eval/evaluations.jsonl``) are taken at
the steps they were made; at each step, the mean over the seeds evaluated at that
step (all of them, except in a study still running), and its interval.

Steps to a threshold: the first evaluation step where the seed mean reaches it
(and, per seed, where that seed's evaluation does); ``None`` when it never does,
"not reached" in the tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glam_apps.evaluation.stats import wilson_interval

#: Confidence level of every interval in a study's outputs.
CONFIDENCE = 0.95
#: Bootstrap resamples (``scipy.stats.bootstrap``'s ``n_resamples``).
RESAMPLES = 10_000
#: Seed of the bootstrap's generator: the same runs give the same tables.
BOOTSTRAP_SEED = 0

BOOTSTRAP = "percentile bootstrap over seeds"
WILSON_EPISODES = "Wilson over the episodes of one seed"
WILSON_NO_SEEDS = "Wilson over episodes (no training seeds)"
NO_INTERVAL = "none (one seed)"


def bootstrap_ci(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the mean of ``values`` (``None`` for fewer than 2).

    Equal values give the degenerate interval ``(v, v)`` (scipy would warn and
    return NaN: there is nothing to resample).
    """
    from scipy.stats import bootstrap

    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return None
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    result = bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        vectorized=True,
        **_generator_argument(bootstrap, np.random.default_rng(seed)),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def _generator_argument(function: Any, generator: np.random.Generator) -> dict[str, Any]:
    """``rng=`` (scipy >= 1.15) or ``random_state=`` (older scipy) for the same generator."""
    import inspect

    name = "rng" if "rng" in inspect.signature(function).parameters else "random_state"
    return {name: generator}


@dataclass(frozen=True)
class Estimate:
    """A mean and its 95% interval, with how the interval was made.

    ``values``: one per seed (one for an agent without seeds); ``n``: how many.
    ``low``/``high`` are ``None`` when there is no interval (one seed, no episodes).
    """

    mean: float
    low: float | None
    high: float | None
    values: tuple[float, ...]
    method: str

    @property
    def n(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "ci_low": self.low,
            "ci_high": self.high,
            "confidence": CONFIDENCE,
            "ci_method": self.method,
            "values": list(self.values),
        }


def seed_estimate(values: Sequence[float]) -> Estimate:
    """Mean over seeds with its bootstrap interval (none for one seed)."""
    if not values:
        raise ValueError("no values to average")
    mean = math.fsum(values) / len(values)
    interval = bootstrap_ci(values)
    if interval is None:
        return Estimate(mean, None, None, tuple(values), NO_INTERVAL)
    return Estimate(mean, interval[0], interval[1], tuple(values), BOOTSTRAP)


def wilson_estimate(successes: int, episodes: int, method: str = WILSON_NO_SEEDS) -> Estimate:
    """A success rate over episodes with its 95% Wilson interval."""
    rate = successes / episodes if episodes else 0.0
    low, high = wilson_interval(successes, episodes, confidence=CONFIDENCE)
    return Estimate(rate, low, high, (rate,), method)


def success_estimate(per_seed: Sequence[tuple[int, int]], seeds: bool = True) -> Estimate:
    """Final success from ``(successes, episodes)`` per seed.

    Several seeds: mean of the per-seed rates, bootstrap interval. One seed: its
    rate with the Wilson interval over its episodes. ``seeds=False`` (an agent
    that does not learn, one evaluation): the Wilson interval, said so.
    """
    if not per_seed:
        raise ValueError("no seeds to average")
    if len(per_seed) == 1:
        successes, episodes = per_seed[0]
        return wilson_estimate(successes, episodes, WILSON_EPISODES if seeds else WILSON_NO_SEEDS)
    return seed_estimate([s / e if e else 0.0 for s, e in per_seed])


# ---------------------------------------------------------------------- curves


@dataclass(frozen=True)
class CurveSummary:
    """A learning curve over seeds: at each step, the mean, its interval, the seed count."""

    steps: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]
    seeds: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "mean": list(self.mean),
            "ci_low": list(self.low),
            "ci_high": list(self.high),
            "seeds": list(self.seeds),
        }


def aggregate_curves(per_seed: Mapping[int, Sequence[tuple[int, float]]]) -> CurveSummary:
    """``{seed: [(env_steps, value), ...]}`` -> the mean curve with its bootstrap band.

    Steps are those the seeds were evaluated at; a step evaluated by only some seeds
    (a study still running) averages those (``seeds`` says how many).
    """
    by_step: dict[int, list[float]] = {}
    for points in per_seed.values():
        for step, value in points:
            by_step.setdefault(int(step), []).append(float(value))
    steps = sorted(by_step)
    means, lows, highs, counts = [], [], [], []
    for step in steps:
        estimate = seed_estimate(by_step[step])
        means.append(estimate.mean)
        lows.append(estimate.low)
        highs.append(estimate.high)
        counts.append(estimate.n)
    return CurveSummary(tuple(steps), tuple(means), tuple(lows), tuple(highs), tuple(counts))


def steps_to_threshold(points: Sequence[tuple[int, float]], threshold: float) -> int | None:
    """The first step (in step order) whose value reaches ``threshold``; ``None``: never."""
    for step, value in sorted(points):
        if value >= threshold - 1e-12:
            return int(step)
    return None


@dataclass(frozen=True)
class ThresholdSteps:
    """Env steps to reach a success rate: on the seed-mean curve, and per seed."""

    threshold: float
    mean_curve: int | None
    per_seed: dict[int, int | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "seed_mean": self.mean_curve,
            "per_seed": {str(seed): step for seed, step in self.per_seed.items()},
        }


def threshold_steps(
    per_seed: Mapping[int, Sequence[tuple[int, float]]],
    curve: CurveSummary,
    threshold: float,
) -> ThresholdSteps:
    return ThresholdSteps(
        threshold,
        steps_to_threshold(list(zip(curve.steps, curve.mean, strict=True)), threshold),
        {seed: steps_to_threshold(points, threshold) for seed, points in sorted(per_seed.items())},
    )
