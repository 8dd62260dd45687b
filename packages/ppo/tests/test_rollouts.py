"""Rollouts from vector envs: text observations, NEXT_STEP/SAME_STEP autoreset, episodes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from glam_ppo import PPO, EnvironmentSpecError, PolicyOutputError, PPOConfig, split_observations
from glam_ppo.buffer import RolloutBuffer
from glam_ppo.collector import RolloutCollector
from glam_ppo.observations import ObservationStore, policy_input
from glam_ppo.reward_scaling import RewardScaler

NEXT, SAME = gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP


class ValueOfT(nn.Module):
    """Uniform over 2 actions; V(obs) = 10 + t so every value is recognisable."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.as_tensor(np.asarray(observations), dtype=torch.float32).reshape(-1)
        return torch.zeros(len(t), 2) + 0 * self.bias, 10.0 + t


def _collect(env: gym.vector.VectorEnv, policy: Any, num_steps: int, gamma: float = 0.5):
    buffer = RolloutBuffer(num_steps, env.num_envs, env.single_observation_space)
    collector = RolloutCollector(
        env, policy, RewardScaler(env.num_envs, 1.0, False, gamma), torch.Generator().manual_seed(0)
    )
    collector.reset([0] * env.num_envs)
    episodes = collector.collect(buffer)
    return buffer, episodes, collector


def test_split_dict_of_text_into_per_env_dicts(word_game_vec: gym.vector.VectorEnv) -> None:
    obs, _ = word_game_vec.reset(seed=[1, 2, 3])
    assert isinstance(obs["mission"], tuple)  # Gymnasium batches a Dict of Text as tuples
    items = split_observations(word_game_vec.observation_space, obs)
    assert len(items) == 3
    for i, item in enumerate(items):
        assert set(item) == {"mission", "observation", "admissible_actions"}
        assert item["mission"] == obs["mission"][i]
        assert item["admissible_actions"] == obs["admissible_actions"][i]
        assert item["mission"].replace("take the ", "take ") in item["admissible_actions"]


def test_box_observations_stay_one_array(counter_vec_factory: Any) -> None:
    env = counter_vec_factory(num_envs=2)
    obs, _ = env.reset(seed=0)
    out = policy_input(env.single_observation_space, env.observation_space, obs)
    assert isinstance(out, np.ndarray) and out.shape == (2, 1)
    store = ObservationStore(2, 2, env.single_observation_space)
    store.put(0, out)
    store.put(1, out + 1)
    np.testing.assert_array_equal(store.select(np.array([3, 0])), [[1.0], [0.0]])


def test_text_policy_receives_lists_of_observation_dicts(
    word_game_vec: gym.vector.VectorEnv, fakes: Any
) -> None:
    policy = fakes.BagOfWordsPolicy()
    buffer, episodes, _ = _collect(word_game_vec, policy, num_steps=6)
    first = policy.calls[0]
    assert isinstance(first, list) and len(first) == 3 and isinstance(first[0], dict)
    assert isinstance(first[0]["admissible_actions"], tuple)
    batch = buffer.finish(0.99, 0.95)
    assert isinstance(batch.observations, list) and len(batch.observations) == batch.size
    # Actions always index an admissible action of their own observation.
    for obs, action in zip(batch.observations, batch.actions.tolist(), strict=True):
        assert action < len(obs["admissible_actions"])
    assert episodes and all(e.success is not None for e in episodes)
    assert all(e.success == (e.episode_return == 1.0) for e in episodes)


def test_next_step_reset_rows_are_invalid_and_bootstrap_uses_final_value(
    counter_vec_factory: Any,
) -> None:
    env = counter_vec_factory(num_envs=1, length=2)
    buffer, episodes, _ = _collect(env, ValueOfT(), num_steps=6)
    # Steps: t=0 obs0, t=1 obs1 (truncates), t=2 reset row (obs = final obs 2), t=3 obs0 ...
    np.testing.assert_array_equal(buffer.valid[:, 0], [1, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(buffer.truncated[:, 0], [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(buffer.rewards[:, 0], [1, 1, 0, 1, 1, 0])
    # Row 1's successor is the final observation [2]: V = 12, used for the bootstrap.
    assert buffer.next_values[1, 0] == 12.0
    assert [(e.length, e.episode_return, e.success) for e in episodes] == [(2, 2.0, None)] * 2
    batch = buffer.finish(0.5, 0.5)
    assert batch.size == 4 and batch.capacity == 6
    # delta_1 = 1 + 0.5 * 12 - 11 = -4;  A_0 = (1 + 0.5 * 11 - 10) + 0.25 * (-4) = -4.5
    torch.testing.assert_close(batch.advantages[:2], torch.tensor([-4.5, -4.0]))


def test_same_step_gives_the_same_transitions_as_next_step(counter_vec_factory: Any) -> None:
    next_buffer, next_eps, _ = _collect(counter_vec_factory(2, 3, mode=NEXT), ValueOfT(), 8)
    same_buffer, same_eps, _ = _collect(counter_vec_factory(2, 3, mode=SAME), ValueOfT(), 6)
    next_batch = next_buffer.finish(0.9, 0.8)
    same_batch = same_buffer.finish(0.9, 0.8)
    # NEXT_STEP: 8 rows, 2 of them reset rows per env -> 6 transitions per env, as SAME_STEP.
    assert next_batch.size == same_batch.size == 12
    order = np.lexsort((np.arange(12) // 2, np.arange(12) % 2))  # group by env, then time
    for name in ("advantages", "returns", "values", "logprobs"):
        torch.testing.assert_close(
            getattr(next_batch, name)[order], getattr(same_batch, name)[order]
        )
    assert len(next_eps) == len(same_eps) == 4
    assert same_buffer.next_values[2, 0] == 13.0  # final observation [3] from info


def test_terminated_episodes_are_counted_once(counter_vec_factory: Any) -> None:
    env = counter_vec_factory(num_envs=2, length=3, terminate=True)
    buffer, episodes, _ = _collect(env, ValueOfT(), num_steps=9)
    assert [e.terminated for e in episodes] == [True] * 4
    assert [e.length for e in episodes] == [3] * 4
    assert buffer.valid.sum() == 2 * 9 - 2 * 2


def test_async_vector_env_rollout() -> None:
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="async")
    try:
        trainer = PPO(
            _mlp(env), env, PPOConfig(num_steps=40, minibatch_size=40, num_epochs=1, seed=3)
        )
        batch, _ = trainer.collect_rollout()
        assert batch.observations.shape[1:] == (4,) and batch.size <= 80
        assert batch.size >= 80 - 8  # a few reset rows at most
    finally:
        env.close()


def _mlp(env: gym.vector.VectorEnv) -> nn.Module:
    from glam_ppo import MLPActorCritic

    return MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)


def test_disabled_autoreset_is_refused(counter_vec_factory: Any) -> None:
    env = counter_vec_factory(1, mode=gym.vector.AutoresetMode.DISABLED)
    with pytest.raises(EnvironmentSpecError, match="DISABLED is not supported"):
        PPO(ValueOfT(), env)


def test_non_discrete_actions_are_refused() -> None:
    env = gym.make_vec("Pendulum-v1", num_envs=1, vectorization_mode="sync")
    with pytest.raises(EnvironmentSpecError, match="must be Discrete"):
        PPO(ValueOfT(), env)


def test_single_env_is_refused() -> None:
    with pytest.raises(EnvironmentSpecError, match=r"gymnasium\.vector\.VectorEnv"):
        PPO(ValueOfT(), gym.make("CartPole-v1"))  # type: ignore[arg-type]


def test_bad_policy_output_is_reported(counter_vec_factory: Any) -> None:
    class WrongShape(ValueOfT):
        def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
            logits, values = super().forward(observations)
            return logits, values[:, None]

    with pytest.raises(PolicyOutputError, match=r"values must have shape \(batch=2,\)"):
        _collect(counter_vec_factory(2), WrongShape(), 2)

    class AllMasked(ValueOfT):
        def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
            logits, values = super().forward(observations)
            return torch.full_like(logits, float("-inf")), values

    with pytest.raises(PolicyOutputError, match="no action with a finite logit"):
        _collect(counter_vec_factory(2), AllMasked(), 2)


def test_same_step_success_comes_from_final_info(fakes: Any) -> None:
    env = gym.vector.SyncVectorEnv([fakes.WordGameEnv] * 2, autoreset_mode=SAME)
    buffer, episodes, _ = _collect(env, fakes.BagOfWordsPolicy(), num_steps=8)
    assert buffer.valid.all() and episodes
    assert all(e.success == (e.episode_return == 1.0) for e in episodes)
