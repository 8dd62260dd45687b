"""Checkpoints: atomic safetensors + JSON files, and resume equal to an uninterrupted run."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch
from torch import nn

from glam_ppo import (
    PPO,
    Callback,
    CheckpointError,
    JSONLWriter,
    MLPActorCritic,
    PPOConfig,
    latest_checkpoint,
)
from glam_ppo.checkpoint import load_module_tensors, module_tensors


class DropoutMLP(MLPActorCritic):
    """Uses torch's global RNG during updates, so resuming must restore it."""

    def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
        logits, values = super().forward(observations)
        return nn.functional.dropout(logits, 0.1, self.training), values


class StopAt(Callback):
    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        if trainer.iteration == self.iteration:
            trainer.request_stop()


def make(directory: Path, init_seed: int, callbacks: tuple[Callback, ...] = ()) -> PPO:
    torch.manual_seed(init_seed)
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    config = PPOConfig(
        num_steps=32, minibatch_size=16, num_epochs=2, total_steps=6 * 64, seed=11,
        lr_schedule="linear", normalize_rewards=True, checkpoint_every=2,
        checkpoint_dir=directory, keep_checkpoints=2,
    )  # fmt: skip
    policy = DropoutMLP.for_spaces(env.single_observation_space, env.single_action_space)
    return PPO(policy, env, config, callbacks=callbacks)


def _metrics(path: Path) -> list[dict[str, Any]]:
    timing = {"rollout_seconds", "update_seconds", "steps_per_second"}
    return [
        {k: v for k, v in json.loads(line).items() if k not in timing}
        for line in path.read_text().splitlines()
    ]


def test_resume_gives_the_parameters_of_the_uninterrupted_run(tmp_path: Path) -> None:
    straight = make(tmp_path / "a", 0, (JSONLWriter(tmp_path / "a.jsonl"),))
    straight.learn()

    interrupted = make(tmp_path / "b", 0, (JSONLWriter(tmp_path / "b.jsonl"), StopAt(3)))
    interrupted.learn()  # iteration 3 is lost: the last checkpoint is iteration 2
    assert interrupted.iteration == 3
    assert latest_checkpoint(tmp_path / "b") == tmp_path / "b" / "iteration_000002"

    resumed = make(tmp_path / "b", 99, (JSONLWriter(tmp_path / "b.jsonl"),))  # other init
    torch.manual_seed(12345)  # scramble the global RNG: the checkpoint must restore it
    resumed.load_checkpoint(tmp_path / "b")
    assert resumed.iteration == 2 and resumed.global_step == 2 * 64
    resumed.learn()

    assert resumed.iteration == straight.iteration == 6
    for (name, a), b in zip(
        straight.policy.state_dict().items(), resumed.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    sa, sb = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for key, entry in sa["state"].items():
        for name, value in entry.items():
            assert torch.equal(value, sb["state"][key][name])
    assert _metrics(tmp_path / "a.jsonl") == _metrics(tmp_path / "b.jsonl")
    assert resumed.num_episodes == straight.num_episodes


def test_checkpoint_files_are_atomic_and_pruned(tmp_path: Path) -> None:
    trainer = make(tmp_path, 0)
    trainer.learn()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "iteration_000004", "iteration_000006", "latest",
    ]  # fmt: skip
    assert (tmp_path / "latest").read_text().strip() == "iteration_000006"
    files = sorted(p.name for p in (tmp_path / "iteration_000006").iterdir())
    assert files == [
        "model.safetensors", "optimizer.safetensors", "rank0.json", "rank0.safetensors",
        "state.json",
    ]  # fmt: skip
    state = json.loads((tmp_path / "iteration_000006" / "state.json").read_text())
    assert state["iteration"] == 6 and state["config"]["seed"] == 11


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = make(tmp_path, 0)
    trainer.learn(total_steps=2 * 64)

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    make(tmp_path, 1).load_checkpoint(tmp_path)


def test_load_errors_are_clear(tmp_path: Path) -> None:
    trainer = make(tmp_path / "run", 0)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        trainer.load_checkpoint(tmp_path / "nothing")
    trainer.learn(total_steps=2 * 64)
    state_path = tmp_path / "run" / "iteration_000002" / "state.json"
    state = json.loads(state_path.read_text())
    state["world_size"] = 4
    state_path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="written by 4 rank"):
        make(tmp_path / "run", 0).load_checkpoint(tmp_path / "run")
    (tmp_path / "run" / "iteration_000002" / "model.safetensors").unlink()
    state["world_size"] = 1
    state_path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"checkpoint file missing: .*model\.safetensors"):
        make(tmp_path / "run", 0).load_checkpoint(tmp_path / "run")


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight  # tied, as in language models
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)


def test_tied_weights_are_stored_once_and_restored(tmp_path: Path) -> None:
    from glam_ppo.checkpoint import load_tensors, save_tensors

    source = Tied()
    tensors, aliases = module_tensors(source, trainable_only=False)
    assert aliases == {"out.weight": "embed.weight"}
    save_tensors(tmp_path / "m.safetensors", tensors)
    target = Tied()
    load_module_tensors(target, load_tensors(tmp_path / "m.safetensors"), aliases, False)
    assert torch.equal(target.out.weight, source.embed.weight)
    assert target.out.weight is target.embed.weight
    assert torch.equal(target.frozen.weight, source.frozen.weight)


def test_trainable_only_skips_frozen_parameters(tmp_path: Path) -> None:
    source = Tied()
    tensors, aliases = module_tensors(source, trainable_only=True)
    assert set(tensors) == {"embed.weight"}
    target = Tied()
    frozen_before = target.frozen.weight.clone()
    load_module_tensors(target, tensors, aliases, trainable_only=True)
    assert torch.equal(target.embed.weight, source.embed.weight)
    assert torch.equal(target.frozen.weight, frozen_before)
    with pytest.raises(CheckpointError, match="missing trainable"):
        load_module_tensors(target, {}, {}, trainable_only=True)


class DrawsFromGlobalRng(Callback):
    """Like an evaluation in a callback that samples with torch's global generator."""

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        torch.rand(1000)


def test_training_is_independent_of_global_rng_use_between_iterations(tmp_path: Path) -> None:
    quiet = make(tmp_path / "q", 0)
    noisy = make(tmp_path / "n", 0, (DrawsFromGlobalRng(),))
    torch.manual_seed(7)
    quiet.learn(total_steps=3 * 64)
    after_training = torch.rand(3)
    noisy.learn(total_steps=3 * 64)
    for a, b in zip(quiet.policy.parameters(), noisy.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    torch.manual_seed(7)
    assert torch.equal(after_training, torch.rand(3))  # the caller's stream is untouched


def test_atomic_text_files_get_the_usual_mode_and_leave_no_temporary(tmp_path: Path) -> None:
    import os

    from glam_ppo.checkpoint import save_tensors, write_json_atomic

    umask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "state.json", {"step": 1, "loss": float("nan")})
        save_tensors(tmp_path / "model.safetensors", {"w": torch.ones(2)})
    finally:
        os.umask(umask)
    assert ((tmp_path / "model.safetensors").stat().st_mode & 0o777) == 0o644  # not 0600
    (tmp_path / "model.safetensors").unlink()
    target = tmp_path / "state.json"
    assert (target.stat().st_mode & 0o777) == 0o644
    assert json.loads(target.read_text())["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def _forbid_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle", "empty"])
def test_unreadable_tensor_files_are_checkpoint_errors_naming_the_file(
    tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glam_ppo.checkpoint import load_tensors, save_tensors

    path = tmp_path / "model.safetensors"
    save_tensors(path, {"weight": torch.arange(64, dtype=torch.float32)})
    content = {
        "truncated": path.read_bytes()[:-16],
        "garbage": b"\x07" * 200,
        "pickle": pickle.dumps({"weight": list(range(64))}),
        "empty": b"",
    }[damage]
    path.write_bytes(content)
    _forbid_unpickling(monkeypatch)
    with pytest.raises(CheckpointError) as info:
        load_tensors(path)
    assert f"checkpoint file {path} is not a readable safetensors file" in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_json_files_are_checkpoint_errors_naming_the_file(tmp_path: Path) -> None:
    from glam_ppo.checkpoint import read_json

    path = tmp_path / "state.json"
    path.write_text('{"format": "glam_ppo.checkpoint/1", "iter')
    with pytest.raises(
        CheckpointError, match=f"checkpoint file {re.escape(str(path))} is not valid JSON"
    ):
        read_json(path)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(
        CheckpointError, match=f"checkpoint file {re.escape(str(path))} is not valid JSON"
    ):
        read_json(path)
    path.write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="holds a JSON list, expected an object"):
        read_json(path)


@pytest.mark.parametrize(
    "name", ["state.json", "model.safetensors", "optimizer.safetensors", "rank0.safetensors"]
)
def test_a_damaged_checkpoint_file_stops_loading_with_its_name(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path, 0).learn(total_steps=2 * 64)
    checkpoint = tmp_path / "iteration_000002"
    damaged = checkpoint / name
    damaged.write_bytes(damaged.read_bytes()[: len(damaged.read_bytes()) // 2])
    _forbid_unpickling(monkeypatch)
    trainer = make(tmp_path, 1)
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    with pytest.raises(CheckpointError, match=re.escape(str(damaged))):
        trainer.load_checkpoint(checkpoint)
    assert trainer.iteration == 0
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters(), strict=True))


class AddsAFile(Callback):
    """Writes its own file into each checkpoint while it is still being staged."""

    def __init__(self) -> None:
        self.staged: list[Path] = []

    def on_checkpoint_staged(self, trainer: PPO, staging: Path) -> None:
        assert staging.name.startswith(".tmp-") and (staging / "state.json").is_file()
        (staging / "extra.json").write_text(json.dumps({"iteration": trainer.iteration}))
        self.staged.append(staging)


def test_files_added_while_staged_are_committed_with_the_checkpoint(tmp_path: Path) -> None:
    adds = AddsAFile()
    make(tmp_path, 0, callbacks=(adds,)).learn()
    assert [p.name for p in adds.staged] == [
        ".tmp-iteration_000002", ".tmp-iteration_000004", ".tmp-iteration_000006",
    ]  # fmt: skip
    extra = json.loads((tmp_path / "iteration_000006" / "extra.json").read_text())
    assert extra == {"iteration": 6}
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())
