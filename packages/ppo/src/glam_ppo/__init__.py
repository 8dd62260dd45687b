"""glam_ppo: a generic, readable PPO for any actor-critic policy.

Typical use::

    from glam_ppo import PPO, PPOConfig, MLPActorCritic
    trainer = PPO(policy, vector_env, PPOConfig.preset("cleanrl"), callbacks=[...])
    trainer.learn()
"""

from glam_ppo.advantages import compute_gae
from glam_ppo.buffer import Batch, RolloutBuffer
from glam_ppo.callbacks import (
    Callback,
    CallbackList,
    JSONLWriter,
    LoggingCallback,
    TensorBoardWriter,
)
from glam_ppo.checkpoint import latest_checkpoint
from glam_ppo.config import PRESET_NAMES, PPOConfig
from glam_ppo.episode_replay import EpisodeReplay, EpisodeReplayError
from glam_ppo.episodes import EpisodeRecord
from glam_ppo.errors import (
    CheckpointError,
    EnvironmentSpecError,
    NonFiniteLossError,
    PolicyOutputError,
    PPOError,
)
from glam_ppo.evaluation import EvaluationResult, evaluate
from glam_ppo.mlp import MLPActorCritic
from glam_ppo.observations import policy_input, split_observations
from glam_ppo.policy import ActorCriticPolicy, ValuePredictor
from glam_ppo.sharding import gathered, is_sharded, shard_policy
from glam_ppo.trainer import PPO
from glam_ppo.update import ppo_loss_terms, ppo_update

__version__ = "0.1.0"

__all__ = [
    "PPO",
    "PRESET_NAMES",
    "ActorCriticPolicy",
    "Batch",
    "Callback",
    "CallbackList",
    "CheckpointError",
    "EnvironmentSpecError",
    "EpisodeRecord",
    "EpisodeReplay",
    "EpisodeReplayError",
    "EvaluationResult",
    "JSONLWriter",
    "LoggingCallback",
    "MLPActorCritic",
    "NonFiniteLossError",
    "PPOConfig",
    "PPOError",
    "PolicyOutputError",
    "RolloutBuffer",
    "TensorBoardWriter",
    "ValuePredictor",
    "__version__",
    "compute_gae",
    "evaluate",
    "gathered",
    "is_sharded",
    "latest_checkpoint",
    "policy_input",
    "ppo_loss_terms",
    "ppo_update",
    "shard_policy",
    "split_observations",
]
