"""DRRN hyperparameters as one validated pydantic model.

Defaults are meant to work on BabyAI-Text GoToLocal with 8 environments and a
budget of some 50k environment steps: every count below is in *environment*
steps (summed over the parallel environments) unless it says otherwise, so the
schedule does not change meaning with the number of environments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class DRRNConfig(BaseModel):
    """Everything that defines a DRRN run (saved in each checkpoint)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    seed: int = Field(0, ge=0, description="Seeds network init, exploration, replay, env resets.")
    total_steps: int = Field(50_000, gt=0, description="Environment steps of learn().")
    num_steps: int = Field(
        32, gt=0, description="Vector steps per iteration (one metrics line, checkpoint unit)."
    )

    # --- network ---
    state_keys: tuple[str, ...] = Field(
        ("mission", "observation"),
        description="Observation keys whose texts form the state, in this order. glam_env "
        "also offers 'observation_history' and 'action_history' (history_length > 1).",
    )
    max_words: int = Field(5_000, gt=0, description="Vocabulary cap (embedding rows).")
    max_state_tokens: int = Field(
        256, gt=0, description="Longer states keep their last tokens (the newest text)."
    )
    embedding_dim: int = Field(64, gt=0)
    hidden_size: int = Field(128, gt=0, description="GRU and MLP width.")

    # --- learning ---
    learning_rate: float = Field(3e-4, gt=0)
    adam_eps: float = Field(1e-8, gt=0)
    gamma: float = Field(0.95, ge=0, le=1)
    batch_size: int = Field(64, gt=0)
    replay_capacity: int = Field(100_000, gt=0)
    learning_starts: int = Field(1_000, ge=0, description="Env steps before the first update.")
    train_every: int = Field(
        8, gt=0, description="One gradient step per this many env steps (replay ratio)."
    )
    target_update_every: int = Field(
        1_000, gt=0, description="Env steps between copies of the network to the target."
    )
    loss: Literal["huber", "mse"] = "huber"
    max_grad_norm: float | None = Field(10.0, gt=0, description="Global grad-norm clip.")

    # --- exploration and the policy view ---
    epsilon_start: float = Field(1.0, ge=0, le=1)
    epsilon_end: float = Field(0.05, ge=0, le=1)
    exploration_fraction: float = Field(
        0.4, gt=0, le=1, description="Share of total_steps over which epsilon decays linearly."
    )
    temperature: float = Field(
        1.0, gt=0, description="Policy logits are Q / temperature (for sampling evaluators)."
    )

    # --- checkpoints and device ---
    checkpoint_every: int | None = Field(None, gt=0, description="Iterations between saves.")
    checkpoint_dir: Path | None = None
    keep_checkpoints: int = Field(2, gt=0)
    device: str = "cpu"

    @field_validator("state_keys")
    @classmethod
    def _state_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("state_keys must name at least one observation key")
        if "admissible_actions" in value:
            raise ValueError("admissible_actions are encoded by the action encoder, not the state")
        if len(set(value)) != len(value):
            raise ValueError(f"state_keys has duplicates: {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DRRNConfig:
        if self.checkpoint_every is not None and self.checkpoint_dir is None:
            raise ValueError("checkpoint_every is set but checkpoint_dir is not: say where to save")
        if self.batch_size > self.replay_capacity:
            raise ValueError(
                f"batch_size {self.batch_size} exceeds replay_capacity {self.replay_capacity}"
            )
        return self

    def epsilon(self, step: int) -> float:
        """Exploration rate after ``step`` env steps: linear decay, then constant."""
        decay_steps = max(1.0, self.exploration_fraction * self.total_steps)
        progress = min(1.0, step / decay_steps)
        return self.epsilon_start + progress * (self.epsilon_end - self.epsilon_start)
