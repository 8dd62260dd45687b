"""Experience replay of text transitions, saved without pickles.

Each slot holds one transition as texts: the state text, the admissible action
strings, the chosen index, the reward, the next state's text and actions, and
whether the episode *terminated* there (a time-limit truncation is stored as
not terminated: its next state is bootstrapped). Storing texts rather than ids
keeps the buffer independent of the vocabulary, which may still grow.

Consecutive transitions share their state strings (``next_state`` of one is
``state`` of the next), so the Python lists hold references to the same
objects; a checkpoint writes each distinct text once (a JSON string table) and
the slots as integer indices into it (safetensors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Transitions:
    """A batch of transitions (sampled from the buffer)."""

    states: list[str]
    actions: list[tuple[str, ...]]
    action: np.ndarray  # (B,) int64: index into actions[i]
    reward: np.ndarray  # (B,) float32
    next_states: list[str]
    next_actions: list[tuple[str, ...]]
    terminated: np.ndarray  # (B,) bool: no bootstrap


class ReplayBuffer:
    """A ring buffer of ``capacity`` transitions; uniform sampling with replacement."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._allocate()

    def _allocate(self) -> None:
        """Empty slots for ``capacity`` transitions."""
        capacity = self.capacity
        self.position = 0  # next slot to write
        self.size = 0
        self._states: list[str] = [""] * capacity
        self._actions: list[tuple[str, ...]] = [()] * capacity
        self._next_states: list[str] = [""] * capacity
        self._next_actions: list[tuple[str, ...]] = [()] * capacity
        self._action = np.zeros(capacity, dtype=np.int64)
        self._reward = np.zeros(capacity, dtype=np.float32)
        self._terminated = np.zeros(capacity, dtype=bool)

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        state: str,
        actions: tuple[str, ...],
        action: int,
        reward: float,
        next_state: str,
        next_actions: tuple[str, ...],
        terminated: bool,
    ) -> None:
        """Store one transition, overwriting the oldest once full."""
        if not 0 <= action < len(actions):
            raise ValueError(f"action {action} is not an index of {len(actions)} actions")
        i = self.position
        self._states[i] = state
        self._actions[i] = actions
        self._action[i] = action
        self._reward[i] = reward
        self._next_states[i] = next_state
        self._next_actions[i] = next_actions
        self._terminated[i] = terminated
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def get(self, indices: np.ndarray) -> Transitions:
        """The transitions at slot ``indices``."""
        return Transitions(
            states=[self._states[i] for i in indices],
            actions=[self._actions[i] for i in indices],
            action=self._action[indices],
            reward=self._reward[indices],
            next_states=[self._next_states[i] for i in indices],
            next_actions=[self._next_actions[i] for i in indices],
            terminated=self._terminated[indices],
        )

    def sample(self, batch_size: int, rng: np.random.Generator) -> Transitions:
        """``batch_size`` transitions drawn uniformly (with replacement) with ``rng``."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self.get(rng.integers(0, self.size, size=batch_size))

    # --- checkpoints ---------------------------------------------------------------

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(tensors for safetensors, JSON-ready data): each distinct text stored once."""
        texts: dict[str, int] = {}
        action_lists: dict[tuple[str, ...], int] = {}

        def text_id(text: str) -> int:
            return texts.setdefault(text, len(texts))

        def actions_id(actions: tuple[str, ...]) -> int:
            return action_lists.setdefault(actions, len(action_lists))

        n = self.size
        columns = {
            "state": [text_id(self._states[i]) for i in range(n)],
            "next_state": [text_id(self._next_states[i]) for i in range(n)],
            "actions": [actions_id(self._actions[i]) for i in range(n)],
            "next_actions": [actions_id(self._next_actions[i]) for i in range(n)],
        }
        tensors = {name: torch.tensor(ids, dtype=torch.int64) for name, ids in columns.items()}
        tensors["action"] = torch.from_numpy(self._action[:n].copy())
        tensors["reward"] = torch.from_numpy(self._reward[:n].copy())
        tensors["terminated"] = torch.from_numpy(self._terminated[:n].copy())
        data = {
            "capacity": self.capacity,
            "position": self.position,
            "size": n,
            "texts": list(texts),
            "action_lists": [list(actions) for actions in action_lists],
        }
        return tensors, data

    def load_state_dict(self, tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (same capacity required)."""
        if int(data["capacity"]) != self.capacity:
            raise ValueError(
                f"replay capacity {data['capacity']} in the checkpoint, {self.capacity} here"
            )
        n = int(data["size"])
        texts: list[str] = list(data["texts"])
        lists = [tuple(actions) for actions in data["action_lists"]]
        columns = {name: tensors[name].tolist() for name in ("state", "next_state")}
        action_columns = {name: tensors[name].tolist() for name in ("actions", "next_actions")}
        self._allocate()
        for i in range(n):
            self._states[i] = texts[columns["state"][i]]
            self._next_states[i] = texts[columns["next_state"][i]]
            self._actions[i] = lists[action_columns["actions"][i]]
            self._next_actions[i] = lists[action_columns["next_actions"][i]]
        self._action[:n] = tensors["action"].numpy()
        self._reward[:n] = tensors["reward"].numpy()
        self._terminated[:n] = tensors["terminated"].numpy()
        self.position = int(data["position"])
        self.size = n
