"""Reward scaling: constant factor, and division by the running std of discounted returns."""

from __future__ import annotations

import numpy as np

from glam_ppo.reward_scaling import RewardScaler, RunningMeanStd


def test_running_mean_std_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(10, 7))
    stats = RunningMeanStd()
    for row in data:
        stats.update(row)
    # The prior (mean 0, var 1, count 1e-4) weighs almost nothing.
    assert abs(stats.mean - data.mean()) < 1e-4
    assert abs(stats.var - data.var()) < 1e-3


def test_constant_scale_only() -> None:
    scaler = RewardScaler(2, scale=20.0, normalize=False, gamma=0.99)
    out = scaler(np.array([1.0, 0.5]), np.array([False, True]), np.array([True, True]))
    np.testing.assert_allclose(out, [20.0, 10.0])


def test_normalisation_by_discounted_return_std() -> None:
    scaler = RewardScaler(1, scale=2.0, normalize=True, gamma=0.5)
    valid = np.array([True])
    returns, expected = [], []
    running = 0.0
    reference = RunningMeanStd()
    for reward, ended in [(1.0, False), (0.0, False), (3.0, True), (1.0, False)]:
        running = running * 0.5 + 2.0 * reward
        reference.update(np.array([running]))
        expected.append(2.0 * reward / np.sqrt(reference.var + 1e-8))
        returns.append(scaler(np.array([reward]), np.array([ended]), valid)[0])
        if ended:
            running = 0.0
    np.testing.assert_allclose(returns, expected, rtol=1e-6)


def test_invalid_rows_do_not_move_the_statistics() -> None:
    scaler = RewardScaler(2, scale=1.0, normalize=True, gamma=0.9)
    scaler(np.array([1.0, 2.0]), np.array([False, False]), np.array([True, True]))
    state = scaler.state_dict()
    scaler(np.array([0.0, 5.0]), np.array([False, False]), np.array([False, True]))
    assert scaler.state_dict()["returns"][0] == state["returns"][0]
    restored = RewardScaler(2, scale=1.0, normalize=True, gamma=0.9)
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == scaler.state_dict()
