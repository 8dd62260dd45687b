"""Small fake environments and policies shared by the tests (no glam_env import).

* ``WordGameEnv``: a text game speaking the text-game protocol's observation shape
  (a ``Dict`` of ``Text`` spaces with a variable tuple of admissible actions); the
  mission names the winning action.
* ``CounterEnv``: a ``Box`` observation ``[t]`` that ends after ``length`` steps,
  terminated or truncated, with reward 1 per step: advantages are predictable.
* ``BagOfWordsPolicy``: scores each admissible action's words against the
  mission's words; an actor-critic over text with a variable action count.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

WORDS = ("red", "green", "blue", "ball", "key", "box", "door", "left")


class WordGameEnv(gym.Env):
    """Pick the action the mission names; 2 to 4 admissible actions per step.

    Choosing it ends the episode with reward 1 and ``info["success"] = True``; a
    wrong choice gives 0 and continues; after ``max_steps`` the episode is
    truncated with ``success = False``.
    """

    def __init__(self, max_steps: int = 3) -> None:
        text = spaces.Text(64, charset="abcdefghijklmnopqrstuvwxyz ")
        self.observation_space = spaces.Dict(
            {"mission": text, "observation": text, "admissible_actions": spaces.Sequence(text)}
        )
        self.action_space = spaces.Discrete(4)
        self.max_steps = max_steps
        self._steps = 0
        self._target = ""
        self._actions: tuple[str, ...] = ()

    def _draw_actions(self) -> None:
        count = int(self.np_random.integers(2, 5))
        others = [w for w in WORDS if w != self._target]
        picks = list(self.np_random.choice(others, size=count - 1, replace=False))
        position = int(self.np_random.integers(0, count))
        picks.insert(position, self._target)
        self._actions = tuple(f"take {w}" for w in picks)

    def _obs(self) -> dict[str, Any]:
        return {
            "mission": f"take the {self._target}",
            "observation": f"step {self._steps}",
            "admissible_actions": self._actions,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        self._target = str(self.np_random.choice(WORDS))
        self._draw_actions()
        return self._obs(), {"admissible_actions": list(self._actions)}

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if not 0 <= action < len(self._actions):
            raise ValueError(f"action {action} out of range for {self._actions}")
        self._steps += 1
        won = self._actions[action] == f"take {self._target}"
        truncated = not won and self._steps >= self.max_steps
        info: dict[str, Any] = {}
        if won or truncated:
            info["success"] = won
        self._draw_actions()
        return self._obs(), float(won), won, truncated, info


class CounterEnv(gym.Env):
    """Observation ``[t]``; reward 1 per step; ends after ``length`` steps."""

    def __init__(self, length: int = 3, terminate: bool = False) -> None:
        self.observation_space = spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.length = length
        self.terminate = terminate
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        done = self._t >= self.length
        obs = np.array([float(self._t)], dtype=np.float32)
        return obs, 1.0, done and self.terminate, done and not self.terminate, {}


def _bucket(word: str, size: int) -> int:
    return zlib.crc32(word.encode()) % size


class BagOfWordsPolicy(nn.Module):
    """logit(action) = <mean embedding of mission words, embedding of action words>."""

    def __init__(self, vocab: int = 64, dim: int = 16) -> None:
        super().__init__()
        self.vocab = vocab
        self.mission = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.action = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.value = nn.Linear(dim, 1)
        self.calls: list[Sequence[Any]] = []

    def _bag(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(_bucket(w, self.vocab) for w in text.split())
        return torch.tensor(ids), torch.tensor(offsets)

    def forward(self, observations: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls.append(observations)
        missions = self.mission(*self._bag([o["mission"] for o in observations]))
        counts = [len(o["admissible_actions"]) for o in observations]
        flat = [a for o in observations for a in o["admissible_actions"]]
        actions = self.action(*self._bag(flat))
        owner = torch.repeat_interleave(torch.arange(len(observations)), torch.tensor(counts))
        scores = (actions * missions[owner]).sum(-1)
        logits = torch.full((len(observations), max(counts)), float("-inf"))
        column = torch.cat([torch.arange(c) for c in counts])
        logits = logits.index_put((owner, column), scores)
        return logits, self.value(missions).squeeze(-1)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Any:
    """Tiny tensors on a shared 2-core machine: a second OpenMP thread only waits.

    Restored after each test, so tests of other packages keep their setting.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def word_game_vec() -> gym.vector.SyncVectorEnv:
    return gym.vector.SyncVectorEnv([WordGameEnv for _ in range(3)])


def make_counter_vec(
    num_envs: int = 1,
    length: int = 3,
    terminate: bool = False,
    mode: gym.vector.AutoresetMode = gym.vector.AutoresetMode.NEXT_STEP,
) -> gym.vector.SyncVectorEnv:
    return gym.vector.SyncVectorEnv(
        [lambda: CounterEnv(length, terminate) for _ in range(num_envs)], autoreset_mode=mode
    )


@pytest.fixture
def counter_vec_factory() -> Any:
    return make_counter_vec


@pytest.fixture
def fakes() -> Any:
    """The fake classes, for tests that build their own variants."""

    class Fakes:
        WordGameEnv = WordGameEnv
        CounterEnv = CounterEnv
        BagOfWordsPolicy = BagOfWordsPolicy

    return Fakes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def run_two_ranks() -> Callable[[Path, Path, float], None]:
    """``run_two_ranks(worker, out, timeout)``: the worker script as ranks 0 and 1 (gloo).

    Each process gets the environment torchrun would give it; both must exit with 0
    (their output is in the failure message otherwise).
    """

    def run(worker: Path, out: Path, timeout: float = 240) -> None:
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(_free_port()),
            "WORLD_SIZE": "2",
            "GLOO_SOCKET_IFNAME": "lo",
            "OMP_NUM_THREADS": "1",
        }
        procs = [
            subprocess.Popen(
                [sys.executable, str(worker), str(out)],
                env={**env, "RANK": str(rank)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for rank in range(2)
        ]
        outputs = []
        for proc in procs:
            try:
                outputs.append(proc.communicate(timeout=timeout)[0])
            except subprocess.TimeoutExpired:
                for other in procs:
                    other.kill()
                raise
        for proc, output in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, output

    return run
