"""DRRN: hand-computed Q-update, masking, bootstrapping, checkpoints, seeds, learning.

A tiny text game written here (no glam_env): the observation names a word and the
admissible actions are 2 to 4 "say <word>" strings in random order; saying the
word ends the episode with reward 1 (terminated, success), anything else
continues, and the third step is truncated.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from glam_ppo import evaluate
from glam_ppo.drrn import (
    DRRN,
    FIELD_SEPARATOR,
    DRRNConfig,
    DRRNNetwork,
    DRRNPolicy,
    ReplayBuffer,
    WordTokenizer,
    encode_batch,
    masked_max,
    q_learning_step,
    q_loss,
    state_text,
    td_targets,
)
from glam_ppo.policy import ActorCriticPolicy, check_output

WORDS = ("apple", "river", "stone", "cloud", "tiger", "piano")


class SayTheWordEnv(gym.Env):
    """Say the word the observation names; 2-4 admissible actions, at most 3 steps."""

    def __init__(self, max_steps: int = 3) -> None:
        text = spaces.Text(64, charset="abcdefghijklmnopqrstuvwxyz0123456789 ")
        self.observation_space = spaces.Dict(
            {"mission": text, "observation": text, "admissible_actions": spaces.Sequence(text)}
        )
        self.action_space = spaces.Discrete(4)
        self.max_steps = max_steps
        self._steps = 0
        self._word = ""
        self._actions: tuple[str, ...] = ()

    def _obs(self) -> dict[str, Any]:
        return {
            "mission": "say the word",
            "observation": f"the word is {self._word} step {self._steps}",
            "admissible_actions": self._actions,
        }

    def _draw(self) -> None:
        self._word = str(self.np_random.choice(WORDS))
        count = int(self.np_random.integers(2, 5))
        others = [w for w in WORDS if w != self._word]
        picks = [str(w) for w in self.np_random.choice(others, size=count - 1, replace=False)]
        picks.insert(int(self.np_random.integers(0, count)), self._word)
        self._actions = tuple(f"say {w}" for w in picks)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        self._draw()
        return self._obs(), {}

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        won = self._actions[action] == f"say {self._word}"
        self._steps += 1
        truncated = not won and self._steps >= self.max_steps
        if not won:
            self._draw()
        info = {"success": won} if won or truncated else {}
        return self._obs(), float(won), won, truncated, info


def make_env(num_envs: int = 2) -> SyncVectorEnv:
    return SyncVectorEnv(
        [SayTheWordEnv for _ in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP
    )


def small_config(**overrides: Any) -> DRRNConfig:
    values: dict[str, Any] = {
        "total_steps": 64,
        "num_steps": 4,
        "embedding_dim": 8,
        "hidden_size": 16,
        "max_words": 64,
        "batch_size": 8,
        "replay_capacity": 40,
        "learning_starts": 8,
        "train_every": 2,
        "target_update_every": 16,
        "learning_rate": 1e-3,
    }
    values.update(overrides)
    return DRRNConfig(**values)


def zero_network(bias: float) -> DRRNNetwork:
    """Q(s, a) = ``bias`` for every pair: every weight after the encoders is zero."""
    network = DRRNNetwork(table_size=10, embedding_dim=4, hidden_size=3)
    with torch.no_grad():
        network.hidden.weight.zero_()
        network.hidden.bias.zero_()
        network.out.weight.zero_()
        network.out.bias.fill_(bias)
    return network


def parameters(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# --- the update, by hand ------------------------------------------------------------


def test_td_targets_by_hand() -> None:
    inf = float("-inf")
    rewards = torch.tensor([1.0, 0.0, 0.5, 2.0])
    terminated = torch.tensor([False, True, False, True])
    next_q = torch.tensor([[1.0, 2.0, inf], [5.0, 5.0, 5.0], [inf, inf, inf], [inf, inf, inf]])
    targets = td_targets(rewards, terminated, next_q, gamma=0.9)
    # 1 + 0.9 * 2; terminated: r alone; no next action: value 0; terminated and no action.
    assert torch.allclose(targets, torch.tensor([2.8, 0.0, 0.5, 2.0]))
    assert torch.isfinite(targets).all()


def test_q_learning_step_by_hand() -> None:
    """Online Q = 0.5 everywhere, target Q = 2: targets, Huber loss, clipped Adam step."""
    network, target = zero_network(0.5), zero_network(2.0)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    tokenizer = WordTokenizer(7)
    tokenizer.add(["a b c", "x y"])
    states = ["a b", "c", "b a c"]
    actions = [("x",), ("x", "y"), ("y",)]
    batch = encode_batch(tokenizer, states, actions, 16)
    next_batch = encode_batch(tokenizer, ["c", "a", "b"], [("x", "y"), ("y",), ("x",)], 16)
    stats = q_learning_step(
        network,
        target,
        optimizer,
        batch,
        next_batch,
        actions=torch.tensor([0, 1, 0]),
        rewards=torch.tensor([1.0, 0.0, 0.5]),
        terminated=torch.tensor([False, True, False]),
        gamma=0.9,
        loss_kind="huber",
        max_grad_norm=0.1,
    )
    # targets: 1 + 0.9*2 = 2.8, 0 (terminated), 0.5 + 0.9*2 = 2.3; Q = 0.5
    # errors -2.3, 0.5, -1.8 -> Huber 1.8, 0.125, 1.3 -> mean 1.075
    assert stats["loss"] == pytest.approx(1.075, abs=1e-6)
    assert stats["target_mean"] == pytest.approx((2.8 + 0.0 + 2.3) / 3, abs=1e-6)
    # dLoss/dbias = (-1 + 0.5 - 1) / 3 = -0.5, the only non-zero gradient; clipped to norm 0.1
    assert stats["grad_norm"] == pytest.approx(0.5, abs=1e-6)
    assert network.out.bias.grad is not None
    assert network.out.bias.grad.item() == pytest.approx(-0.1, abs=1e-6)
    # Adam's first step moves by lr * g / (|g| + eps) = lr against the gradient
    assert network.out.bias.item() == pytest.approx(0.51, abs=1e-6)
    assert torch.equal(network.hidden.weight, torch.zeros_like(network.hidden.weight))
    assert target.out.bias.item() == 2.0  # the target network is not trained


def test_mse_loss_by_hand() -> None:
    q = torch.tensor([0.5, 0.5, 0.5])
    targets = torch.tensor([2.8, 0.0, 2.3])
    assert q_loss(q, targets, "mse").item() == pytest.approx((2.3**2 + 0.5**2 + 1.8**2) / 3)
    assert q_loss(q, targets, "huber").item() == pytest.approx(1.075)


# --- masking ------------------------------------------------------------------------


def test_variable_action_counts_are_masked_and_rows_independent() -> None:
    torch.manual_seed(0)
    policy = DRRNPolicy.from_config(small_config())
    observations = [
        {"mission": "say it", "observation": "apple", "admissible_actions": ("say apple",)},
        {
            "mission": "say it",
            "observation": "the word is river",
            "admissible_actions": ("say stone", "say river", "say tiger"),
        },
        {"mission": "", "observation": "", "admissible_actions": ("say cloud", "say apple")},
    ]
    policy.observe(observations)
    assert isinstance(policy, ActorCriticPolicy)
    policy.eval()
    with torch.no_grad():
        logits, values = policy(observations)
        check_output(logits, values, 3)
        assert logits.shape == (3, 3)
        finite = torch.isfinite(logits)
        assert finite.tolist() == [[True, False, False], [True, True, True], [True, True, False]]
        assert torch.equal(values, logits.masked_fill(~finite, -1e9).max(dim=1).values)
        for i, obs in enumerate(observations):  # a row does not depend on its batch
            alone, _ = policy([obs])
            count = len(obs["admissible_actions"])
            assert torch.allclose(alone[0, :count], logits[i, :count], atol=1e-6)
    empty = torch.full((1, 2), float("-inf"))
    assert masked_max(empty).item() == 0.0


def test_state_text_and_tokenizer() -> None:
    obs = {"mission": "Go to the RED ball", "observation_history": ("a, b", "c"), "x": "y"}
    text = state_text(obs, ("mission", "observation_history"))
    assert text == FIELD_SEPARATOR.join(["Go to the RED ball", "a, b", "c"])
    tokenizer = WordTokenizer(max_words=6)
    assert tokenizer.encode(text)[0] == 1  # unknown before add(): encoding never grows
    tokenizer.add([text])
    assert tokenizer.words == ["go", "to", "the", "red", "ball", "a"]  # order seen, capped
    assert tokenizer.encode(text) == (3, 4, 5, 6, 7, 2, 8, 1, 2, 1)  # <sep> 2, b c: <unk>
    restored = WordTokenizer(max_words=6)
    restored.load_state_dict(tokenizer.state_dict())
    assert restored.encode(text) == tokenizer.encode(text)
    with pytest.raises(KeyError, match="state_keys"):
        state_text(obs, ("observation",))


def test_replay_round_trip_after_wrapping() -> None:
    replay = ReplayBuffer(3)
    for i in range(5):
        replay.add(f"s{i}", ("a", "b"), i % 2, float(i), f"s{i + 1}", ("a",), i == 4)
    tensors, data = replay.state_dict()
    assert len(data["texts"]) == 4  # s2..s5, each stored once
    copy = ReplayBuffer(3)
    copy.load_state_dict(tensors, data)
    a, b = replay.get(np.arange(3)), copy.get(np.arange(3))
    assert a.states == b.states == ["s3", "s4", "s2"]
    assert a.next_actions == b.next_actions
    assert np.array_equal(a.reward, b.reward) and np.array_equal(a.terminated, b.terminated)
    assert copy.position == replay.position == 2


# --- the trainer --------------------------------------------------------------------


def test_truncation_bootstraps_and_termination_does_not() -> None:
    # Never learn; random play fills the replay buffer with both kinds of endings.
    config = small_config(learning_starts=10_000, replay_capacity=200, epsilon_end=1.0)
    trainer = DRRN(make_env(2), config)
    trainer.learn(64)
    batch = trainer.replay.get(np.arange(len(trainer.replay)))
    ends = {"terminated": 0, "truncated": 0}
    for i in range(len(trainer.replay)):
        won = batch.actions[i][batch.action[i]] == "say " + batch.states[i].split()[-3]
        assert batch.terminated[i] == won and batch.reward[i] == float(won)
        if "step 2" in batch.states[i] and not won:
            # truncated: stored as not terminated, and s' is the real final observation
            # (info["final_obs"], "step 3"), not the next episode's first ("step 0")
            assert batch.next_states[i].endswith("step 3")
            ends["truncated"] += 1
        ends["terminated"] += won
    assert ends["truncated"] > 0 and ends["terminated"] > 0


def test_checkpoint_resume_is_exact(tmp_path: Path) -> None:
    config = small_config(checkpoint_every=4, checkpoint_dir=tmp_path / "a")
    straight = DRRN(make_env(), config)
    straight.learn()  # 8 iterations, checkpoints after 4 and 8
    assert straight.iteration == 8 and straight.num_updates > 0
    resumed = DRRN(make_env(), config.model_copy(update={"checkpoint_dir": tmp_path / "b"}))
    resumed.load_checkpoint(tmp_path / "a" / "iteration_000004")
    assert resumed.iteration == 4 and resumed.global_step == 32
    resumed.learn()
    assert resumed.global_step == straight.global_step == 64
    assert resumed.num_updates == straight.num_updates
    assert_same(parameters(straight.policy), parameters(resumed.policy))
    assert_same(parameters(straight.target_network), parameters(resumed.target_network))
    assert resumed.policy.tokenizer.words == straight.policy.tokenizer.words
    assert resumed.replay.state_dict()[1] == straight.replay.state_dict()[1]
    state_a = straight.optimizer.state_dict()["state"]
    state_b = resumed.optimizer.state_dict()["state"]
    for key in state_a:
        assert torch.equal(state_a[key]["exp_avg"], state_b[key]["exp_avg"])
    # the root's "latest" pointer resolves, and a checkpoint holds no pickle
    assert resumed.load_checkpoint(tmp_path / "b").name == "iteration_000008"
    files = {p.name for p in (tmp_path / "a" / "iteration_000008").iterdir()}
    assert all(name.endswith((".json", ".safetensors")) for name in files)


def test_same_seed_same_run_other_seed_other_run() -> None:
    runs = []
    for seed in (3, 3, 4):
        trainer = DRRN(make_env(), small_config(seed=seed, total_steps=32))
        metrics = trainer.learn()
        runs.append((parameters(trainer.policy), metrics["episodes_total"], trainer.num_updates))
    assert_same(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]
    assert not torch.equal(runs[0][0]["network.out.weight"], runs[2][0]["network.out.weight"])


def test_metrics_and_glam_ppo_evaluation() -> None:
    seen: list[dict[str, float]] = []

    class Collect:
        def __getattr__(self, name: str) -> Any:
            return lambda *args: seen.append(args[1]) if name == "on_update_end" else None

    trainer = DRRN(make_env(), small_config(total_steps=16), callbacks=[Collect()])  # type: ignore[list-item]
    trainer.learn()
    assert len(seen) == 2 and seen[-1]["global_step"] == 16.0
    for key in ("episode_return_mean", "success_rate", "episodes", "loss", "epsilon"):
        assert key in seen[-1]
    result = evaluate(trainer.policy, make_env(), 4, seed=0)
    assert len(result.episodes) == 4
    obs, _ = make_env().reset(seed=0)
    actions = trainer.act(obs)
    assert actions.shape == (2,) and (actions >= 0).all()


def test_learns_to_say_the_word() -> None:
    config = small_config(
        total_steps=600,
        num_steps=50,
        gamma=0.5,
        learning_rate=3e-3,
        batch_size=32,
        replay_capacity=2_000,
        learning_starts=100,
        train_every=2,
        target_update_every=100,
        exploration_fraction=0.5,
        embedding_dim=16,
        hidden_size=32,
    )
    trainer = DRRN(make_env(4), config)
    trainer.learn()
    result = evaluate(trainer.policy, make_env(4), 100, seed=1234)
    # random play says the word first time 1/3 of the time on average
    assert result.success_rate >= 0.9, result.success_rate
    assert result.mean_length < 1.2
    assert not math.isnan(result.mean_return)


def test_checkpointing_every_iteration_does_not_change_drrn_training(tmp_path: Path) -> None:
    """With EpisodeReplay-wrapped envs the running episodes are saved, not cut."""
    from glam_ppo import EpisodeReplay

    def replayable_env() -> SyncVectorEnv:
        fns = [lambda: EpisodeReplay(SayTheWordEnv()) for _ in range(2)]
        return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)

    never = DRRN(replayable_env(), small_config())
    never.learn()
    every = DRRN(replayable_env(), small_config(checkpoint_every=1, checkpoint_dir=tmp_path / "a"))
    every.learn()
    assert_same(parameters(never.policy), parameters(every.policy))
    from glam_ppo import Callback

    class StopAfter3(Callback):
        def on_update_end(self, trainer: Any, metrics: dict[str, float]) -> None:
            if trainer.iteration == 3:
                trainer.request_stop()

    stopped = DRRN(
        replayable_env(), small_config(checkpoint_dir=tmp_path / "b"), callbacks=[StopAfter3()]
    )
    stopped.learn()
    stopped.save_checkpoint()  # between scheduled checkpoints, as a Ctrl-C would
    resumed = DRRN(replayable_env(), small_config())
    resumed.load_checkpoint(tmp_path / "b")
    resumed.learn()
    assert_same(parameters(never.policy), parameters(resumed.policy))
