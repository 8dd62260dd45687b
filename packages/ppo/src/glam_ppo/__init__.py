"""glam_ppo: a generic, readable PPO for any actor-critic policy."""

from glam_ppo.policy import ActorCriticPolicy

__version__ = "0.1.0"

__all__ = ["ActorCriticPolicy", "__version__"]
