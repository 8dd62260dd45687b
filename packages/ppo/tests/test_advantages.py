"""GAE against hand-computed examples (gamma = lambda = 0.5 keeps the arithmetic exact)."""

from __future__ import annotations

import numpy as np
import pytest

from glam_ppo import compute_gae

GAMMA = LAMBDA = 0.5


def col(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)[:, None]


def flags(*values: bool) -> np.ndarray:
    return np.array(values, dtype=bool)[:, None]


def test_no_episode_end_bootstraps_from_last_value() -> None:
    # delta = r + 0.5 V' - V: 0.75, 0.75, 1 + 0.5 * 2 - 0.5 = 1.5; A_t = delta_t + 0.25 A_{t+1}
    adv, ret = compute_gae(
        col(1, 1, 1), col(0.5, 0.5, 0.5), col(0.5, 0.5, 2.0),
        flags(0, 0, 0), flags(0, 0, 0), GAMMA, LAMBDA,
    )  # fmt: skip
    np.testing.assert_allclose(adv[:, 0], [1.03125, 1.125, 1.5])
    np.testing.assert_allclose(ret[:, 0], [1.53125, 1.625, 2.0])


def test_terminated_does_not_bootstrap_and_cuts_the_chain() -> None:
    # The value 9 of the terminal observation must be ignored: delta_1 = 1 - 0.5.
    adv, _ = compute_gae(
        col(1, 1, 1), col(0.5, 0.5, 0.5), col(0.5, 9.0, 2.0),
        flags(0, 1, 0), flags(0, 0, 0), GAMMA, LAMBDA,
    )  # fmt: skip
    np.testing.assert_allclose(adv[:, 0], [0.875, 0.5, 1.5])


def test_truncated_bootstraps_from_the_final_observation_value() -> None:
    # delta_1 = 1 + 0.5 * V(final obs = 4) - 0.5 = 2.5; no flow from the next episode.
    adv, _ = compute_gae(
        col(1, 1, 1), col(0.5, 0.5, 0.5), col(0.5, 4.0, 2.0),
        flags(0, 0, 0), flags(0, 1, 0), GAMMA, LAMBDA,
    )  # fmt: skip
    np.testing.assert_allclose(adv[:, 0], [1.375, 2.5, 1.5])


def test_next_step_autoreset_row_is_not_learned_from() -> None:
    # NEXT_STEP: row 1 truncates; row 2 is the reset step (its observation is the final
    # one, value 4; reward 0; action ignored); row 3 starts the next episode.
    values = col(0.5, 0.5, 4.0, 0.5)
    next_values = np.concatenate([values[1:], col(2.0)])
    adv, ret = compute_gae(
        col(1, 1, 0, 1), values, next_values,
        flags(0, 0, 0, 0), flags(0, 1, 0, 0), GAMMA, LAMBDA,
        valid=flags(1, 1, 0, 1),
    )  # fmt: skip
    # Same numbers as the truncated example: the reset row changes nothing.
    np.testing.assert_allclose(adv[:, 0], [1.375, 2.5, 0.0, 1.5])
    assert ret[2, 0] == 0.0


def test_next_step_autoreset_after_termination() -> None:
    values = col(0.5, 0.5, 7.0, 0.5)
    next_values = np.concatenate([values[1:], col(2.0)])
    adv, _ = compute_gae(
        col(1, 1, 0, 1), values, next_values,
        flags(0, 1, 0, 0), flags(0, 0, 0, 0), GAMMA, LAMBDA,
        valid=flags(1, 1, 0, 1),
    )  # fmt: skip
    np.testing.assert_allclose(adv[:, 0], [0.875, 0.5, 0.0, 1.5])


def test_environments_are_independent_columns() -> None:
    rewards = np.ones((3, 2), dtype=np.float32)
    values = np.full((3, 2), 0.5, dtype=np.float32)
    next_values = np.array([[0.5, 0.5], [0.5, 9.0], [2.0, 2.0]], dtype=np.float32)
    terminated = np.array([[0, 0], [0, 1], [0, 0]], dtype=bool)
    truncated = np.zeros((3, 2), dtype=bool)
    adv, _ = compute_gae(rewards, values, next_values, terminated, truncated, GAMMA, LAMBDA)
    np.testing.assert_allclose(adv[:, 0], [1.03125, 1.125, 1.5])
    np.testing.assert_allclose(adv[:, 1], [0.875, 0.5, 1.5])


def _reference(rewards, values, next_values, terminated, truncated, valid, gamma, lam):
    """Direct definition: A_t = sum_k (gamma lambda)^k delta_{t+k} within the episode."""
    steps, envs = rewards.shape
    out = np.zeros((steps, envs))
    for i in range(envs):
        for t in range(steps):
            if not valid[t, i]:
                continue
            total, factor = 0.0, 1.0
            for k in range(t, steps):
                delta = (
                    rewards[k, i]
                    + gamma * next_values[k, i] * (1 - terminated[k, i])
                    - values[k, i]
                )
                total += factor * delta
                if terminated[k, i] or truncated[k, i] or k + 1 >= steps or not valid[k + 1, i]:
                    break
                factor *= gamma * lam
            out[t, i] = total
    return out


def test_matches_the_direct_definition_on_random_rollouts() -> None:
    rng = np.random.default_rng(0)
    steps, envs = 17, 4
    rewards = rng.normal(size=(steps, envs)).astype(np.float32)
    values = rng.normal(size=(steps, envs)).astype(np.float32)
    next_values = rng.normal(size=(steps, envs)).astype(np.float32)
    ended = rng.random((steps, envs)) < 0.2
    terminated = ended & (rng.random((steps, envs)) < 0.5)
    truncated = ended & ~terminated
    valid = np.ones((steps, envs), dtype=bool)
    valid[1:] = ~ended[:-1]  # NEXT_STEP: the row after an end is a reset row
    terminated &= valid
    truncated &= valid
    adv, ret = compute_gae(
        rewards, values, next_values, terminated, truncated, 0.97, 0.9, valid=valid
    )
    expected = _reference(rewards, values, next_values, terminated, truncated, valid, 0.97, 0.9)
    np.testing.assert_allclose(adv, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret[valid], (expected + values)[valid], rtol=1e-5, atol=1e-5)


def test_shape_mismatch_is_reported() -> None:
    with pytest.raises(ValueError, match=r"next_values has shape \(2, 1\), rewards has \(3, 1\)"):
        compute_gae(
            col(1, 1, 1), col(0, 0, 0), col(0, 0),
            flags(0, 0, 0), flags(0, 0, 0), GAMMA, LAMBDA,
        )  # fmt: skip
