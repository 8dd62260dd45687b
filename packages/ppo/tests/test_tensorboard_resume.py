"""On resume, TensorBoard drops the points of lost updates and keeps the checkpoint's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from glam_ppo import TensorBoardWriter

pytest.importorskip("tensorboard")


def _points(log_dir: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [(e.step, round(e.value, 3)) for e in events.Scalars("rollout/episode_return_mean")]


def _segment(log_dir: Path, start_step: int, points: list[tuple[int, float]]) -> None:
    trainer = SimpleNamespace(is_main_process=True, global_step=start_step)
    writer = TensorBoardWriter(log_dir)
    writer.on_training_start(trainer)  # type: ignore[arg-type]
    for step, value in points:
        metrics = {"global_step": float(step), "episode_return_mean": value}
        writer.on_update_end(trainer, metrics)  # type: ignore[arg-type]
    writer.on_training_end(trainer)  # type: ignore[arg-type]


def test_resume_keeps_the_checkpoint_step_and_drops_later_points(tmp_path: Path) -> None:
    # A run wrote updates at 8, 16, 24, then died; its last checkpoint was at 16.
    _segment(tmp_path, 0, [(8, 0.1), (16, 0.2), (24, 0.9)])
    # The resumed run starts at 16 and writes 24 anew.
    _segment(tmp_path, 16, [(24, 0.3)])
    assert _points(tmp_path) == [(8, 0.1), (16, 0.2), (24, 0.3)]


def test_tags_are_namespaced_as_the_ecosystem_does(tmp_path: Path) -> None:
    """``train/`` for the update, ``rollout/`` for acting; every PPO metric is mapped."""
    import gymnasium as gym
    import torch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from glam_ppo import PPO, Callback, MLPActorCritic, PPOConfig
    from glam_ppo.callbacks import TENSORBOARD_NAMESPACES, tensorboard_tag

    class Keys(Callback):
        def __init__(self) -> None:
            self.seen: set[str] = set()

        def on_update_end(self, trainer: object, metrics: dict[str, float]) -> None:
            self.seen.update(metrics)

    torch.manual_seed(0)
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    config = PPOConfig(num_steps=64, minibatch_size=64, num_epochs=1, total_steps=256, seed=0)
    keys = Keys()
    PPO(policy, env, config, callbacks=[TensorBoardWriter(tmp_path), keys]).learn()

    unmapped = {k.split("/")[0] for k in keys.seen} - set(TENSORBOARD_NAMESPACES) - {"global_step"}
    assert not unmapped  # a new metric must choose its namespace
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/policy_loss", "train/entropy", "train/approx_kl", "train/clip_fraction"} <= tags
    assert {"train/learning_rate", "rollout/episode_return_mean"} <= tags
    assert "rollout/steps_per_second" in tags
    assert all(tag.split("/")[0] in ("train", "rollout") for tag in tags)
    assert "global_step" not in tags and "train/global_step" not in tags
    assert tensorboard_tag("learning_rate/head") == "train/learning_rate/head"
    assert tensorboard_tag("success_rate") == "rollout/success_rate"
    assert tensorboard_tag("something_new") == "train/something_new"
