"""Episodes in progress saved by replay: checkpoints no longer change training."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from glam_ppo import PPO, Callback, MLPActorCritic, PPOConfig
from glam_ppo.episode_replay import (
    EpisodeReplay,
    EpisodeReplayError,
    restore_vector_replay,
    supports_replay,
    vector_replay_states,
)


def _cartpole() -> gym.Env[Any, Any]:
    return EpisodeReplay(gym.make("CartPole-v1"))


def _vector(
    num_envs: int = 2, mode: AutoresetMode = AutoresetMode.SAME_STEP, asynchronous: bool = False
) -> Any:
    fns = [_cartpole for _ in range(num_envs)]
    if asynchronous:
        return AsyncVectorEnv(fns, autoreset_mode=mode)
    return SyncVectorEnv(fns, autoreset_mode=mode)


def _play(env: gym.Env[Any, Any], actions: list[int]) -> Any:
    obs = None
    for action in actions:
        obs, *_ = env.step(action)
    return obs


def test_a_replayed_episode_continues_like_the_original() -> None:
    env = _cartpole()
    env.reset(seed=3)
    _play(env, [0, 1, 1, 0])
    env.reset()  # an unseeded reset: the generator's state is what must be saved
    _play(env, [1, 1, 0])
    state = json.loads(json.dumps(env.episode_replay_state))  # JSON data, nothing else
    assert state["start"]["seed"] is None and state["actions"] == [1, 1, 0]

    copy = _cartpole()
    copy.episode_replay_state = state
    assert copy.episode_replay_error is None
    np.testing.assert_array_equal(copy.episode_replay_observation, env.episode_replay_observation)
    for action in [0, 0, 1, 0, 1]:
        a, b = env.step(action), copy.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
    env.reset()
    copy.reset()  # the generators agree too
    np.testing.assert_array_equal(env.episode_replay_observation, copy.episode_replay_observation)


class Drifting(gym.Wrapper[Any, Any, Any, Any]):
    """Draws from a generator that is not the env's: replay cannot reproduce it."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.other = np.random.default_rng()

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs + self.other.random(), reward, terminated, truncated, info


def test_a_replay_that_does_not_reproduce_the_episode_is_refused() -> None:
    env = EpisodeReplay(Drifting(gym.make("CartPole-v1")))
    env.reset(seed=1)
    _play(env, [0, 1])
    state = env.episode_replay_state
    copy = EpisodeReplay(Drifting(gym.make("CartPole-v1")))
    copy.episode_replay_state = state  # never raises inside the env (async workers)
    assert "not deterministic" in (copy.episode_replay_error or "")
    with pytest.raises(EpisodeReplayError, match="not deterministic"):
        copy.replay(state)
    copy.episode_replay_state = {"format": 1, "start": {}}
    assert "malformed" in (copy.episode_replay_error or "")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_vector_envs_save_and_restore_their_episodes(asynchronous: bool) -> None:
    env = _vector(asynchronous=asynchronous)
    assert supports_replay(env) and vector_replay_states(env) is None  # not reset yet
    env.reset(seed=[5, 6])
    rng = np.random.default_rng(0)
    for _ in range(30):
        env.step(rng.integers(0, 2, size=2))
    states = vector_replay_states(env)
    assert states is not None
    copy = _vector(asynchronous=asynchronous)
    observations = restore_vector_replay(copy, states)
    actions = [rng.integers(0, 2, size=2) for _ in range(40)]
    expected = [env.step(a) for a in actions]
    got = [copy.step(a) for a in actions]
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert len(observations) == 2
    with pytest.raises(EpisodeReplayError, match="3 environments"):
        restore_vector_replay(copy, [*states, states[0]])
    env.close()
    copy.close()
    assert not supports_replay(gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync"))


def test_an_ended_episode_resets_at_the_next_step_under_next_step_autoreset() -> None:
    env = _vector(num_envs=1, mode=AutoresetMode.NEXT_STEP)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(np.array([0]))
        done = bool(terminated[0] or truncated[0])
    states = vector_replay_states(env)
    assert states is not None and states[0]["ended"]
    copy = _vector(num_envs=1, mode=AutoresetMode.NEXT_STEP)
    restore_vector_replay(copy, states)
    for _ in range(5):
        a, b = env.step(np.array([1])), copy.step(np.array([1]))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[2], b[2])


def _trainer(
    directory: Path,
    checkpoint_every: int | None,
    fakes: Any = None,
    replay: bool = True,
) -> PPO:
    """PPO on CartPole, or on the fake word game when ``fakes`` is given."""
    torch.manual_seed(0)
    wrap = EpisodeReplay if replay else (lambda env: env)
    if fakes is not None:
        fns = [lambda: wrap(fakes.WordGameEnv(max_steps=5)) for _ in range(3)]
        env = SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
        policy: Any = fakes.BagOfWordsPolicy()
    else:
        fns = [lambda: wrap(gym.make("CartPole-v1")) for _ in range(2)]
        env = SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
        policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    config = PPOConfig(
        num_steps=24, minibatch_size=24, num_epochs=2, total_steps=6 * 24 * env.num_envs,
        seed=3, normalize_rewards=True, checkpoint_every=checkpoint_every,
        checkpoint_dir=directory,
    )  # fmt: skip
    return PPO(policy, env, config)


def _parameters(trainer: PPO) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.policy.parameters()]


@pytest.mark.parametrize("text", [False, True], ids=["cartpole", "text"])
def test_checkpointing_every_iteration_does_not_change_training(
    tmp_path: Path, text: bool, fakes: Any
) -> None:
    game = fakes if text else None
    never = _trainer(tmp_path / "never", None, game)
    never.learn()
    every = _trainer(tmp_path / "every", 1, game)
    every.learn()
    for a, b in zip(_parameters(never), _parameters(every), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


class StopAt(Callback):
    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        if trainer.iteration == self.iteration:
            trainer.request_stop()


def test_a_stop_at_any_iteration_resumes_exactly(tmp_path: Path) -> None:
    straight = _trainer(tmp_path / "straight", None)
    straight.learn()
    for stop in (1, 4):
        stopped = _trainer(tmp_path / f"stop{stop}", None)
        stopped.callbacks.callbacks.append(StopAt(stop))
        stopped.learn()
        stopped.save_checkpoint()  # what glam train does on SIGTERM / Ctrl-C
        resumed = _trainer(tmp_path / f"stop{stop}", None)
        resumed.load_checkpoint(tmp_path / f"stop{stop}")
        resumed.learn()
        for a, b in zip(_parameters(straight), _parameters(resumed), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_unsaveable_envs_fall_back_to_resets_and_say_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = _trainer(tmp_path / "plain", 2, replay=False)
    plain.learn(2 * plain.steps_per_iteration)
    state = json.loads((tmp_path / "plain" / "iteration_000002" / "rank0.json").read_text())
    assert state["episodes"] is None  # nothing to save: the envs reset after the checkpoint
    assert plain.collector.needs_reset

    saved = _trainer(tmp_path / "saved", 2)
    saved.learn(2 * saved.steps_per_iteration)
    assert not saved.collector.needs_reset
    loader = _trainer(tmp_path / "saved", None, replay=False)
    with caplog.at_level(logging.WARNING):
        loader.load_checkpoint(tmp_path / "saved")
    assert loader.collector.needs_reset
    assert "not wrapped in EpisodeReplay" in caplog.text and "not exact" in caplog.text
