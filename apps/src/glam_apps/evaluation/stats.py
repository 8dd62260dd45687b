"""Statistics of evaluation episodes: success rate with a Wilson score interval,
and the spread of per-seed success rates.

The paper reports success rates with a 99% confidence interval. We use the
Wilson score interval rather than the normal (Wald) approximation because it
stays inside [0, 1] and keeps its coverage near 0 and 1 and for small episode
counts, which is exactly where quick evaluations and zero-shot models live.

When an evaluation is repeated over several seeds, :func:`across_seeds` gives
the mean of the per-seed rates with a Student-t interval, and the paper's own
figure (its ``experiments/test_results.py``: mean of the per-seed success rates
plus or minus ``z * std / sqrt(seeds)``, ``z`` the normal 99% quantile).

Two agents played on the same episode seeds are compared episode by episode
(:func:`paired_difference`): pairing removes the variation between episodes (an
easy seed is easy for both), so the difference is pinned down far more tightly
than two separate intervals suggest. Everything here is closed-form: no special-
function library is needed (the exact tails below are integer arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
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
class EpisodeOutcome:
    """One evaluation episode: kept in the reports so that agents can be paired by seed."""

    index: int
    seed: int
    success: bool
    episode_return: float
    length: int
    family: str | None

    def to_dict(self) -> dict[str, Any]:
        """The report's form: ``seed``, ``success``, ``return``, ``length``, ``family``."""
        return {
            "seed": self.seed,
            "success": self.success,
            "return": self.episode_return,
            "length": self.length,
            "family": self.family,
        }


@dataclass(frozen=True)
class EpisodeSummary:
    """What one evaluation (one test, one agent) measured over its episodes.

    ``outcomes`` keeps the episodes themselves when they are known (empty for a
    summary of bare figures): whoever copies the summary keeps them with it.
    """

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
    outcomes: tuple[EpisodeOutcome, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The figures (the outcomes are the report's to write: they are long)."""
        data = asdict(self)
        del data["outcomes"]
        return data


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


def summarize_outcomes(outcomes: Sequence[EpisodeOutcome]) -> EpisodeSummary:
    """:func:`summarize` of whole episodes, which the summary keeps."""
    summary = summarize(
        [o.success for o in outcomes],
        [o.episode_return for o in outcomes],
        [o.length for o in outcomes],
    )
    return replace(summary, outcomes=tuple(outcomes))


# ---------------------------------------------------------------- across seeds


def _t_two_sided_coverage(theta: float, dof: int) -> float:
    """``P(|T| < sqrt(dof) * tan(theta))`` for Student's t with integer ``dof``.

    Abramowitz & Stegun 26.7.3/26.7.4: a finite series in ``cos(theta)``, exact
    for integer degrees of freedom, so no special-function library is needed.
    """
    sin, cos = math.sin(theta), math.cos(theta)
    cos2 = cos * cos
    if dof % 2 == 1:
        total, term = 0.0, 1.0
        if dof > 1:
            total = 1.0
            for k in range(1, (dof - 1) // 2):  # 1, 2/3 cos^2, (2*4)/(3*5) cos^4, ...
                term *= cos2 * (2 * k) / (2 * k + 1)
                total += term
        return (2.0 / math.pi) * (theta + sin * cos * total)
    total, term = 1.0, 1.0
    for k in range(1, dof // 2):  # 1, 1/2 cos^2, (1*3)/(2*4) cos^4, ...
        term *= cos2 * (2 * k - 1) / (2 * k)
        total += term
    return sin * total


def t_quantile(confidence: float, dof: int) -> float:
    """The two-sided Student-t critical value: ``P(|T| < q) = confidence`` with ``dof`` dof.

    E.g. 63.657 for 99% and one degree of freedom (two seeds), 2.576 in the limit.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if dof < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {dof}")
    low, high = 0.0, math.pi / 2.0  # the coverage grows with theta from 0 to 1
    for _ in range(200):
        middle = (low + high) / 2.0
        if _t_two_sided_coverage(middle, dof) < confidence:
            low = middle
        else:
            high = middle
    return math.sqrt(dof) * math.tan((low + high) / 2.0)


@dataclass(frozen=True)
class SeedSpread:
    """Per-seed values (success rates) and how far their mean can be trusted.

    ``ci_low``/``ci_high``: the Student-t interval ``mean +- t * std / sqrt(n)``
    (``std`` with ``n - 1`` in the denominator), not clipped to [0, 1]: a
    clipped interval would hide how little a few seeds say. ``paper_half_width``:
    ``z * std / sqrt(n)`` with ``z`` the normal quantile, the paper's "mean +-
    99% CI" (its ``test_results.py``), which ignores that ``std`` is estimated
    from ``n`` values and so is far too narrow for few seeds.
    """

    seeds: int
    values: tuple[float, ...]
    mean: float
    std: float
    ci_low: float
    ci_high: float
    paper_half_width: float
    confidence: float = CONFIDENCE
    method: str = "student-t"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["values"] = list(self.values)
        return data


def across_seeds(values: Sequence[float], confidence: float = CONFIDENCE) -> SeedSpread:
    """Mean of one value per seed with its Student-t interval and the paper's z-interval.

    What it measures: how much the result moves from one seed to another, the
    seeds being independent repetitions of the whole evaluation (its episodes
    and the agent's sampling; across runs trained with different seeds, the
    training too). It needs at least two seeds, and with few it is very wide:
    the 99% t quantile is 63.7 for two seeds, 9.9 for three, 4.6 for five
    (the normal value is 2.58), so two seeds only rule out very little. The
    Wilson interval on the pooled episodes is the tighter statement about the
    evaluated agent; this one is the statement about seed-to-seed variation.
    """
    n = len(values)
    if n < 2:
        raise ValueError(f"a spread across seeds needs at least 2 seeds, got {n}")
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    standard_error = std / math.sqrt(n)
    half = t_quantile(confidence, n - 1) * standard_error
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    return SeedSpread(
        seeds=n,
        values=tuple(float(v) for v in values),
        mean=mean,
        std=std,
        ci_low=mean - half,
        ci_high=mean + half,
        paper_half_width=z * standard_error,
        confidence=confidence,
    )


# ---------------------------------------------------------------- paired episodes

PAIRED_CI_METHOD = "newcombe paired score (square-and-add of wilson intervals)"
PAIRED_TEST = "exact mcnemar"
PAIRED_RETURN_METHOD = "student-t over per-episode differences"


@dataclass(frozen=True)
class PairedDifference:
    """Success of agent A minus agent B over the same episode seeds.

    The four counts are the paired table: both won, only A, only B, neither.
    ``difference`` is ``(only_a - only_b) / pairs``; ``ci_low``/``ci_high`` is
    Newcombe's interval for paired proportions (his method 10, Stat. Med. 1998),
    built from the two Wilson intervals and the correlation between the agents, so
    it agrees with the Wilson intervals of each agent, stays inside [-1, 1] and is
    not degenerate when the agents never disagree (where a t or bootstrap interval
    on the per-episode differences collapses to a point). ``p_value``: the exact
    McNemar test that both agents succeed as often (only the discordant pairs tell).
    """

    pairs: int
    both: int
    only_a: int
    only_b: int
    neither: int
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float = CONFIDENCE
    method: str = PAIRED_CI_METHOD
    test: str = PAIRED_TEST

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: ``min(only_a, only_b)`` in ``Binomial(n, 1/2)``.

    Exact integer arithmetic (``math.comb``), so it holds for thousands of pairs.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_a} and {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_difference(
    a: Sequence[bool], b: Sequence[bool], confidence: float = CONFIDENCE
) -> PairedDifference:
    """Success rate of ``a`` minus ``b``, episode ``i`` of both played on the same seed."""
    if len(a) != len(b):
        raise ValueError(f"paired episodes needed: {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        raise ValueError("a paired difference needs at least one pair of episodes")
    both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    neither = n - both - only_a - only_b
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = wilson_interval(both + only_a, n, confidence)
    l2, u2 = wilson_interval(both + only_b, n, confidence)
    phi = _paired_correlation(both, only_a, only_b, neither)
    difference = p1 - p2
    below = (p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
    above = (p2 - l2) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1)
    return PairedDifference(
        pairs=n,
        both=both,
        only_a=only_a,
        only_b=only_b,
        neither=neither,
        difference=difference,
        ci_low=max(-1.0, difference - math.sqrt(max(0.0, below))),
        ci_high=min(1.0, difference + math.sqrt(max(0.0, above))),
        p_value=mcnemar_exact_p(only_a, only_b),
        confidence=confidence,
    )


def _paired_correlation(both: int, only_a: int, only_b: int, neither: int) -> float:
    """Newcombe's estimate of the correlation of the two rates, shrunk toward 0.

    ``(both * neither - only_a * only_b)``, less ``n / 2`` when positive (a
    continuity correction that keeps small tables from looking too correlated),
    over the square root of the margins' product; 0 when a margin is empty.
    """
    n = both + only_a + only_b + neither
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    if margins == 0:
        return 0.0
    cross = both * neither - only_a * only_b
    if cross > n / 2:
        cross -= n / 2
    elif cross >= 0:
        cross = 0
    return cross / math.sqrt(margins)


@dataclass(frozen=True)
class PairedMeanDifference:
    """Mean of ``a - b`` over paired values (returns) with its Student-t interval."""

    pairs: int
    difference: float
    ci_low: float
    ci_high: float
    confidence: float = CONFIDENCE
    method: str = PAIRED_RETURN_METHOD

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_mean_difference(
    a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE
) -> PairedMeanDifference | None:
    """``mean(a - b)`` with a t interval; ``None`` under two pairs (no spread to measure)."""
    if len(a) != len(b):
        raise ValueError(f"paired values needed: {len(a)} and {len(b)}")
    n = len(a)
    if n < 2:
        return None
    differences = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    mean = math.fsum(differences) / n
    std = math.sqrt(math.fsum((d - mean) ** 2 for d in differences) / (n - 1))
    half = t_quantile(confidence, n - 1) * std / math.sqrt(n)
    return PairedMeanDifference(
        pairs=n, difference=mean, ci_low=mean - half, ci_high=mean + half, confidence=confidence
    )
