"""PPO hyperparameters as one validated pydantic model, with named presets.

Every knob of the algorithm is a field here so that a run is fully described by
its config (saved in every checkpoint). Presets reproduce published recipes:

* ``"paper"``: GLAM (Carta et al., 2023, section 7 of the reference notes):
  40 steps x 32 envs, 4 epochs, minibatch 64, Adam lr 1e-6, clip 0.2 with the
  value loss clipped by the same epsilon, entropy 0.01, value 0.5, grad-norm 0.5,
  gamma 0.99, lambda 0.99, reward x20, no advantage normalisation.
* ``"cleanrl"``: CleanRL ``ppo.py`` defaults (4 envs x 128 steps, 4 minibatches).
* ``"sb3_cartpole"``: rl-zoo's Stable-Baselines3 hyperparameters for CartPole-v1.

The number of parallel environments is a property of the vector environment,
not of this config; each preset's docstring entry says which count it assumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Schedule = Literal["constant", "linear"]

#: Preset name -> (field overrides, number of parallel envs the recipe assumes).
_PRESETS: dict[str, tuple[dict[str, Any], int]] = {
    "paper": (
        {
            "total_steps": 1_500_000,
            "num_steps": 40,
            "num_epochs": 4,
            "minibatch_size": 64,
            "learning_rate": 1e-6,
            "lr_schedule": "constant",
            "adam_betas": (0.9, 0.999),
            "adam_eps": 1e-5,
            "clip_coef": 0.2,
            "clip_schedule": "constant",
            "value_clip": 0.2,
            "ent_coef": 0.01,
            "vf_coef": 0.5,
            "max_grad_norm": 0.5,
            "gamma": 0.99,
            "gae_lambda": 0.99,
            "reward_scale": 20.0,
            "normalize_advantages": False,
        },
        32,
    ),
    "cleanrl": (
        {
            "total_steps": 500_000,
            "num_steps": 128,
            "num_epochs": 4,
            "minibatch_size": 128,  # 4 envs x 128 steps / 4 minibatches
            "learning_rate": 2.5e-4,
            "lr_schedule": "linear",
            "adam_eps": 1e-5,
            "clip_coef": 0.2,
            "clip_schedule": "constant",
            "value_clip": 0.2,
            "ent_coef": 0.01,
            # CleanRL's value loss is 0.5 * squared error with vf_coef 0.5; ours has no 0.5.
            "vf_coef": 0.25,
            "max_grad_norm": 0.5,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "normalize_advantages": True,
        },
        4,
    ),
    "sb3_cartpole": (
        {
            "total_steps": 100_000,
            "num_steps": 32,
            "num_epochs": 20,
            "minibatch_size": 256,
            "learning_rate": 1e-3,
            "lr_schedule": "linear",
            "adam_eps": 1e-5,
            "clip_coef": 0.2,
            "clip_schedule": "linear",
            "value_clip": None,
            "ent_coef": 0.0,
            "vf_coef": 0.5,
            "max_grad_norm": 0.5,
            "gamma": 0.98,
            "gae_lambda": 0.8,
            "normalize_advantages": True,
        },
        8,
    ),
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


class PPOConfig(BaseModel):
    """All PPO hyperparameters. Defaults follow the standard (CleanRL) recipe."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    # --- data collection ---
    total_steps: int = Field(1_000_000, gt=0, description="Env steps over all envs and ranks.")
    num_steps: int = Field(128, gt=0, description="Steps per environment per rollout.")
    seed: int = Field(0, ge=0, description="Seeds env resets, action sampling, shuffling.")
    rollout_eval_mode: bool = Field(
        True, description="Call policy.eval() while collecting (no dropout), train() to update."
    )
    update_eval_mode: bool = Field(
        False, description="Keep the policy in eval mode during the update too."
    )
    # --- returns and advantages ---
    gamma: float = Field(0.99, ge=0.0, le=1.0)
    gae_lambda: float = Field(0.95, ge=0.0, le=1.0)
    reward_scale: float = Field(1.0, gt=0.0, description="Rewards are multiplied by this.")
    normalize_rewards: bool = Field(
        False, description="Divide rewards by the running std of the discounted return."
    )
    normalize_advantages: bool = Field(True, description="Per minibatch: zero mean, unit std.")
    # --- optimisation ---
    num_epochs: int = Field(4, gt=0)
    minibatch_size: int = Field(128, gt=0, description="Transitions per gradient step, per rank.")
    micro_batch_size: int | None = Field(
        None, gt=0, description="Split each minibatch in pieces of this size (same gradient)."
    )
    learning_rate: float = Field(2.5e-4, gt=0.0)
    lr_schedule: Schedule = "constant"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = Field(1e-5, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float | None = Field(0.5, gt=0.0, description="None: no clipping.")
    # --- loss ---
    clip_coef: float = Field(0.2, gt=0.0)
    clip_schedule: Schedule = "constant"
    value_clip: float | None = Field(
        None, gt=0.0, description="Clip the value change to +-this; None: no value clipping."
    )
    ent_coef: float = Field(0.01, ge=0.0)
    vf_coef: float = Field(0.5, ge=0.0, description="Weight of the mean squared value error.")
    target_kl: float | None = Field(
        None, gt=0.0, description="Stop the update's epochs once a minibatch's KL exceeds this."
    )
    on_nonfinite: Literal["raise", "skip"] = Field(
        "raise", description="NaN/inf loss or gradient: stop with an error, or skip the step."
    )
    # --- checkpoints ---
    checkpoint_every: int | None = Field(
        None, gt=0, description="Save the training state every this many iterations."
    )
    checkpoint_dir: Path | None = None
    keep_checkpoints: int = Field(2, gt=0, description="How many recent checkpoints to keep.")
    checkpoint_trainable_only: bool = Field(
        False, description="Save only trainable parameters (frozen ones come from the model)."
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> PPOConfig:
        beta1, beta2 = self.adam_betas
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"adam_betas must both be in [0, 1), got {self.adam_betas}")
        if self.micro_batch_size is not None and self.micro_batch_size > self.minibatch_size:
            raise ValueError(
                f"micro_batch_size ({self.micro_batch_size}) must be <= minibatch_size "
                f"({self.minibatch_size}); leave it unset to process whole minibatches"
            )
        if self.checkpoint_every is not None and self.checkpoint_dir is None:
            raise ValueError("checkpoint_every is set but checkpoint_dir is not: say where to save")
        return self

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> PPOConfig:
        """The named recipe (see module docstring), with ``overrides`` applied on top."""
        if name not in _PRESETS:
            raise ValueError(f"unknown PPO preset {name!r}; choose one of {', '.join(_PRESETS)}")
        values = dict(_PRESETS[name][0])
        values.update(overrides)
        return cls(**values)

    @staticmethod
    def preset_num_envs(name: str) -> int:
        """How many parallel environments the named recipe assumes."""
        if name not in _PRESETS:
            raise ValueError(f"unknown PPO preset {name!r}; choose one of {', '.join(_PRESETS)}")
        return _PRESETS[name][1]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPOConfig:
        """Build from a mapping; an optional ``preset`` key names the base recipe."""
        data = dict(data)
        preset = data.pop("preset", None)
        if preset is None:
            return cls(**data)
        return cls.preset(str(preset), **data)

    @classmethod
    def from_file(cls, path: str | Path) -> PPOConfig:
        """Load a ``.json``, ``.yaml`` or ``.yml`` file (see :meth:`from_dict`)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml  # declared dependency; imported here to keep `import glam_ppo` light

            data = yaml.safe_load(text)
        else:
            raise ValueError(f"{path}: config files must end in .json, .yaml or .yml")
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of PPO settings, got {type(data)}")
        try:
            return cls.from_dict(data)
        except ValidationError as error:
            raise ValueError(f"{path}: invalid PPO config:\n{error}") from error
