"""Statistics of evaluation episodes: success rate with a Wilson score interval.

The paper reports success rates with a 99% confidence interval. We use the
Wilson score interval rather than the normal (Wald) approximation because it
stays inside [0, 1] and keeps its coverage near 0 and 1 and for small episode
counts, which is exactly where quick evaluations and zero-shot models live.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

#: Confidence level of every interval this module reports.
CONFIDENCE = 0.99
CI_METHOD = "wilson"


def wilson_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(0, 1)`` for no trials)."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class EpisodeSummary:
    """What one evaluation (one test, one agent) measured over its episodes."""

    episodes: int
    successes: int
    success_rate: float
    success_ci_low: float
    success_ci_high: float
    mean_return: float
    std_return: float
    mean_length: float
    confidence: float = CONFIDENCE
    ci_method: str = CI_METHOD

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    successes: Sequence[bool], returns: Sequence[float], lengths: Sequence[int]
) -> EpisodeSummary:
    """Summarize per-episode outcomes (all three sequences have one entry per episode)."""
    n = len(successes)
    if len(returns) != n or len(lengths) != n:
        raise ValueError(
            f"one entry per episode needed: {n} successes, {len(returns)} returns, "
            f"{len(lengths)} lengths"
        )
    wins = int(sum(bool(s) for s in successes))
    low, high = wilson_interval(wins, n)
    if n:
        mean_return = float(sum(returns) / n)
        variance = sum((r - mean_return) ** 2 for r in returns) / n
        mean_length = float(sum(lengths) / n)
    else:
        mean_return = variance = mean_length = 0.0
    return EpisodeSummary(
        episodes=n,
        successes=wins,
        success_rate=wins / n if n else 0.0,
        success_ci_low=low,
        success_ci_high=high,
        mean_return=mean_return,
        std_return=math.sqrt(variance),
        mean_length=mean_length,
    )
