from __future__ import annotations

import math

import pytest

from glam_apps.evaluation.stats import summarize, wilson_interval


def test_wilson_matches_a_hand_computed_value() -> None:
    # 50 successes out of 100 at 99%: z = 2.5758; centre 0.5;
    # half = z * sqrt(0.0025 + z^2 / 40000) / (1 + z^2 / 100)
    z = 2.5758293035489
    half = z * math.sqrt(0.25 / 100 + z * z / 40000) / (1 + z * z / 100)
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.5 - half, abs=1e-9)
    assert high == pytest.approx(0.5 + half, abs=1e-9)


def test_wilson_stays_inside_zero_one_and_is_not_degenerate() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0.3 < high < 0.6
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and 0.4 < low < 0.7
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_interval_narrows_with_more_episodes() -> None:
    small = wilson_interval(5, 10)
    large = wilson_interval(500, 1000)
    assert (large[1] - large[0]) < (small[1] - small[0]) / 5


@pytest.mark.parametrize("args", [(3, 2), (-1, 5)])
def test_wilson_rejects_impossible_counts(args: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        wilson_interval(*args)


def test_summarize() -> None:
    summary = summarize([True, False, True, True], [0.9, 0.0, 0.5, 0.6], [3, 64, 10, 7])
    assert summary.episodes == 4 and summary.successes == 3
    assert summary.success_rate == 0.75
    assert summary.mean_return == pytest.approx(0.5)
    assert summary.mean_length == pytest.approx(21.0)
    assert summary.success_ci_low < 0.75 < summary.success_ci_high
    with pytest.raises(ValueError):
        summarize([True], [1.0, 2.0], [1])
