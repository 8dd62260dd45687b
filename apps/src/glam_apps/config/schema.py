"""``TrainConfig``: one validated model composing the three packages' configs.

::

    run:            run settings (directory, seed, steps, envs, evaluation, checkpoints)
    env:            glam_env.BabyAITextConfig   (level, variant, actions, history)
    game:           optional: another registered text game (``gym_id`` + ``kwargs``),
                    e.g. TextWorld or a board game; when set it replaces ``env``
    policy:         glam_policy.LLMPolicyConfig (model, template, heads, fine-tuning)
    default_model:  the recipe of the offline default model (used when policy.model
                    is "offline-default")
    ppo:            glam_ppo.PPOConfig          (hyperparameters; ``preset:`` names a recipe)
    distributed:    how several ranks (torchrun) share the work: data parallel or FSDP

Under torchrun every count is global: ``run.num_envs`` and ``ppo.minibatch_size``
are split evenly over the ranks (so K ranks perform the update one process would),
``run.total_steps`` and every step count in metrics, checkpoints and evaluations
count all ranks' environment steps; ``ppo.micro_batch_size`` is per rank (memory).

The run's seed and length live in ``run`` only: ``ppo.seed`` and
``ppo.total_steps`` are filled from them (setting them differently is an error),
and the checkpoint fields of ``ppo`` are managed by the run directory.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from glam_env import BabyAITextConfig
from glam_policy import LLMPolicyConfig
from glam_policy.behavior_cloning import BCConfig
from glam_policy.tiny import MODEL_KINDS, TINY_SIZES
from glam_ppo import PRESET_NAMES, PPOConfig
from glam_ppo.drrn import DRRNConfig
from glam_ppo.networks import SymbolicNetworkConfig

#: ``policy.model`` value meaning "the project's small offline model" (see default_model.py).
OFFLINE_DEFAULT = "offline-default"

#: PPO fields the run manages; they are not written in the ``ppo`` section of a run.
PPO_MANAGED_FIELDS = (
    "seed",
    "total_steps",
    "checkpoint_every",
    "checkpoint_dir",
    "keep_checkpoints",
)


class RunSettings(BaseModel):
    """How long to train, where to write, and how often to evaluate and checkpoint."""

    model_config = ConfigDict(extra="forbid")

    run_dir: Path | None = None
    """Run directory; ``None``: ``runs/<date>-<time>-<level>`` in the working directory."""
    seed: int = Field(0, ge=0)
    """Seeds environments, sampling, shuffling and the heads' initialisation."""
    total_steps: int = Field(100_000, gt=0)
    """Environment steps over all environments."""
    num_envs: int = Field(8, ge=1)
    """Parallel environments (one policy batch per step)."""
    asynchronous_envs: bool = False
    """Run each environment in its own process (only pays off with slow environments)."""
    head_learning_rate: float | None = Field(None, gt=0)
    """Learning rate of the value (and action) heads; ``None``: ``ppo.learning_rate``."""
    eval_every: int | None = Field(None, gt=0)
    """Evaluate every this many env steps (rounded up to whole updates); ``None``: at the end."""
    eval_episodes: int = Field(50, ge=1)
    """Episodes of each evaluation (fixed seeds, the same every time)."""
    eval_seed: int = Field(1_000_000, ge=0)
    """First seed of the evaluation episodes (far from the training seeds)."""
    eval_level: str | None = None
    """Level to evaluate on; ``None``: the training level."""
    eval_greedy: bool = False
    """Evaluate with the most likely action instead of sampling (the paper samples)."""
    eval_num_envs: int = Field(8, ge=1)
    """Episodes played side by side during evaluation (one policy batch)."""
    eval_baselines: list[Literal["random", "bot", "keyword"]] = Field(
        default_factory=lambda: ["random"]
    )
    """Agents also evaluated at the end, on the same level and seeds, for comparison
    (``keyword``: the scripted rule of :class:`glam_apps.evaluation.agents.KeywordAgent`)."""
    checkpoint_every: int | None = Field(None, gt=0)
    """Save the full training state every this many env steps; ``None``: only at the end."""
    keep_checkpoints: int = Field(2, ge=1)
    """Periodic checkpoints kept (older ones are deleted)."""
    torch_threads: int | None = Field(None, ge=1)
    """``torch.set_num_threads``; ``None``: torch's default."""
    eval_at_start: bool = False
    """Also evaluate before the first update: the step-0 point of ``glam plot``'s curves."""
    log_transcripts: int = Field(2, ge=0)
    """Episodes of each evaluation also kept as text transcripts (TensorBoard, W&B); 0: none."""
    wandb: bool = False
    """Also log to Weights & Biases (the ``wandb`` extra; ``WANDB_MODE=offline`` needs no
    account). See :mod:`glam_apps.training.tracking`."""


class PolicySection(LLMPolicyConfig):
    """``glam_policy.LLMPolicyConfig`` whose model defaults to the offline default model."""

    model: str = Field(OFFLINE_DEFAULT, min_length=1)


class DefaultModelRecipe(BaseModel):
    """How the offline default model is built (and its cache key: same recipe, same model).

    A byte-level BPE tokenizer trained on text generated by playing the
    environment with random actions (missions, observations, action names and
    whole prompts), and a tiny randomly initialised transformer of ``size``.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["decoder", "encoder-decoder"] = "decoder"
    size: str = "micro"
    vocab_size: int = Field(1000, ge=300)
    corpus_levels: list[str] | None = None
    """Levels whose text makes the corpus; ``None``: the training level (env.level).
    The other environment settings (actions, history, episode length...) are the run's."""
    corpus_episodes: int = Field(100, ge=1)
    """Random-action episodes played per level for the corpus."""
    corpus_history_length: int | None = Field(None, ge=1)
    """Observations per corpus prompt; ``None``: the run's ``env.history_length``.
    Above 1, each corpus text is a stretch of random play (observation, action, next
    observation...), so the pretraining predicts what an action does to the view: the
    analogue of an LLM's prior on space and motion, still with no task knowledge."""
    max_positions: int = Field(512, ge=32)
    pretrain_steps: int = Field(0, ge=0)
    """Optional language-model pretraining on the corpus prompts followed by the random
    action taken (decoder: next-token loss; encoder-decoder: prompt -> action).
    Random actions carry no task knowledge: this teaches the text, not the policy."""
    pretrain_batch_size: int = Field(32, ge=1)
    pretrain_learning_rate: float = Field(1e-3, gt=0)
    seed: int = Field(0, ge=0)

    @field_validator("size")
    @classmethod
    def _known_size(cls, value: str) -> str:
        if value not in TINY_SIZES:
            raise ValueError(f"unknown tiny model size {value!r}; valid: {', '.join(TINY_SIZES)}")
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in MODEL_KINDS:  # pragma: no cover - Literal already checks
            raise ValueError(f"unknown model kind {value!r}; valid: {', '.join(MODEL_KINDS)}")
        return value


class PPOSection(PPOConfig):
    """``glam_ppo.PPOConfig`` that may start from a named preset (``preset: paper``)."""

    model_config = ConfigDict(populate_by_name=True)

    preset_name: str | None = Field(None, alias="preset")
    """A glam_ppo preset (``paper``, ``cleanrl``, ...); the other keys override it."""

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key in ("checkpoint_every", "checkpoint_dir", "keep_checkpoints"):
            if data.get(key) is not None:
                where = (
                    "run.keep_checkpoints" if key == "keep_checkpoints" else "run.checkpoint_every"
                )
                raise ValueError(f"ppo.{key} is managed by the run directory; set {where}")
        name = data.get("preset", data.get("preset_name"))
        if name is None:
            return data
        if name not in PRESET_NAMES:
            raise ValueError(
                f"unknown PPO preset {name!r}; choose one of {', '.join(PRESET_NAMES)}"
            )
        base = PPOConfig.preset(name).model_dump()
        for key in PPO_MANAGED_FIELDS:
            base.pop(key, None)
        return {**base, **data}

    def to_ppo_config(self, **updates: Any) -> PPOConfig:
        """A plain ``PPOConfig`` (what the trainer and its checkpoints see)."""
        values = self.model_dump(exclude={"preset_name"})
        values.update(updates)
        return PPOConfig(**values)


def registered_text_games() -> list[str]:
    """Gymnasium ids of the text games glam_env registers (BabyAI-Text and the others)."""
    import gymnasium

    from glam_env import register_other_games

    register_other_games()
    prefixes = ("BabyAI-Text/", "TextWorld/", "BoardGame-Text/")
    return sorted(name for name in gymnasium.registry if name.startswith(prefixes))


class GameSection(BaseModel):
    """A registered text game other than the BabyAI-Text ``env`` section.

    ``gym_id`` is a Gymnasium id registered by glam_env (``TextWorld/CoinCollector-v0``,
    ``BoardGame-Text/TicTacToe-v0``, ...); ``kwargs`` go to ``gymnasium.make`` (e.g.
    ``{"config": {"difficulty": {"level": 1}}}``) and are validated by the game itself
    when the environments are built (before the run directory is written).
    """

    model_config = ConfigDict(extra="forbid")

    gym_id: str = Field(min_length=1)
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("gym_id")
    @classmethod
    def _registered(cls, value: str) -> str:
        known = registered_text_games()
        if value in known:
            return value
        close = difflib.get_close_matches(value, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        others = [k for k in known if not k.startswith("BabyAI-Text/")]
        raise ValueError(
            f"unknown text game {value!r}{hint} Registered games: {', '.join(others)} "
            "(BabyAI-Text levels go in the env section)"
        )

    @property
    def name(self) -> str:
        """A short name for run directories and reports (the id without namespace/version)."""
        return self.gym_id.split("/")[-1].rsplit("-v", 1)[0]


class DistributedSettings(BaseModel):
    """How the ranks of a torchrun launch share the work (ignored in one process).

    ``strategy``: ``data_parallel`` keeps a whole copy of the policy on every rank
    and sums gradients over ranks; ``fsdp`` shards the LM's parameters, gradients and
    optimizer states over the ranks (PyTorch FSDP2), for models that do not fit on
    one device. ``backend``: ``auto`` is NCCL for GPU tensors (with gloo for the few
    CPU ones) when CUDA is available, else gloo. ``timeout_minutes``: how long a
    rank waits for the others in a collective (evaluations run on rank 0 while the
    others wait) before the run fails instead of hanging.
    """

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["data_parallel", "fsdp"] = "data_parallel"
    backend: Literal["auto", "nccl", "gloo"] = "auto"
    timeout_minutes: float = Field(30.0, gt=0)


class BehaviorCloningSection(BaseModel):
    """Behavioural cloning from the BabyAI bot before PPO (``glam_apps.training.cloning``)."""

    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(0, ge=0)
    """Episodes the bot plays for demonstrations; 0: no cloning."""
    seed: int = Field(2_000_000, ge=0)
    """Seed of the first demonstration episode (away from the evaluation's 1,000,000+),
    offset by ``run.seed * episodes``: each run seed clones its own demonstrations."""
    training: BCConfig = Field(default_factory=BCConfig)
    """Epochs, batch size, learning rates... of ``glam_policy.behavior_cloning``; its
    ``seed`` is offset by ``run.seed``."""


#: The agents ``glam train`` trains. ``glam``: the LLM policy (``policy``,
#: ``default_model``) with PPO; ``symbolic-ppo``: ``glam_ppo.networks``'
#: grid-and-mission network (``symbolic``) with the same PPO, on the same levels
#: through glam_env's symbolic observations; ``drrn``: ``glam_ppo.drrn``'s
#: Q-learning over the admissible actions' texts (``drrn``), on any text game.
AgentName = Literal["glam", "symbolic-ppo", "drrn"]

#: DRRN fields the run decides (like PPO's): set ``run.*`` instead.
DRRN_MANAGED_FIELDS: dict[str, str] = {
    "seed": "run.seed",
    "total_steps": "run.total_steps",
    "checkpoint_every": "run.checkpoint_every",
    "checkpoint_dir": "the run directory",
    "keep_checkpoints": "run.keep_checkpoints",
}


class TrainConfig(BaseModel):
    """Everything ``glam train`` needs; loadable from YAML with ``--set`` overrides."""

    model_config = ConfigDict(extra="forbid")

    agent: AgentName = "glam"
    """Which agent to train (see :data:`AgentName`)."""
    run: RunSettings = Field(default_factory=RunSettings)
    env: BabyAITextConfig = Field(default_factory=BabyAITextConfig)
    game: GameSection | None = None
    """Another text game to train on instead of ``env`` (None: BabyAI-Text, ``env``)."""
    policy: PolicySection = Field(default_factory=PolicySection)
    default_model: DefaultModelRecipe = Field(default_factory=DefaultModelRecipe)
    ppo: PPOSection = Field(default_factory=PPOSection)
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)
    symbolic: SymbolicNetworkConfig = Field(default_factory=SymbolicNetworkConfig)
    """Layer sizes of the ``symbolic-ppo`` agent's network (unused by the others)."""
    drrn: DRRNConfig = Field(default_factory=DRRNConfig)
    """The ``drrn`` agent's network and Q-learning settings (the ``ppo`` section is unused)."""
    bc: BehaviorCloningSection = Field(default_factory=BehaviorCloningSection)
    """Behavioural cloning from the bot before PPO (the ``glam`` agent, BabyAI-Text)."""

    @model_validator(mode="after")
    def _agent_needs(self) -> TrainConfig:
        if self.agent == "symbolic-ppo":
            if self.game is not None:
                raise ValueError(
                    "agent symbolic-ppo reads BabyAI's grid: it plays the env section's "
                    "levels, not a game"
                )
            if self.env.observation != "both":
                raise ValueError(
                    "agent symbolic-ppo reads the grid and the mission's word ids: set "
                    "env.observation: both (the text stays for the evaluation's baselines)"
                )
            if self.distributed.strategy == "fsdp":
                raise ValueError(
                    "distributed.strategy fsdp shards large language models; the symbolic "
                    "agent's network is small: use data_parallel"
                )
        if self.bc.episodes > 0:
            if self.agent != "glam" or self.game is not None:
                raise ValueError(
                    "bc.episodes: behavioural cloning from the BabyAI bot trains the glam "
                    "agent on a BabyAI-Text level (no game, agent glam)"
                )
            if self.distributed.strategy == "fsdp":
                raise ValueError("bc.episodes: cloning a sharded policy is not supported")
        for name in sorted(set(DRRN_MANAGED_FIELDS) & self.drrn.model_fields_set):
            raise ValueError(f"drrn.{name} is managed by {DRRN_MANAGED_FIELDS[name]}")
        if self.agent == "drrn" and self.distributed.strategy == "fsdp":
            raise ValueError("agent drrn runs in one process: fsdp is for large language models")
        return self

    @model_validator(mode="after")
    def _single_source_of_truth(self) -> TrainConfig:
        for field, run_value in (("seed", self.run.seed), ("total_steps", self.run.total_steps)):
            if field in self.ppo.model_fields_set and getattr(self.ppo, field) != run_value:
                raise ValueError(f"ppo.{field} is taken from run.{field}; set run.{field} instead")
        if self.run.eval_level is not None:
            try:
                BabyAITextConfig(level=self.run.eval_level)
            except ValidationError as error:
                reason = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
                raise ValueError(f"run.eval_level: {reason}") from None
        if "seed" in self.policy.model_fields_set and self.policy.seed != self.run.seed:
            raise ValueError("policy.seed is taken from run.seed; set run.seed instead")
        if self.game is not None:
            if self.run.eval_level is not None:
                raise ValueError("run.eval_level is for BabyAI-Text levels; remove it with game")
            babyai_only = sorted({"bot", "keyword"} & set(self.run.eval_baselines))
            if babyai_only:
                names = ", ".join(babyai_only)
                raise ValueError(f"run.eval_baselines: {names} play(s) BabyAI only; use [random]")
            if self.default_model.corpus_levels is not None:
                raise ValueError(
                    "default_model.corpus_levels are BabyAI-Text levels; with game the "
                    "corpus is played in the game itself: remove them"
                )
        return self

    # ------------------------------------------------------------------ derived

    @property
    def uses_offline_default(self) -> bool:
        """Whether the run builds the offline default LLM (the ``glam`` agent only)."""
        return self.agent == "glam" and self.policy.model == OFFLINE_DEFAULT

    @property
    def steps_per_update(self) -> int:
        """Env steps per update over all ranks (``run.num_envs`` is global).

        A PPO update follows ``ppo.num_steps`` vector steps; a DRRN iteration (its
        updates, metrics and checkpoints) ``drrn.num_steps``.
        """
        num_steps = self.drrn.num_steps if self.agent == "drrn" else self.ppo.num_steps
        return num_steps * self.run.num_envs

    def per_rank(self, world_size: int) -> tuple[int, int]:
        """``(num_envs, minibatch_size)`` of one rank of ``world_size``; a clear error
        when the global values do not split evenly."""
        for name, value in (
            ("run.num_envs", self.run.num_envs),
            ("ppo.minibatch_size", self.ppo.minibatch_size),
        ):
            if value % world_size:
                raise ValueError(
                    f"{name}={value} cannot be split evenly over {world_size} ranks: "
                    f"use a multiple of {world_size} (it is the total over all ranks)"
                )
        return self.run.num_envs // world_size, self.ppo.minibatch_size // world_size

    def updates_for(self, env_steps: int | None) -> int | None:
        """Env steps -> whole PPO updates (rounded up, at least 1)."""
        if env_steps is None:
            return None
        return max(1, math.ceil(env_steps / self.steps_per_update))

    @property
    def eval_level(self) -> str:
        """The evaluation level; with ``game``, the game's id."""
        if self.game is not None:
            return self.game.gym_id
        return self.run.eval_level or self.env.level

    @property
    def env_name(self) -> str:
        """Short name of the training environment (BabyAI level or game)."""
        return self.game.name if self.game is not None else self.env.level

    def to_yaml_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (what ``config.yaml`` of a run holds).

        Every default is written out, so a run is reproducible even if defaults
        change; the PPO fields the run manages are left out (they come from ``run``).
        """
        data = self.model_dump(mode="json")
        if data.get("game") is None:
            data.pop("game", None)  # BabyAI-Text runs keep their config unchanged
        data["policy"].pop("seed", None)  # from run.seed
        ppo = data["ppo"]
        for key in PPO_MANAGED_FIELDS:
            ppo.pop(key, None)
        for key in DRRN_MANAGED_FIELDS:
            data["drrn"].pop(key, None)
        preset = ppo.pop("preset_name", None)
        if preset is not None:
            data["ppo"] = {"preset": preset, **ppo}
        return data
