"""SymbolicActorCritic: shapes, determinism, learning, and PPO on a fake Dict-of-Box env.

No glam_env here: the observations are built by hand with the keys and ranges
of symbolic BabyAI observations (a 7x7x3 grid, a direction, padded word ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from torch.nn import functional as F

from glam_ppo import PPO, ActorCriticPolicy, PPOConfig, ValuePredictor, evaluate
from glam_ppo.networks import (
    DIRECTION_KEY,
    IMAGE_HISTORY_KEY,
    IMAGE_KEY,
    MISSION_KEY,
    SymbolicActorCritic,
    SymbolicNetworkConfig,
)

VIEW, WORDS, VOCAB, ACTIONS = 7, 6, 10, 3
HIGH = np.array([10, 5, 2], dtype=np.uint8)
TINY = SymbolicNetworkConfig(
    cell_embedding_dim=8,
    conv_channels=16,
    num_film_layers=1,
    word_embedding_dim=8,
    instruction_dim=16,
    direction_embedding_dim=4,
    head_hidden_size=32,
)


def _space(frames: int = 1) -> spaces.Dict:
    high = np.broadcast_to(HIGH, (VIEW, VIEW, 3))
    entries: dict[str, spaces.Space[Any]] = {
        IMAGE_KEY: spaces.Box(0, high, dtype=np.uint8),
        DIRECTION_KEY: spaces.Discrete(4),
        MISSION_KEY: spaces.Box(0, VOCAB - 1, (WORDS,), dtype=np.int64),
    }
    if frames > 1:
        entries[IMAGE_HISTORY_KEY] = spaces.Box(
            0, np.broadcast_to(high, (frames, *high.shape)), dtype=np.uint8
        )
    return spaces.Dict(entries)


def _observations(rng: np.random.Generator, batch: int, frames: int = 1) -> list[dict[str, Any]]:
    rows = []
    for _ in range(batch):
        length = int(rng.integers(1, WORDS + 1))
        mission = np.zeros(WORDS, dtype=np.int64)
        mission[:length] = rng.integers(2, VOCAB, size=length)
        image = (rng.integers(0, 256, size=(VIEW, VIEW, 3)) % (HIGH + 1)).astype(np.uint8)
        row = {IMAGE_KEY: image, DIRECTION_KEY: int(rng.integers(4)), MISSION_KEY: mission}
        if frames > 1:
            row[IMAGE_HISTORY_KEY] = np.stack([image] * frames)
        rows.append(row)
    return rows


def test_shapes_protocols_and_spaces() -> None:
    torch.manual_seed(0)
    policy = SymbolicActorCritic.for_spaces(_space(), spaces.Discrete(ACTIONS), TINY)
    assert isinstance(policy, ActorCriticPolicy) and isinstance(policy, ValuePredictor)
    assert policy.cell_values == (11, 6, 3) and policy.vocab_size == VOCAB
    rows = _observations(np.random.default_rng(0), 5)
    logits, values = policy(rows)
    assert logits.shape == (5, ACTIONS) and values.shape == (5,)
    assert logits.dtype == values.dtype == torch.float32
    torch.testing.assert_close(policy.predict_values(rows), values)
    # Nearly uniform first policy (0.01 gain on the policy head).
    probs = torch.softmax(logits, -1)
    assert torch.allclose(probs, torch.full_like(probs, 1 / ACTIONS), atol=0.02)
    # A dict of batched arrays (a vector env's own observation) gives the same answer.
    batched = {key: np.stack([row[key] for row in rows]) for key in rows[0]}
    torch.testing.assert_close(policy(batched)[0], logits)


def test_frame_history_is_read_when_the_space_has_it() -> None:
    torch.manual_seed(0)
    policy = SymbolicActorCritic.for_spaces(_space(frames=3), spaces.Discrete(ACTIONS), TINY)
    assert policy.num_frames == 3
    logits, _ = policy(_observations(np.random.default_rng(1), 4, frames=3))
    assert logits.shape == (4, ACTIONS)
    single = TINY.model_copy(update={"use_image_history": False})
    assert SymbolicActorCritic.for_spaces(_space(3), spaces.Discrete(3), single).num_frames == 1


def test_padding_does_not_change_the_mission_encoding() -> None:
    torch.manual_seed(0)
    policy = SymbolicActorCritic(ACTIONS, VOCAB, TINY)
    short = torch.tensor([[4, 5, 6, 0, 0, 0]])
    with torch.no_grad():
        padded = policy.encode_mission(short)
        trimmed = policy.encode_mission(short[:, :3])
    torch.testing.assert_close(padded, trimmed)


def test_deterministic_given_the_torch_seed() -> None:
    rows = _observations(np.random.default_rng(2), 6)
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        policy = SymbolicActorCritic(ACTIONS, VOCAB, TINY)
        outputs.append(policy(rows))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    torch.manual_seed(124)
    other = SymbolicActorCritic(ACTIONS, VOCAB, TINY)(rows)[0]
    assert not torch.equal(other, outputs[0][0])


def test_bad_inputs_fail_clearly() -> None:
    policy = SymbolicActorCritic(ACTIONS, VOCAB, TINY)
    rows = _observations(np.random.default_rng(3), 2)
    rows[0][MISSION_KEY] = rows[0][MISSION_KEY] + VOCAB
    with pytest.raises(ValueError, match="word ids outside"):
        policy(rows)
    with pytest.raises(ValueError, match="lacks"):
        SymbolicActorCritic.for_spaces(
            spaces.Dict({IMAGE_KEY: _space()[IMAGE_KEY]}), spaces.Discrete(2)
        )
    with pytest.raises(TypeError, match="list of per-env dicts"):
        policy(np.zeros((2, 7, 7, 3)))


def _task(rng: np.random.Generator, batch: int) -> tuple[list[dict[str, Any]], torch.Tensor]:
    """Four actions: 2 x (mission names a ball) + (a key lies in front of the agent).

    The mission's first word names a key (even id) or a ball (odd id); the cell
    in front of the agent (column 3, row 5 of the view) holds a key or a ball,
    among random objects everywhere else. Both the mission and where things are
    in the grid decide the action.
    """
    rows = _observations(rng, batch)
    targets = []
    for row in rows:
        front = 5 + int(rng.integers(2))  # key 5 or ball 6
        row[IMAGE_KEY][3, 5, 0] = front
        targets.append(2 * int(row[MISSION_KEY][0] % 2) + int(front == 5))
    return rows, torch.tensor(targets)


@pytest.mark.slow
def test_learns_a_task_needing_grid_and_mission() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(4)
    policy = SymbolicActorCritic(4, VOCAB, TINY)
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(250):
        rows, target = _task(rng, 32)
        loss = F.cross_entropy(policy(rows)[0], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test, target = _task(np.random.default_rng(99), 256)
    with torch.no_grad():
        logits, _ = policy(test)
    assert (logits.argmax(-1) == target).float().mean() > 0.95


class FakeSymbolicEnv(gym.Env):
    """Dict-of-Box observations; reward 1 for the action the mission's first word names."""

    def __init__(self, length: int = 4) -> None:
        self.observation_space = _space()
        self.action_space = spaces.Discrete(ACTIONS)
        self.length = length
        self._t = 0
        self._obs: dict[str, Any] = {}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self._obs = _observations(self.np_random, 1)[0]
        return self._obs, {}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        self._t += 1
        right = int(action) == int(self._obs[MISSION_KEY][0]) % ACTIONS
        terminated = right
        truncated = not right and self._t >= self.length
        info = {"success": right} if terminated or truncated else {}
        self._obs = _observations(self.np_random, 1)[0] | {MISSION_KEY: self._obs[MISSION_KEY]}
        return self._obs, float(right), terminated, truncated, info


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_trains_in_glam_ppo_for_two_iterations(mode: AutoresetMode) -> None:
    envs = SyncVectorEnv([FakeSymbolicEnv for _ in range(2)], autoreset_mode=mode)
    torch.manual_seed(0)
    policy = SymbolicActorCritic.for_spaces(
        envs.single_observation_space, envs.single_action_space, TINY
    )
    config = PPOConfig(total_steps=32, num_steps=8, minibatch_size=8, num_epochs=2, seed=0)
    before = [p.detach().clone() for p in policy.parameters()]
    trainer = PPO(policy, envs, config)
    metrics = trainer.learn()
    assert trainer.iteration == 2 and trainer.global_step == 32
    assert all(np.isfinite(metrics[k]) for k in ("policy_loss", "value_loss", "entropy"))
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))
    result = evaluate(policy, envs, 4)
    assert len(result.episodes) == 4
    envs.close()


def test_a_saved_symbolic_policy_loads_identical_and_refuses_damage(tmp_path: Path) -> None:
    from glam_ppo.errors import CheckpointError
    from glam_ppo.networks import load_symbolic_policy, save_symbolic_policy

    torch.manual_seed(0)
    policy = SymbolicActorCritic(6, 20, num_frames=2)
    save_symbolic_policy(policy, tmp_path / "p", extra={"env": {"history_length": 2}})
    loaded, extra = load_symbolic_policy(tmp_path / "p")
    assert extra == {"env": {"history_length": 2}}
    state, loaded_state = policy.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    for name in state:
        assert torch.equal(state[name], loaded_state[name]), name
    (tmp_path / "p" / "symbolic_policy.safetensors").write_bytes(b"not tensors")
    with pytest.raises(CheckpointError, match=r"symbolic_policy\.safetensors"):
        load_symbolic_policy(tmp_path / "p")
