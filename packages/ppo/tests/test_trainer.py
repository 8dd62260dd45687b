"""The trainer end to end: metrics, callbacks, writers, seeds, schedules, text policies."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from glam_ppo import (
    PPO,
    Callback,
    EpisodeRecord,
    JSONLWriter,
    LoggingCallback,
    MLPActorCritic,
    PPOConfig,
    TensorBoardWriter,
    evaluate,
)

SMALL = {"num_steps": 32, "minibatch_size": 64, "num_epochs": 2, "total_steps": 4 * 32 * 4}


def cartpole(num_envs: int = 4) -> gym.vector.VectorEnv:
    return gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync")


def make_trainer(seed: int = 0, callbacks: tuple[Callback, ...] = (), **overrides: Any) -> PPO:
    torch.manual_seed(seed)
    env = cartpole()
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    config = PPOConfig(**{**SMALL, "seed": seed, **overrides})
    return PPO(policy, env, config, callbacks=callbacks)


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.metrics: list[dict[str, float]] = []
        self.episodes: list[EpisodeRecord] = []

    def on_training_start(self, trainer: PPO) -> None:
        self.events.append("start")

    def on_rollout_start(self, trainer: PPO) -> None:
        self.events.append("rollout")

    def on_episode_end(self, trainer: PPO, episode: EpisodeRecord) -> None:
        self.episodes.append(episode)

    def on_rollout_end(self, trainer: PPO, batch: Any, episodes: list[EpisodeRecord]) -> None:
        self.events.append("rollout_end")

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        self.events.append("update")
        self.metrics.append(metrics)

    def on_checkpoint(self, trainer: PPO, path: Path) -> None:
        self.events.append("checkpoint")

    def on_training_end(self, trainer: PPO) -> None:
        self.events.append("end")


METRICS = {
    "policy_loss", "value_loss", "entropy", "approx_kl", "old_approx_kl", "clip_fraction",
    "explained_variance", "grad_norm", "steps_per_second", "episode_return_mean",
    "episode_length_mean", "success_rate", "episodes", "learning_rate", "clip_coef",
    "global_step", "iteration",
}  # fmt: skip


def test_learn_reports_metrics_through_callbacks_in_order() -> None:
    recorder = Recorder()
    trainer = make_trainer(callbacks=(recorder,))
    last = trainer.learn()
    assert trainer.iteration == 4 and trainer.global_step == 4 * 32 * 4
    assert recorder.events == ["start"] + ["rollout", "rollout_end", "update"] * 4 + ["end"]
    assert set(last) >= METRICS
    assert last == recorder.metrics[-1]
    assert sum(m["episodes"] for m in recorder.metrics) == len(recorder.episodes) > 0
    returns = [e.episode_return for e in recorder.episodes]
    assert all(r == e.length for r, e in zip(returns, recorder.episodes, strict=True))
    assert math.isnan(last["success_rate"])  # CartPole reports no success


def test_same_seed_same_parameters_and_different_seed_differs() -> None:
    first, second, other = make_trainer(seed=5), make_trainer(seed=5), make_trainer(seed=6)
    for trainer in (first, second, other):
        trainer.learn(total_steps=2 * 32 * 4)
    for a, b in zip(first.policy.parameters(), second.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first.policy.actor[0].weight, other.policy.actor[0].weight)


def test_linear_schedules_scale_every_group() -> None:
    torch.manual_seed(0)
    env = cartpole()
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    config = PPOConfig(**SMALL, lr_schedule="linear", clip_schedule="linear", learning_rate=1e-3)
    groups = [
        {"params": policy.actor.parameters()},
        {"params": policy.critic.parameters(), "lr": 1e-2, "name": "critic"},
    ]
    recorder = Recorder()
    PPO(policy, env, config, param_groups=groups, callbacks=[recorder]).learn()
    assert [m["learning_rate"] for m in recorder.metrics] == pytest.approx(
        [1e-3, 0.75e-3, 0.5e-3, 0.25e-3]
    )
    assert recorder.metrics[1]["learning_rate/critic"] == pytest.approx(0.75e-2)
    assert [m["clip_coef"] for m in recorder.metrics] == pytest.approx([0.2, 0.15, 0.1, 0.05])


def test_stop_request_ends_after_the_iteration() -> None:
    class StopAtTwo(Callback):
        def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
            if trainer.iteration == 2:
                trainer.request_stop()

    trainer = make_trainer(callbacks=(StopAtTwo(),))
    trainer.learn()
    assert trainer.iteration == 2


def test_jsonl_and_tensorboard_writers(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    jsonl = tmp_path / "metrics.jsonl"
    trainer = make_trainer(
        callbacks=(JSONLWriter(jsonl), TensorBoardWriter(tmp_path / "tb"), LoggingCallback(2))
    )
    trainer.learn()
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["iteration"] for line in lines] == [1, 2, 3, 4]
    assert set(lines[0]) >= METRICS
    assert lines[0]["success_rate"] is None  # NaN is written as null
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_text_policy_learns_the_word_game(fakes: Any) -> None:
    """An actor-critic over text (variable action counts) improves with PPO."""
    torch.manual_seed(0)
    env = gym.vector.SyncVectorEnv([fakes.WordGameEnv for _ in range(4)])
    policy = fakes.BagOfWordsPolicy()
    config = PPOConfig(
        num_steps=16, minibatch_size=32, num_epochs=4, learning_rate=0.05, ent_coef=0.0,
        total_steps=40 * 64, seed=1,
    )  # fmt: skip
    before = evaluate(policy, gym.vector.SyncVectorEnv([fakes.WordGameEnv] * 4), 40, greedy=False)
    recorder = Recorder()
    PPO(policy, env, config, callbacks=[recorder]).learn()
    after = evaluate(policy, gym.vector.SyncVectorEnv([fakes.WordGameEnv] * 4), 40, greedy=False)
    assert len(after.episodes) == 40 and all(e.success is not None for e in after.episodes)
    assert after.success_rate >= 0.95 > before.success_rate
    assert recorder.metrics[-1]["success_rate"] > recorder.metrics[0]["success_rate"]


def test_reward_scale_multiplies_learning_rewards_not_statistics() -> None:
    recorder = Recorder()
    trainer = make_trainer(callbacks=(recorder,), reward_scale=20.0)
    _, episodes = trainer.collect_rollout()
    assert trainer.buffer.rewards[trainer.buffer.valid].max() == 20.0
    assert all(e.episode_return == e.length for e in episodes)
    trainer = make_trainer(normalize_rewards=True)
    trainer.collect_rollout()
    rewards = trainer.buffer.rewards[trainer.buffer.valid]
    assert np.isfinite(rewards).all() and (rewards > 0).all() and (rewards != 1.0).any()


def test_evaluate_splits_episodes_between_envs() -> None:
    torch.manual_seed(0)
    env = cartpole(3)
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    result = evaluate(policy, env, 7)
    assert len(result.episodes) == 7
    counts = [sum(e.env_index == i for e in result.episodes) for i in range(3)]
    assert counts == [3, 2, 2]
    assert result.mean_return == pytest.approx(sum(result.returns) / 7)
    assert policy.training  # mode restored
