"""Symbolic-PPO: BabyAI's actor-critic over a grid encoding and a tokenised mission.

The network of the BabyAI baselines (Chevalier-Boisvert et al., ICLR 2019;
Perez et al. 2018 for FiLM), for ``Dict`` observations holding:

``"image"``
    a ``(V, V, 3)`` integer grid, MiniGrid's egocentric encoding (object type,
    color, state of each cell);
``"mission_ids"``
    the mission as ``(L,)`` integer word ids, padding (id 0) at the end only;
``"direction"`` (optional)
    the agent's direction, 0..3;
``"image_history"`` (optional)
    ``(K, V, V, 3)``, the last K grids, oldest first: frame stacking, which gives
    a stateless policy (as ``glam_ppo``'s contract wants) a short memory.

These are the keys ``glam_env``'s ``observation="symbolic"`` produces (and MiniGrid's
own ``"image"``/``"direction"``); this module only knows the keys, not the package.

Architecture, per BabyAI's ``bow_endpool_res`` model:

1. each cell's three codes are embedded (one table per channel, summed: a bag of
   words per cell), frames concatenated along channels, plus a learned embedding
   of the cell's position in the view (our addition: the max-pool below forgets
   where things are, and in an egocentric view "where" means "relative to me");
2. two 3x3 convolutions, then ``num_film_layers`` residual FiLM blocks whose
   per-channel scale and shift come from the mission (a GRU over word
   embeddings, its state after the last real word);
3. a global max-pool over the grid, the direction's embedding appended;
4. separate actor and critic heads (tanh MLPs, orthogonal initialisation with a
   0.01 gain on the policy head, as ``glam_ppo.MLPActorCritic``).

No batch normalisation (BabyAI has some): PPO collects in eval mode and updates
in train mode, and batch statistics would make the two disagree. Parameters are
drawn from torch's global generator, so ``torch.manual_seed`` before building
gives the same network; the forward pass is deterministic on CPU.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.nn import functional as F

from glam_ppo.saved_modules import load_module, save_module

__all__ = [
    "DIRECTION_KEY",
    "IMAGE_HISTORY_KEY",
    "IMAGE_KEY",
    "MISSION_KEY",
    "SymbolicActorCritic",
    "SymbolicNetworkConfig",
]

IMAGE_KEY = "image"
DIRECTION_KEY = "direction"
MISSION_KEY = "mission_ids"
IMAGE_HISTORY_KEY = "image_history"

#: MiniGrid's number of object types, colors and states (the encoding's value ranges).
MINIGRID_CELL_VALUES: tuple[int, int, int] = (11, 6, 3)


class SymbolicNetworkConfig(BaseModel):
    """Sizes of :class:`SymbolicActorCritic` (defaults: a CPU-sized BabyAI model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cell_embedding_dim: int = Field(16, gt=0, description="Embedding of each cell code.")
    conv_channels: int = Field(64, gt=0, description="Channels of every convolution.")
    num_film_layers: int = Field(2, ge=0, description="Residual FiLM blocks.")
    word_embedding_dim: int = Field(32, gt=0)
    instruction_dim: int = Field(64, gt=0, description="GRU state: the mission's embedding.")
    direction_embedding_dim: int = Field(8, ge=0, description="0: ignore the direction.")
    head_hidden_size: int = Field(64, gt=0, description="Hidden layer of actor and critic.")
    use_image_history: bool = Field(
        True, description="Read 'image_history' (the last K grids) when the space has it."
    )


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    return layer


def _head(sizes: Sequence[int], out: int, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [_orthogonal(nn.Linear(fan_in, fan_out), math.sqrt(2.0)), nn.Tanh()]
    layers.append(_orthogonal(nn.Linear(sizes[-1], out), out_gain))
    return nn.Sequential(*layers)


class FiLMBlock(nn.Module):
    """``x + relu(gamma(m) * conv(relu(conv(x))) + beta(m))``: the mission modulates the grid."""

    def __init__(self, channels: int, instruction_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.gamma = nn.Linear(instruction_dim, channels)
        self.beta = nn.Linear(instruction_dim, channels)
        # PyTorch's default init, random scales around 0, as BabyAI's FiLM: starting
        # from the identity modulation (gamma = 1, beta = 0) was measured to sit on
        # the plateau of tasks where the right action depends on mission and grid
        # jointly ("is the object in front the one named?") for hundreds of steps.

    def forward(self, x: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x)))
        gamma = self.gamma(instruction)[:, :, None, None]
        beta = self.beta(instruction)[:, :, None, None]
        return x + F.relu(gamma * h + beta)


class SymbolicActorCritic(nn.Module):
    """``forward(observations) -> (logits (B, num_actions), values (B,))``.

    Args:
        num_actions: size of the ``Discrete`` action space.
        vocab_size: number of word ids (largest id + 1); id 0 is padding.
        config: layer sizes.
        view_size: side of the grid (MiniGrid's ``agent_view_size``, 7).
        cell_values: number of values of each of the grid's three channels.
        num_frames: grids per observation: 1 reads ``"image"``, K > 1
            ``"image_history"`` (K grids).
        use_direction: read ``"direction"`` (needs ``direction_embedding_dim > 0``).

    ``observations``: what ``glam_ppo`` passes for a ``Dict`` space, a list of
    per-env dicts of arrays; a dict of batched arrays or tensors works too.
    :meth:`for_spaces` reads every size from the observation space.
    """

    def __init__(
        self,
        num_actions: int,
        vocab_size: int,
        config: SymbolicNetworkConfig | None = None,
        *,
        view_size: int = 7,
        cell_values: Sequence[int] = MINIGRID_CELL_VALUES,
        num_frames: int = 1,
        use_direction: bool = True,
    ) -> None:
        super().__init__()
        cfg = config or SymbolicNetworkConfig()
        if num_actions < 1 or vocab_size < 2 or view_size < 1 or num_frames < 1:
            raise ValueError(
                "num_actions, view_size and num_frames must be >= 1 and vocab_size >= 2, got "
                f"{num_actions}, {view_size}, {num_frames}, {vocab_size}"
            )
        if len(cell_values) != 3 or min(cell_values) < 1:
            raise ValueError(f"cell_values must be 3 positive counts, got {tuple(cell_values)}")
        self.config = cfg
        self.num_actions = int(num_actions)
        self.vocab_size = int(vocab_size)
        self.view_size = int(view_size)
        self.num_frames = int(num_frames)
        self.use_direction = bool(use_direction) and cfg.direction_embedding_dim > 0
        self.cell_values = tuple(int(v) for v in cell_values)
        offsets = torch.tensor([0, self.cell_values[0], self.cell_values[0] + self.cell_values[1]])
        self.register_buffer("cell_offsets", offsets, persistent=False)
        self.register_buffer("cell_limits", torch.tensor(self.cell_values), persistent=False)

        channels = cfg.conv_channels
        self.cell_embedding = nn.Embedding(sum(self.cell_values), cfg.cell_embedding_dim)
        # Where a cell is in the egocentric view is where it is relative to the agent
        # ("in front", "two steps left"): a learned embedding per position keeps that
        # after the global max-pool, which alone only sees what, not where.
        self.position_embedding = nn.Parameter(
            0.1 * torch.randn(1, cfg.cell_embedding_dim * self.num_frames, view_size, view_size)
        )
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.cell_embedding_dim * self.num_frames, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
        )
        self.word_embedding = nn.Embedding(self.vocab_size, cfg.word_embedding_dim, padding_idx=0)
        self.mission_rnn = nn.GRU(cfg.word_embedding_dim, cfg.instruction_dim, batch_first=True)
        self.films = nn.ModuleList(
            FiLMBlock(channels, cfg.instruction_dim) for _ in range(cfg.num_film_layers)
        )
        features = channels
        if self.use_direction:
            self.direction_embedding = nn.Embedding(4, cfg.direction_embedding_dim)
            features += cfg.direction_embedding_dim
        self.feature_size = features
        self.actor = _head([features, cfg.head_hidden_size], self.num_actions, 0.01)
        self.critic = _head([features, cfg.head_hidden_size], 1, 1.0)

    @classmethod
    def for_spaces(
        cls,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        config: SymbolicNetworkConfig | None = None,
    ) -> SymbolicActorCritic:
        """Build from a ``Dict`` observation space (see the module doc) and a ``Discrete`` one."""
        cfg = config or SymbolicNetworkConfig()
        if not isinstance(observation_space, spaces.Dict):
            raise TypeError(f"need a gymnasium Dict observation space, got {observation_space}")
        missing = [k for k in (IMAGE_KEY, MISSION_KEY) if k not in observation_space.spaces]
        if missing:
            raise ValueError(
                f"the observation space lacks {missing}: build the env with symbolic "
                f"observations (keys {IMAGE_KEY!r}, {MISSION_KEY!r}, optional "
                f"{DIRECTION_KEY!r}, {IMAGE_HISTORY_KEY!r})"
            )
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError(f"need a Discrete action space, got {action_space}")
        image = observation_space[IMAGE_KEY]
        mission = observation_space[MISSION_KEY]
        if not isinstance(image, spaces.Box) or len(image.shape) != 3 or image.shape[2] != 3:
            raise ValueError(f"{IMAGE_KEY!r} must be a (V, V, 3) Box, got {image}")
        if not isinstance(mission, spaces.Box) or len(mission.shape) != 1:
            raise ValueError(f"{MISSION_KEY!r} must be a 1-d Box of word ids, got {mission}")
        cell_values = [int(v) + 1 for v in np.asarray(image.high).reshape(-1, 3).max(axis=0)]
        history = observation_space.spaces.get(IMAGE_HISTORY_KEY)
        frames = 1
        if cfg.use_image_history and isinstance(history, spaces.Box):
            frames = int(history.shape[0])
        return cls(
            int(action_space.n),
            int(np.asarray(mission.high).max()) + 1,
            cfg,
            view_size=int(image.shape[0]),
            cell_values=cell_values,
            num_frames=frames,
            use_direction=DIRECTION_KEY in observation_space.spaces,
        )

    # ------------------------------------------------------------------ inputs
    def _tensor(self, value: Any) -> torch.Tensor:
        device = self.cell_offsets.device
        if isinstance(value, torch.Tensor):
            return value.to(device=device, dtype=torch.long)
        return torch.as_tensor(np.asarray(value), device=device).long()

    def _inputs(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(grids (B, K, V, V, 3), directions (B,) or None, mission ids (B, L)) as long tensors."""
        grid_key = IMAGE_HISTORY_KEY if self.num_frames > 1 else IMAGE_KEY
        keys = [grid_key, MISSION_KEY] + ([DIRECTION_KEY] if self.use_direction else [])
        if isinstance(observations, Mapping):
            batch = {key: self._tensor(observations[key]) for key in keys}
        else:
            rows = list(observations)
            if not rows or not isinstance(rows[0], Mapping):
                raise TypeError(
                    "observations must be a list of per-env dicts or a dict of batched arrays, "
                    f"got {type(observations).__name__}"
                )
            batch = {key: self._tensor(np.stack([row[key] for row in rows])) for key in keys}
        grids = batch[grid_key]
        if self.num_frames == 1:
            grids = grids.unsqueeze(1)
        expected = (self.num_frames, self.view_size, self.view_size, 3)
        if tuple(grids.shape[1:]) != expected:
            raise ValueError(
                f"{grid_key!r} must have shape (batch, {', '.join(map(str, expected[1:]))})"
                f"{'' if self.num_frames == 1 else ' with ' + str(self.num_frames) + ' frames'}, "
                f"got {tuple(batch[grid_key].shape)}"
            )
        if bool(((grids < 0) | (grids >= self.cell_limits)).any()):
            raise ValueError(
                f"grid values outside the embedded ranges 0..{[v - 1 for v in self.cell_values]}"
            )
        mission = batch[MISSION_KEY]
        if bool(((mission < 0) | (mission >= self.vocab_size)).any()):
            raise ValueError(f"word ids outside 0..{self.vocab_size - 1}")
        return grids, batch.get(DIRECTION_KEY), mission

    # ------------------------------------------------------------------ network
    def encode_mission(self, mission: torch.Tensor) -> torch.Tensor:
        """The GRU's state after each mission's last real word, ``(B, instruction_dim)``."""
        lengths = (mission != 0).sum(dim=1).clamp(min=1)
        longest = int(lengths.max())
        outputs, _ = self.mission_rnn(self.word_embedding(mission[:, :longest]))
        index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
        return outputs.gather(1, index).squeeze(1)

    def features(self, observations: Any) -> torch.Tensor:
        """The shared trunk: ``(B, feature_size)`` features of grid, mission and direction."""
        grids, directions, mission = self._inputs(observations)
        batch, _, height, width, _ = grids.shape
        cells = self.cell_embedding(grids + self.cell_offsets).sum(dim=-2)  # (B, K, H, W, E)
        x = cells.permute(0, 1, 4, 2, 3).reshape(batch, -1, height, width)
        x = self.stem(x + self.position_embedding)
        instruction = self.encode_mission(mission)
        for film in self.films:
            x = film(x, instruction)
        pooled = x.amax(dim=(2, 3))
        if directions is None:
            return pooled
        return torch.cat([pooled, self.direction_embedding(directions)], dim=1)

    def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(observations)
        return self.actor(features), self.critic(features).squeeze(-1)

    def predict_values(self, observations: Any) -> torch.Tensor:
        """The critic alone (the actor head skipped): what bootstrapping needs."""
        return self.critic(self.features(observations)).squeeze(-1)


#: Files of a saved :class:`SymbolicActorCritic` (safetensors weights, JSON arguments).
WEIGHTS_FILE = "symbolic_policy.safetensors"
ARGUMENTS_FILE = "symbolic_policy.json"
SAVED_FORMAT = 1


def save_symbolic_policy(
    policy: SymbolicActorCritic, directory: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``policy`` to ``directory``: its weights and the arguments that rebuild it.

    ``extra`` (JSON data) is stored beside them, e.g. the environment settings the
    policy was trained with. Nothing is pickled; the files are written atomically.
    """
    arguments = {
        "format": SAVED_FORMAT,
        "num_actions": policy.num_actions,
        "vocab_size": policy.vocab_size,
        "config": policy.config.model_dump(mode="json"),
        "view_size": policy.view_size,
        "cell_values": list(policy.cell_values),
        "num_frames": policy.num_frames,
        "use_direction": policy.use_direction,
        "extra": extra or {},
    }
    return save_module(policy, directory, (WEIGHTS_FILE, ARGUMENTS_FILE), arguments)


def is_saved_symbolic_policy(directory: str | Path) -> bool:
    return (Path(directory) / ARGUMENTS_FILE).is_file()


def _build(arguments: dict[str, Any]) -> SymbolicActorCritic:
    if arguments.get("format") != SAVED_FORMAT:
        raise ValueError(f"unknown format {arguments.get('format')!r}")
    return SymbolicActorCritic(
        int(arguments["num_actions"]),
        int(arguments["vocab_size"]),
        SymbolicNetworkConfig.model_validate(arguments["config"]),
        view_size=int(arguments["view_size"]),
        cell_values=[int(v) for v in arguments["cell_values"]],
        num_frames=int(arguments["num_frames"]),
        use_direction=bool(arguments["use_direction"]),
    )


def load_symbolic_policy(directory: str | Path) -> tuple[SymbolicActorCritic, dict[str, Any]]:
    """The policy :func:`save_symbolic_policy` wrote, and its ``extra`` data.

    A damaged or foreign file is a :class:`~glam_ppo.errors.CheckpointError` naming it.
    """
    policy, arguments = load_module(
        directory, (WEIGHTS_FILE, ARGUMENTS_FILE), _build, what="symbolic policy"
    )
    return policy, dict(arguments.get("extra") or {})
