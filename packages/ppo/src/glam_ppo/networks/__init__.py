"""Ready-made actor-critic networks for ``glam_ppo.PPO`` (beyond ``glam_ppo.MLPActorCritic``).

* :class:`SymbolicActorCritic`: BabyAI's grid + mission network (embeddings, a
  GRU over the mission, FiLM), for symbolic MiniGrid/BabyAI observations.
"""

from glam_ppo.networks.symbolic import (
    DIRECTION_KEY,
    IMAGE_HISTORY_KEY,
    IMAGE_KEY,
    MISSION_KEY,
    SymbolicActorCritic,
    SymbolicNetworkConfig,
    is_saved_symbolic_policy,
    load_symbolic_policy,
    save_symbolic_policy,
)

__all__ = [
    "DIRECTION_KEY",
    "IMAGE_HISTORY_KEY",
    "IMAGE_KEY",
    "MISSION_KEY",
    "SymbolicActorCritic",
    "SymbolicNetworkConfig",
    "is_saved_symbolic_policy",
    "load_symbolic_policy",
    "save_symbolic_policy",
]
