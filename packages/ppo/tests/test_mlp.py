"""MLPActorCritic: the standard recipe's initialisation, shapes, and its fast forward path."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from glam_ppo import ActorCriticPolicy, MLPActorCritic, ValuePredictor


def test_orthogonal_initialisation_with_recipe_gains() -> None:
    torch.manual_seed(0)
    policy = MLPActorCritic(4, 3, hidden_sizes=(64, 64))
    hidden = policy.actor[2].weight  # 64 x 64, gain sqrt(2): W W^T = 2 I
    torch.testing.assert_close(hidden @ hidden.T, 2.0 * torch.eye(64), atol=1e-4, rtol=0)
    head = policy.actor[-1].weight  # 3 x 64, gain 0.01: rows orthogonal with norm 0.01
    torch.testing.assert_close(head @ head.T, 1e-4 * torch.eye(3), atol=1e-8, rtol=0)
    value = policy.critic[-1].weight
    assert value.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert all((m.bias == 0).all() for m in (policy.actor[0], policy.critic[-1]))


def test_fast_path_equals_the_sequential_modules() -> None:
    torch.manual_seed(1)
    policy = MLPActorCritic(6, 2, activation="relu")
    obs = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    logits, values = policy(obs)
    x = torch.from_numpy(obs)
    torch.testing.assert_close(logits, policy.actor(x))
    torch.testing.assert_close(values, policy.critic(x).squeeze(-1))
    torch.testing.assert_close(policy.predict_values(obs), values)
    # A list of per-env arrays works too (and multi-dimensional observations are flattened).
    torch.testing.assert_close(policy(list(obs))[0], logits)
    image = MLPActorCritic(6, 2)
    assert image(obs.reshape(5, 2, 3))[0].shape == (5, 2)


def test_for_spaces_and_protocols() -> None:
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    assert isinstance(policy, ActorCriticPolicy) and isinstance(policy, ValuePredictor)
    logits, values = policy(env.reset(seed=0)[0])
    assert logits.shape == (2, 2) and values.shape == (2,)
    # Nearly uniform first policy thanks to the 0.01 gain.
    probs = torch.softmax(logits, -1)
    assert torch.allclose(probs, torch.full_like(probs, 0.5), atol=0.02)
    assert math.isfinite(values.sum().item())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPActorCritic(4, 2, activation="gelu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be positive"):
        MLPActorCritic(0, 2)
