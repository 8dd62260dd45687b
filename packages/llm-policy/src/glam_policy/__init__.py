"""glam_policy: a Hugging Face language model as an RL policy and critic."""

__version__ = "0.1.0"

__all__ = ["__version__"]
