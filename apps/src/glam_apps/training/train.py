"""``glam train``: PPO fine-tuning of an LLM policy in a text game, as a resumable run.

``train(config)`` composes the three libraries (``glam_env`` vector env,
``glam_policy`` LLM policy, ``glam_ppo`` trainer) and owns the run directory
(see :mod:`glam_apps.runs.rundir`): resolved config, metrics (JSONL + TensorBoard),
periodic checkpoints of the full training state, the best policy by evaluation
success, the final policy, and evaluation results.

Stopping. A first Ctrl-C (SIGINT) or SIGTERM asks the run to stop at the end of
the current PPO update; it then saves a checkpoint and returns with status
``interrupted``. A second signal stops at once (nothing more is saved). During the
final evaluation there is no update to finish: the first signal stops at once, the
status says ``interrupted`` with a note, and ``--resume`` finalizes the run.

One owner. The process that owns a run directory (rank 0 under torchrun) holds its
lock (:class:`glam_apps.runs.rundir.RunLock`) from its first check to its return, so a
second ``glam train`` or ``--resume`` on it is refused with the holder's pid.

Several processes. Under ``torchrun`` (see :mod:`glam_apps.training.distributed`) every
rank trains its share of the environments and rank 0 alone writes the run
directory and evaluates while the others wait; counts are global.

Resuming. ``resume(run_dir)`` rebuilds everything from the run's ``config.yaml``
and the newest checkpoint; the PPO checkpoint holds parameters, optimizer and
RNG states, counters and the episodes in progress (replayed, see
``glam_ppo.episode_replay``), so a resumed run continues exactly as if it had not
stopped. A resume may change settings: :data:`RESUME_RULES` says, field by field
(``run``, ``ppo``, ``env``, ``policy``, ``distributed``, and the ``game`` and
``default_model`` sections whole), which are applied and which are refused (none is
recorded and ignored). A run killed before its first complete
checkpoint starts again from the beginning; a run killed during its final
evaluation is finalized; leftovers of a kill are removed first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from glam_apps import __version__
from glam_apps.config.loading import compose, load_yaml
from glam_apps.config.schema import TrainConfig
from glam_apps.errors import IncompatibleCheckpointError, TrainingDivergedError, UserError
from glam_apps.evaluation.agents import PolicyAgent
from glam_apps.evaluation.evaluate import LoadedAgent, evaluate_agent, load_agent
from glam_apps.evaluation.report import EvaluationReport, write_report
from glam_apps.games.envs import make_game_vector_env
from glam_apps.models.default_model import recipe_key
from glam_apps.models.policies import (
    CHECKPOINT_CONFIG,
    COMPATIBILITY_KEYS,
    apply_trust_flag,
    build_policy,
    check_compatible,
    config_differences,
    load_training_weights,
)
from glam_apps.runs.atomic import (
    append_jsonl,
    atomic_directory,
    atomic_write_json,
    atomic_write_text,
    atomic_write_yaml,
)
from glam_apps.runs.rundir import LOCK_FILE, RunDir, RunLock, read_jsonl
from glam_apps.runs.signals import on_stop_signals
from glam_apps.training import cloning
from glam_apps.training.distributed import Launch, agreed, any_rank, main_rank_first, process_group
from glam_apps.training.sharding import PolicySaver, fsdp_build_config, shard_llm_policy
from glam_apps.training.tracking import Tracker, require_wandb
from glam_env import BabyAITextConfig
from glam_ppo import (
    PPO,
    Callback,
    JSONLWriter,
    NonFiniteLossError,
    PPOConfig,
    TensorBoardWriter,
    gathered,
)
from glam_ppo import checkpoint as ppo_checkpoint
from glam_ppo.distributed import DistributedContext
from glam_ppo.drrn import DRRN, DRRNConfig
from glam_ppo.schedules import schedule_factor

logger = logging.getLogger(__name__)

#: What trains a run: PPO (the ``glam`` and ``symbolic-ppo`` agents) or DRRN. Both
#: take glam_ppo callbacks and share the counters, checkpoints and stop requests
#: the run directory needs.
Trainer = PPO | DRRN

BEST_FILE = "best.json"


# ---------------------------------------------------------------------- hooks


@dataclass(frozen=True)
class Progress:
    """What a progress display shows after each PPO update."""

    env_steps: int
    total_steps: int
    iteration: int
    steps_per_second: float
    success_rate: float
    mean_return: float
    episodes: int
    eval_success: float | None


@dataclass
class TrainHooks:
    """Optional callables through which a caller (the CLI) follows a run."""

    on_event: Callable[[str], None] | None = None
    on_start: Callable[[Progress], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    on_evaluation: Callable[[dict[str, Any]], None] | None = None

    def event(self, message: str) -> None:
        logger.info(message)
        if self.on_event is not None:
            self.on_event(message)


@dataclass
class TrainResult:
    """How a call to :func:`train` / :func:`resume` ended."""

    run_dir: Path
    status: str
    env_steps: int
    iteration: int
    final_report: EvaluationReport | None = None
    baseline_reports: list[EvaluationReport] = field(default_factory=list)
    best_success: float | None = None
    seconds: float = 0.0


class StopFlag:
    """Set by a signal handler or another thread; read after every PPO update."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str = "stop requested") -> None:
        self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


@contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[None]:
    """First SIGINT/SIGTERM sets ``flag``; a second one interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set(f"received {signal.Signals(signum).name}")
        logger.warning(
            "%s: stopping after the current update and saving a checkpoint "
            "(send it again to stop at once)",
            signal.Signals(signum).name,
        )

    with on_stop_signals(handler):
        yield


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """SIGINT/SIGTERM raise ``KeyboardInterrupt`` at once (the final evaluation).

    There is no update to finish then; without this, SIGTERM would end the process
    with no message and leave the status ``running``.
    """

    def handler(signum: int, frame: Any) -> None:
        logger.warning("%s: stopping the final evaluation at once", signal.Signals(signum).name)
        raise KeyboardInterrupt

    with on_stop_signals(handler):
        yield


# ---------------------------------------------------------------------- run directory


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_run_dir(config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{config.env_name}"


def _write_status(run: RunDir, status: str, **extra: Any) -> None:
    previous = run.read_status()
    if status != "interrupted":
        previous.pop("note", None)  # a note explains an interruption, not what came after
    atomic_write_json(
        run.status,
        {
            **previous,
            "status": status,
            "updated": _now(),
            "glam_apps": __version__,
            **extra,
        },
    )


def _truncate_jsonl_after(path: Path, global_step: int, inclusive: bool = True) -> None:
    """Drop records written after ``global_step`` (by the run that was interrupted).

    ``inclusive=False`` drops the records at ``global_step`` too (a finalization
    evaluates that step again).
    """
    if not path.is_file():
        return
    kept = [
        r
        for r in read_jsonl(path)
        if int(r.get("global_step", 0)) < global_step + (1 if inclusive else 0)
    ]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _clear_dead_attempt(run: RunDir) -> None:
    """Rank 0, restarting a run that has no checkpoint: remove what the dead attempt wrote.

    None of it can be continued, and the new attempt writes it all again from step 0
    (TensorBoard event files cannot be truncated, so they are removed too).
    """
    for path in (run.metrics, run.evaluations, run.eval / "final.json", run.eval / "final.md"):
        path.unlink(missing_ok=True)
    for directory in (run.tensorboard, run.best, run.final):
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------------- resume rules

APPLIED, REFUSED, MANAGED = "applied", "refused", "managed"

_SAME_MODEL = "the checkpoint holds the parameters of this model, heads and actions"
_NEW_ENVS = (
    "environments are built anew and start from seeded resets (the saved episodes are "
    "dropped); refused where it changes the offline default model, built from the env's text"
)
_POLICY_READS = "read at every forward (the policy's prompts or scores change from now on)"
#: The policy fields that decide its parameters: the checkpoint compatibility keys'.
_MODEL_FIELDS = tuple(
    key.removeprefix("policy.") for key in COMPATIBILITY_KEYS if key.startswith("policy.")
)
#: Sections whose fields are each ruled; the others are ruled whole.
_RULED_SECTIONS = ("run", "ppo", "env", "policy", "distributed")
_WHOLE_SECTIONS = ("agent", "symbolic", "drrn", "bc", "game", "default_model")

#: What a changed field does on ``--resume --set``: every ``run.*`` and ``ppo.*`` field
#: is here (a test checks it), so none can be recorded in config.yaml and ignored.
#: ``managed``: the value comes from another field (``run.*``), whose rule decides.
RESUME_RULES: dict[str, tuple[str, str]] = {
    "run.run_dir": (REFUSED, "a run stays in its directory (move the directory instead)"),
    "run.seed": (REFUSED, "the checkpoint holds the random states this seed started"),
    "run.total_steps": (APPLIED, "training continues to the new length"),
    "run.num_envs": (REFUSED, "the checkpoint's counters and random states are per env"),
    "run.asynchronous_envs": (APPLIED, "environments are built anew"),
    "run.head_learning_rate": (APPLIED, "set as the heads' base learning rate after loading"),
    "run.eval_every": (APPLIED, "evaluations from now on"),
    "run.eval_episodes": (APPLIED, "evaluations from now on"),
    "run.eval_seed": (APPLIED, "evaluations from now on"),
    "run.eval_level": (APPLIED, "evaluations from now on"),
    "run.eval_greedy": (APPLIED, "evaluations from now on"),
    "run.eval_num_envs": (APPLIED, "evaluations from now on"),
    "run.eval_baselines": (APPLIED, "the final evaluation"),
    "run.checkpoint_every": (APPLIED, "checkpoints from now on"),
    "run.keep_checkpoints": (APPLIED, "pruning from now on"),
    "run.torch_threads": (APPLIED, "set when the run is built"),
    "run.eval_at_start": (APPLIED, "read when training starts from step 0"),
    "run.log_transcripts": (APPLIED, "evaluations from now on"),
    "run.wandb": (APPLIED, "tracking from now on (the W&B run continues)"),
    "ppo.total_steps": (MANAGED, "run.total_steps"),
    "ppo.num_steps": (REFUSED, "the checkpoint's update counter counts rollouts of this length"),
    "ppo.seed": (MANAGED, "run.seed"),
    "ppo.rollout_eval_mode": (APPLIED, "read at every rollout"),
    "ppo.update_eval_mode": (APPLIED, "read at every update"),
    "ppo.gamma": (APPLIED, "read at every update"),
    "ppo.gae_lambda": (APPLIED, "read at every update"),
    "ppo.reward_scale": (APPLIED, "read at every step (the return statistics are kept)"),
    "ppo.normalize_rewards": (APPLIED, "read at every step (the return statistics are kept)"),
    "ppo.normalize_advantages": (APPLIED, "read at every update"),
    "ppo.num_epochs": (APPLIED, "read at every update"),
    "ppo.minibatch_size": (APPLIED, "read at every update"),
    "ppo.micro_batch_size": (APPLIED, "read at every update"),
    "ppo.learning_rate": (APPLIED, "set as the base learning rate after loading"),
    "ppo.lr_schedule": (APPLIED, "a function of the update counter"),
    "ppo.adam_betas": (APPLIED, "set on the optimizer after loading (its moments are kept)"),
    "ppo.adam_eps": (APPLIED, "set on the optimizer after loading"),
    "ppo.weight_decay": (APPLIED, "set on the optimizer after loading"),
    "ppo.max_grad_norm": (APPLIED, "read at every update"),
    "ppo.clip_coef": (APPLIED, "read at every update"),
    "ppo.clip_schedule": (APPLIED, "a function of the update counter"),
    "ppo.value_clip": (APPLIED, "read at every update"),
    "ppo.ent_coef": (APPLIED, "read at every update"),
    "ppo.vf_coef": (APPLIED, "read at every update"),
    "ppo.target_kl": (APPLIED, "read at every update"),
    "ppo.on_nonfinite": (APPLIED, "read at every update"),
    "ppo.checkpoint_every": (MANAGED, "run.checkpoint_every"),
    "ppo.checkpoint_dir": (MANAGED, "the run directory"),
    "ppo.keep_checkpoints": (MANAGED, "run.keep_checkpoints"),
    "ppo.checkpoint_trainable_only": (APPLIED, "checkpoints from now on"),
    "ppo.preset_name": (REFUSED, "config.yaml holds the preset's values: set the fields"),
    **{
        f"env.{name}": (APPLIED, _NEW_ENVS)
        for name in BabyAITextConfig.model_fields
        if name != "actions"
    },
    "env.actions": (REFUSED, _SAME_MODEL),
    "game": (REFUSED, _SAME_MODEL),
    "default_model": (REFUSED, _SAME_MODEL),
    "agent": (REFUSED, _SAME_MODEL),
    "symbolic": (REFUSED, _SAME_MODEL),
    "drrn": (REFUSED, "the checkpoint's network, vocabulary, replay and schedule follow it"),
    "bc": (REFUSED, "the cloning happened before the first update the checkpoint holds"),
    **{f"policy.{name}": (REFUSED, _SAME_MODEL) for name in _MODEL_FIELDS},
    "policy.dtype": (REFUSED, "the checkpoint's weights and optimizer moments are in its dtype"),
    "policy.revision": (REFUSED, _SAME_MODEL),
    "policy.device": (APPLIED, "the policy is built on the new device (numerics may differ)"),
    "policy.autocast": (APPLIED, "read at every forward (numerics may differ)"),
    "policy.attn_implementation": (APPLIED, "set when the model loads (numerics may differ)"),
    "policy.trust_remote_code": (APPLIED, "given per invocation by --trust-remote-code"),
    "policy.local_files_only": (APPLIED, "read when the model loads"),
    "policy.seed": (MANAGED, "run.seed"),
    "policy.template": (APPLIED, _POLICY_READS),
    "policy.normalization": (APPLIED, _POLICY_READS),
    "policy.append_eos": (APPLIED, _POLICY_READS),
    "policy.action_prefix": (APPLIED, _POLICY_READS),
    "policy.max_prompt_tokens": (APPLIED, _POLICY_READS),
    "policy.token_budget": (APPLIED, "read at every forward (batching only)"),
    "policy.scoring": (APPLIED, "read at every forward (how, not what, it computes)"),
    "policy.detach_value": (APPLIED, "read at every update"),
    "policy.gradient_checkpointing": (APPLIED, "set when the model is built (memory only)"),
    "policy.disable_dropout": (APPLIED, "set when the model is built"),
    "distributed.strategy": (
        REFUSED,
        "resuming a run under another strategy is not tested: start a new run",
    ),
    "distributed.backend": (APPLIED, "read when the process group starts"),
    "distributed.timeout_minutes": (APPLIED, "read when the process group starts"),
}

#: Optimizer group settings a checkpoint restores but the run's config decides.
_GROUP_SETTINGS = ("base_lr", "betas", "eps", "weight_decay")


def resume_changes(saved: TrainConfig, config: TrainConfig, check: bool = True) -> list[str]:
    """The changes a resume applies, as ``key: old -> new``.

    Raises a :class:`UserError` naming every refused field that changed
    (see :data:`RESUME_RULES`), unless ``check`` is false. ``run.run_dir`` is
    checked by the caller.
    """
    changes: list[tuple[str, Any, Any]] = []
    for section in _RULED_SECTIONS:
        before, after = getattr(saved, section), getattr(config, section)
        for name in type(after).model_fields:
            changes.append((f"{section}.{name}", getattr(before, name), getattr(after, name)))
    changes += [
        (section, getattr(saved, section), getattr(config, section)) for section in _WHOLE_SECTIONS
    ]
    applied: list[str] = []
    refused: list[str] = []
    for key, old, new in changes:
        if key == "run.run_dir" or old == new:
            continue
        rule, why = RESUME_RULES[key]
        if rule == APPLIED:
            applied.append(f"{key}: {old!r} -> {new!r}")
        elif rule == REFUSED:
            refused.append(f"{key} ({why})")
    if refused and check:
        raise UserError(f"cannot change {'; '.join(refused)} on --resume: start a new run for that")
    return applied


def _group_settings(trainer: Trainer) -> list[dict[str, Any]]:
    return [
        {key: group[key] for key in _GROUP_SETTINGS if key in group}
        for group in trainer.optimizer.param_groups
    ]


def _apply_group_settings(trainer: Trainer, settings: list[dict[str, Any]]) -> None:
    """Put the config's learning rates and Adam settings back after loading a checkpoint.

    ``load_checkpoint`` restores the optimizer's groups as saved; the run's config
    (maybe changed on resume) decides these, and the schedule then scales the new
    base learning rates from the current update on. Unchanged, they are the saved ones.
    """
    config = trainer.config
    factor = schedule_factor(config.lr_schedule, trainer.iteration, trainer.num_iterations)
    for group, values in zip(trainer.optimizer.param_groups, settings, strict=True):
        group.update(values)
        group["lr"] = group["base_lr"] * factor


# ---------------------------------------------------------------------- callback


class RunCallback(Callback):
    """Progress, stop requests, periodic evaluation, best policy, checkpoint metadata."""

    def __init__(self, session: _Session) -> None:
        self.session = session
        self.recent: deque[tuple[float, float]] = deque(maxlen=100)
        self.last_checkpoint_iteration = -1

    def on_training_start(self, trainer: Trainer) -> None:
        session = self.session
        if session.tracker is not None:
            session.tracker.start(trainer.global_step)
        if session.config.run.eval_at_start and trainer.global_step == 0:
            session.periodic_evaluation(trainer)  # the step-0 point of the curves
        if session.hooks.on_start is not None:
            session.hooks.on_start(self.progress(trainer, {}))

    def on_episode_end(self, trainer: Trainer, episode: Any) -> None:
        success = float(bool(episode.success)) if episode.success is not None else math.nan
        self.recent.append((success, float(episode.episode_return)))

    def progress(self, trainer: Trainer, metrics: dict[str, float]) -> Progress:
        successes = [s for s, _ in self.recent if not math.isnan(s)]
        returns = [r for _, r in self.recent]
        return Progress(
            env_steps=trainer.global_step,
            total_steps=trainer.config.total_steps,
            iteration=trainer.iteration,
            steps_per_second=float(metrics.get("steps_per_second", math.nan)),
            success_rate=sum(successes) / len(successes) if successes else math.nan,
            mean_return=sum(returns) / len(returns) if returns else math.nan,
            episodes=trainer.num_episodes,
            eval_success=self.session.last_eval_success,
        )

    def on_update_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        session = self.session
        if session.tracker is not None:
            session.tracker.log_update(metrics)
        every = session.config.updates_for(session.config.run.eval_every)
        if every is not None and trainer.iteration % every == 0:
            session.periodic_evaluation(trainer)
        if session.hooks.on_progress is not None:
            session.hooks.on_progress(self.progress(trainer, metrics))
        # A signal may reach the ranks at different updates: all stop at the same one.
        if any_rank(session.launch, session.stop.is_set()):
            trainer.request_stop()

    def on_checkpoint_staged(self, trainer: Trainer, staging: Path) -> None:
        # Inside the checkpoint before it is committed: a kill never leaves one without it.
        atomic_write_yaml(staging / CHECKPOINT_CONFIG, self.session.config.to_yaml_dict())

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        self.last_checkpoint_iteration = trainer.iteration
        if not self.session.launch.is_main:
            return
        _write_status(
            self.session.run,
            "running",
            global_step=trainer.global_step,
            iteration=trainer.iteration,
            checkpoint=str(path.relative_to(self.session.run.root)),
        )


# ---------------------------------------------------------------------- the session


class _Session:
    """Everything one call of train/resume builds and owns."""

    def __init__(
        self,
        config: TrainConfig,
        run: RunDir,
        hooks: TrainHooks,
        stop: StopFlag,
        launch: Launch | None = None,
    ) -> None:
        self.config = config
        self.run = run
        self.launch = launch or Launch()
        # Only rank 0 reports progress: the others would repeat it.
        self.hooks = hooks if self.launch.is_main else TrainHooks()
        self.stop = stop
        best = {}
        if self.launch.is_main and (run.best / BEST_FILE).is_file():
            best = load_yaml(run.best / BEST_FILE)
        self.best_success: float | None = best.get("success_rate")
        self.last_eval_success: float | None = None
        self.last_eval: tuple[int, EvaluationReport] | None = None
        self.policy: Any = None
        self.saver: PolicySaver | None = None
        self.trainer: Trainer | None = None
        self.callback = RunCallback(self)
        #: TensorBoard extras and W&B (rank 0 only; see glam_apps.training.tracking).
        self.tracker = Tracker(run, config) if self.launch.is_main else None
        #: Env steps of the last evaluation (known on every rank, unlike its report).
        self.last_eval_step: int | None = None
        #: On resume: TensorBoard hides evaluation points at or after this step that
        #: the interrupted process wrote (they are replayed).
        self.eval_purge_step: int | None = None

    # -- building -------------------------------------------------------------------

    def ppo_config(self) -> PPOConfig:
        config = self.config
        _, minibatch_size = self.per_rank()
        micro = config.ppo.micro_batch_size
        return config.ppo.to_ppo_config(
            minibatch_size=minibatch_size,
            micro_batch_size=None if micro is None else min(micro, minibatch_size),
            seed=config.run.seed,
            total_steps=config.run.total_steps,
            checkpoint_every=config.updates_for(config.run.checkpoint_every),
            checkpoint_dir=self.run.periodic,
            keep_checkpoints=config.run.keep_checkpoints,
        )

    def drrn_config(self) -> DRRNConfig:
        """The ``drrn`` section with the run's seed, length and checkpoint schedule."""
        config = self.config
        return config.drrn.model_copy(
            update={
                "seed": config.run.seed,
                "total_steps": config.run.total_steps,
                "checkpoint_every": config.updates_for(config.run.checkpoint_every),
                "checkpoint_dir": self.run.periodic,
                "keep_checkpoints": config.run.keep_checkpoints,
            }
        )

    def per_rank(self) -> tuple[int, int]:
        """This rank's ``(num_envs, minibatch_size)`` (the config's values are global)."""
        try:
            return self.config.per_rank(self.launch.world_size)
        except ValueError as error:
            raise UserError(str(error)) from None

    def build(self) -> Trainer:
        config = self.config
        num_envs, _ = self.per_rank()
        require_wandb(config)
        if config.run.torch_threads is not None:
            torch.set_num_threads(config.run.torch_threads)
        torch.manual_seed(config.run.seed)
        if config.agent == "symbolic-ppo":
            self.hooks.event("building the symbolic agent's network")
        elif config.uses_offline_default:
            self.hooks.event("preparing the offline default model (built once, then cached)")
        else:
            self.hooks.event(f"loading model {config.policy.model}")
        if config.agent == "drrn":
            return self._build_drrn(num_envs)
        fsdp = config.distributed.strategy == "fsdp"
        with main_rank_first(self.launch):
            self.policy = build_policy(fsdp_build_config(config) if fsdp else config)
        if fsdp:
            self.policy = shard_llm_policy(self.policy)  # before the optimizer is built
        self.saver = PolicySaver(self.policy, config, self.launch)
        env = make_game_vector_env(
            config.game or config.env,
            num_envs=num_envs,
            asynchronous=config.run.asynchronous_envs,
        )
        groups = None
        if config.agent == "glam":  # the LM and the heads learn at their own rates
            groups = self.policy.param_groups(
                config.ppo.learning_rate, config.run.head_learning_rate
            )
        self.trainer = PPO(
            self.policy, env, self.ppo_config(), param_groups=groups, callbacks=self._callbacks()
        )
        return self.trainer

    def _callbacks(self) -> list[Callback]:
        if self.launch.is_main:
            return [
                JSONLWriter(self.run.metrics),
                TensorBoardWriter(self.run.tensorboard),
                self.callback,
            ]
        return [self.callback]

    def _build_drrn(self, num_envs: int) -> DRRN:
        """The DRRN trainer (one process: Q-learning has no data-parallel mode here)."""
        if self.launch.world_size > 1:
            raise UserError("agent drrn trains in one process: launch it without torchrun")
        config = self.config
        env = make_game_vector_env(
            config.game or config.env,
            num_envs=num_envs,
            asynchronous=config.run.asynchronous_envs,
        )
        self.trainer = DRRN(env, self.drrn_config(), callbacks=self._callbacks())
        self.policy = self.trainer.policy
        self.saver = PolicySaver(self.policy, config, self.launch)
        return self.trainer

    # -- evaluation -----------------------------------------------------------------

    def _policy_agent(self) -> LoadedAgent:
        config = self.config
        agent = PolicyAgent(
            self.policy, greedy=config.run.eval_greedy, seed=config.run.eval_seed, name="policy"
        )
        return LoadedAgent(
            agent, "policy", config.env, base_level=config.eval_level, game=config.game
        )

    def _evaluate(self, loaded: LoadedAgent, on_episode: Any = None) -> EvaluationReport:
        run = self.config.run
        return evaluate_agent(
            loaded,
            suite="level",
            level=self.config.eval_level,
            episodes=run.eval_episodes,
            seed=run.eval_seed,
            greedy=run.eval_greedy,
            num_envs=run.eval_num_envs,
            on_episode=on_episode,
        )

    def periodic_evaluation(self, trainer: Trainer) -> EvaluationReport | None:
        """Evaluate and record; a new best policy is saved. Every rank calls this.

        Rank 0 plays the episodes while the others wait (a sharded policy is gathered
        on all ranks for it); it returns the report on rank 0 and ``None`` elsewhere.
        """
        report: EvaluationReport | None = None
        record: dict[str, Any] = {}
        improved = False
        with self.main_rank_only(gather=True) as main:
            if main:
                report, record, improved = self._evaluate_and_record(trainer)
        self.last_eval_step = trainer.global_step
        if self.launch.distributed:  # rank 0 decides; saving is a collective under FSDP
            improved = bool(DistributedContext().broadcast_json(improved))
        if improved:
            self.save_policy(self.run.best, extra={BEST_FILE: record})
        if report is not None and self.hooks.on_evaluation is not None:
            self.hooks.on_evaluation(record)
        return report

    @contextmanager
    def main_rank_only(self, gather: bool = False) -> Iterator[bool]:
        """A block rank 0 runs while the others wait (yields "am I rank 0").

        ``gather``: rank 0 uses the policy in the block, so a sharded policy is
        gathered on every rank for it (its forwards then need no collective).
        """
        with gathered(self.policy) if gather else nullcontext():
            yield self.launch.is_main
            # Not reached when rank 0 fails in the block: torchrun then ends the others.
            if self.launch.distributed:
                DistributedContext().barrier()

    def _evaluate_and_record(
        self, trainer: Trainer
    ) -> tuple[EvaluationReport, dict[str, Any], bool]:
        """Rank 0: evaluate, append the record, update the best success."""
        self.hooks.event(f"evaluating at {trainer.global_step} env steps")
        loaded = self._policy_agent()
        assert self.tracker is not None  # rank 0
        recorder = self.tracker.transcript_agent(loaded.agent)
        if recorder is not None:  # records a few episodes, acting exactly as the agent
            loaded.agent = recorder
        report = self._evaluate(loaded, None if recorder is None else recorder.on_episode)
        summary = report.results[0].summary
        record = {
            "global_step": trainer.global_step,
            "iteration": trainer.iteration,
            "level": self.config.eval_level,
            **summary.to_dict(),
        }
        append_jsonl(self.run.evaluations, record)
        transcripts = [] if recorder is None else recorder.transcripts
        self.tracker.log_evaluation(record, transcripts, purge_step=self.eval_purge_step)
        self.last_eval_success = summary.success_rate
        self.last_eval = (trainer.global_step, report)
        improved = self.best_success is None or summary.success_rate > self.best_success
        if improved:
            self.best_success = summary.success_rate
        return report, record, improved

    def save_policy(self, directory: Path, extra: dict[str, Any] | None = None) -> None:
        """Save the policy with the run config (and ``extra`` JSON files), atomically.

        Every rank calls this (a sharded policy is gathered); rank 0 writes, into a
        folder swapped in once the policy and its extra files are all written (a kill
        leaves the old copy or the new one, see :func:`glam_apps.runs.atomic.atomic_directory`).
        """

        def write_extra(target: Path) -> None:
            atomic_write_yaml(target / CHECKPOINT_CONFIG, self.config.to_yaml_dict())
            for name, payload in (extra or {}).items():
                atomic_write_json(target / name, payload)

        assert self.saver is not None
        if not self.launch.is_main:
            self.saver.save(directory, write_extra)
            return
        with atomic_directory(directory) as staging:
            self.saver.save(staging, write_extra)

    def close(self) -> None:
        if self.tracker is not None:
            self.tracker.close()
        if self.trainer is not None:
            self.trainer.env.close()


# ---------------------------------------------------------------------- public API


def train(
    config: TrainConfig,
    *,
    hooks: TrainHooks | None = None,
    stop: StopFlag | None = None,
    handle_signals: bool = True,
    trust_remote_code: bool = False,
) -> TrainResult:
    """Start a new run in ``config.run.run_dir`` (default ``runs/<time>-<level>``).

    Under torchrun, every rank calls this with the same config (see
    :mod:`glam_apps.training.distributed`); rank 0 picks and owns the run directory.
    ``trust_remote_code`` alone lets the model run its own Python code: a config
    saying ``policy.trust_remote_code: true`` without it is refused.
    """
    config = apply_trust_flag(config, trust_remote_code, "the config")
    settings = config.distributed
    with process_group(settings.backend, settings.timeout_minutes) as launch:
        return _train(config, launch, hooks, stop, handle_signals)


def _new_run_dir(config: TrainConfig, locks: ExitStack) -> str:
    """Rank 0: the new run's directory, created and locked (``locks`` holds the lock).

    The lock comes before the checks, so that two processes starting the same run
    cannot both find it empty. A run that fails before writing its config leaves no
    directory behind (nor the lock file, when the directory was not there before).
    """
    run = RunDir.at(config.run.run_dir or default_run_dir(config))
    created = not run.root.exists()
    locks.enter_context(RunLock(run))
    if created:
        locks.callback(_remove_unstarted, run)
    if run.is_run():
        raise UserError(
            f"{run.root} already holds a run: continue it with --resume {run.root} "
            "or choose another run directory"
        )
    if any(path.name != LOCK_FILE for path in run.root.iterdir()):
        raise UserError(f"run directory {run.root} exists and is not empty")
    return str(run.root)


def _remove_unstarted(run: RunDir) -> None:
    """Remove the directory :func:`_new_run_dir` created if the run never started."""
    if run.is_run():
        return
    run.lock.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: something else put files there
        run.root.rmdir()


def _train(
    config: TrainConfig,
    launch: Launch,
    hooks: TrainHooks | None,
    stop: StopFlag | None,
    handle_signals: bool,
) -> TrainResult:
    with ExitStack() as locks:  # rank 0 holds the run's lock until the run returns
        root = agreed(launch, lambda: _new_run_dir(config, locks))
        return _train_in(RunDir.at(root), config, launch, hooks, stop, handle_signals)


def _train_in(
    run: RunDir,
    config: TrainConfig,
    launch: Launch,
    hooks: TrainHooks | None,
    stop: StopFlag | None,
    handle_signals: bool,
) -> TrainResult:
    config = config.model_copy(update={"run": config.run.model_copy(update={"run_dir": run.root})})
    session = _Session(config, run, hooks or TrainHooks(), stop or StopFlag(), launch)
    try:
        trainer = session.build()  # everything that can fail on bad input fails here
        if launch.is_main:
            run.root.mkdir(parents=True, exist_ok=True)
            atomic_write_yaml(run.config, config.to_yaml_dict())
            _write_status(
                run,
                "running",
                started=_now(),
                global_step=0,
                iteration=0,
                world_size=launch.world_size,
            )
            session.hooks.event(f"run directory: {run.root}")
            if launch.distributed:
                session.hooks.event(
                    f"{launch.world_size} ranks ({config.distributed.strategy}): "
                    f"{config.run.num_envs // launch.world_size} envs each"
                )
        if config.bc.episodes > 0:
            _behavior_cloning(session)
        return _learn(session, trainer, handle_signals)
    finally:
        session.close()


def _behavior_cloning(session: _Session) -> None:
    """Clone the bot before the first update (a fresh run; see ``glam_apps.training.cloning``).

    Rank 0 collects the demonstrations into the run directory first; every rank
    then clones the same data identically, so the replicas stay equal.
    """
    run, launch = session.run, session.launch
    demonstrations = run.root / cloning.DEMONSTRATIONS_FILE
    with main_rank_first(launch):
        if launch.is_main:
            cloning.collect(session.config, run.root, session.hooks.event)
    metrics = run.root / cloning.METRICS_FILE if launch.is_main else None
    if metrics is not None:  # a restarted attempt clones again from the start
        metrics.unlink(missing_ok=True)
    cloning.clone(session.policy, session.config, demonstrations, metrics, session.hooks.event)


def resume(
    run_dir: str | os.PathLike[str],
    *,
    overrides: Iterable[str] = (),
    hooks: TrainHooks | None = None,
    stop: StopFlag | None = None,
    handle_signals: bool = True,
    trust_remote_code: bool = False,
) -> TrainResult:
    """Continue a run from its newest checkpoint (``overrides``: e.g. ``run.total_steps=...``).

    Under torchrun, the run must be resumed with as many ranks as it was trained with.
    ``trust_remote_code`` is this call's decision; the run's ``config.yaml`` cannot make it.
    """
    overrides = list(overrides)
    # The process group comes before the run's config can be read (rank 0 reads it):
    # only --set distributed.* overrides apply to it.
    settings = compose(
        TrainConfig, overrides=[o for o in overrides if o.startswith("distributed.")]
    ).distributed
    with process_group(settings.backend, settings.timeout_minutes) as launch:
        return _resume(run_dir, overrides, launch, hooks, stop, handle_signals, trust_remote_code)


def _check_resumable(
    run_dir: str | os.PathLike[str], overrides: list[str], launch: Launch, locks: ExitStack
) -> dict[str, Any]:
    """Rank 0's checks before resuming: what to do, with which config and checkpoint.

    Takes the run's lock (into ``locks``) first and removes the leftovers of a kill.
    The plan's ``latest`` is None when no checkpoint was completed (the run starts
    again from the beginning); ``finalize`` is set when training reached its steps
    but the run was stopped before it finished (final policy, evaluation, status).
    """
    run = RunDir.at(run_dir).require_run()
    locks.enter_context(RunLock(run))
    run.remove_leftovers()
    saved = compose(TrainConfig, path=run.config)
    config = compose(TrainConfig, path=run.config, overrides=overrides)
    moved_to = config.run.run_dir
    if moved_to != saved.run.run_dir and moved_to is not None and RunDir.at(moved_to) != run:
        rule = RESUME_RULES["run.run_dir"][1]
        raise UserError(f"cannot change run.run_dir on --resume: {rule}")
    if config.run.run_dir is not None and RunDir.at(config.run.run_dir) != run:
        config = config.model_copy(
            update={"run": config.run.model_copy(update={"run_dir": run.root})}
        )
    changed = config_differences(saved, config)
    if changed:
        raise IncompatibleCheckpointError(
            f"cannot resume {run.root} with a changed model, heads, actions or game "
            f"(the checkpoint holds their parameters): {'; '.join(changed)}; "
            "start a new run for that"
        )
    if config.uses_offline_default and recipe_key(
        saved.default_model, saved.game or saved.env
    ) != recipe_key(config.default_model, config.game or config.env):
        env_changes = [
            k for k in resume_changes(saved, config, check=False) if k.startswith("env.")
        ]
        raise IncompatibleCheckpointError(
            f"cannot resume {run.root} with {'; '.join(env_changes)}: the offline default "
            "model is built from the environment's text, so this change makes another model; "
            "start a new run for that"
        )
    applied = resume_changes(saved, config)
    plan: dict[str, Any] = {
        "root": str(run.root),
        "config": config.to_yaml_dict(),
        "latest": None,
        "finalize": False,
        "applied": applied,
    }
    latest = ppo_checkpoint.latest_checkpoint(run.periodic)
    if latest is None:
        damaged = sorted(p.name for p in run.periodic.glob(f"{ppo_checkpoint.PREFIX}*"))
        if damaged:  # never start again over checkpoints a user may want to repair
            raise UserError(
                f"run {run.root} has checkpoints but none is complete ({', '.join(damaged)}): "
                "repair or remove them to resume"
            )
        return plan  # killed before its first checkpoint: start again from the beginning
    check_compatible(latest, config)
    state = ppo_checkpoint.read_json(latest / "state.json")
    written_by = int(state.get("world_size", 1))
    if written_by != launch.world_size:
        how = f"torchrun --nproc_per_node {written_by}" if written_by > 1 else "without torchrun"
        raise IncompatibleCheckpointError(
            f"run {run.root} was trained with {written_by} rank(s) and this launch has "
            f"{launch.world_size}: resume it with the same number ({how})"
        )
    done = int(state.get("global_step", 0))
    if done >= config.updates_for(config.run.total_steps) * config.steps_per_update:
        if run.read_status().get("status") == "finished":
            raise UserError(
                f"run {run.root} already reached {done} env steps; "
                f"to train longer: --resume {run.root} --set run.total_steps=<more>"
            )
        plan["finalize"] = True  # stopped during its final evaluation
    return {**plan, "latest": str(latest)}


def _resume(
    run_dir: str | os.PathLike[str],
    overrides: list[str],
    launch: Launch,
    hooks: TrainHooks | None,
    stop: StopFlag | None,
    handle_signals: bool,
    trust_remote_code: bool = False,
) -> TrainResult:
    with ExitStack() as locks:  # rank 0 holds the run's lock from its checks to the end
        plan = agreed(launch, lambda: _check_resumable(run_dir, overrides, launch, locks))
        return _resume_planned(plan, launch, hooks, stop, handle_signals, trust_remote_code)


def _resume_planned(
    plan: dict[str, Any],
    launch: Launch,
    hooks: TrainHooks | None,
    stop: StopFlag | None,
    handle_signals: bool,
    trust_remote_code: bool = False,
) -> TrainResult:
    """Continue, start again or finalize the run, as rank 0's checks planned."""
    run = RunDir(Path(plan["root"]))
    config = TrainConfig.model_validate(plan["config"])
    config = apply_trust_flag(config, trust_remote_code, str(run.config))
    latest = None if plan["latest"] is None else Path(plan["latest"])
    session = _Session(config, run, hooks or TrainHooks(), stop or StopFlag(), launch)
    try:
        trainer = session.build()
        if latest is not None:
            ppo = isinstance(trainer, PPO)  # DRRN's optimizer settings are refused whole
            settings = _group_settings(trainer) if ppo else []
            try:
                if ppo:  # a changed environment cannot continue the saved episodes
                    new_envs = any(change.startswith("env.") for change in plan["applied"])
                    trainer.load_checkpoint(latest, restore_episodes=not new_envs)
                else:
                    trainer.load_checkpoint(latest)
            except Exception as error:
                if launch.is_main:
                    load_training_weights(session.policy, latest)  # names the mismatch
                raise IncompatibleCheckpointError(
                    f"checkpoint {latest} cannot be resumed: {' '.join(str(error).split())}"
                ) from error
            if ppo:
                _apply_group_settings(trainer, settings)
            session.callback.last_checkpoint_iteration = trainer.iteration
        finalize = trainer.iteration >= trainer.num_iterations
        if finalize and not plan["finalize"]:
            raise UserError(
                f"run {run.root} already reached {trainer.global_step} env steps; "
                f"to train longer: --resume {run.root} --set run.total_steps=<more>"
            )
        if launch.is_main:
            if latest is None:
                _clear_dead_attempt(run)
                session.best_success = None  # read from the best/ just cleared
                _write_status(
                    run,
                    "running",
                    restarted=_now(),
                    global_step=0,
                    iteration=0,
                    world_size=launch.world_size,
                )
                session.hooks.event(
                    f"{run.root} has no complete checkpoint: starting it again from the "
                    "beginning (metrics, evaluations and TensorBoard of the stopped attempt "
                    "cleared)"
                )
            else:
                _truncate_jsonl_after(run.evaluations, trainer.global_step, not finalize)
                _write_status(run, "running", resumed=_now())
                what = "finalizing" if finalize else "resuming"
                session.hooks.event(f"{what} {run.root} at {trainer.global_step} env steps")
            for change in plan["applied"]:
                session.hooks.event(f"applying {change}")
            if plan["applied"]:
                atomic_write_yaml(run.config, config.to_yaml_dict())
        session.eval_purge_step = trainer.global_step + 1
        if finalize:
            result = TrainResult(
                run_dir=run.root,
                status="finished",
                env_steps=trainer.global_step,
                iteration=trainer.iteration,
                best_success=session.best_success,
            )
            return _finalize(session, trainer, result, time.perf_counter(), handle_signals)
        return _learn(session, trainer, handle_signals)
    finally:
        session.close()


def _learn(session: _Session, trainer: Trainer, handle_signals: bool) -> TrainResult:
    start = time.perf_counter()
    run = session.run
    try:
        if handle_signals:
            with stop_on_signals(session.stop):
                trainer.learn()
        else:
            trainer.learn()
    except BaseException as error:
        # Stopped at once (second signal) or failed: the last checkpoint stands.
        if session.launch.is_main:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            _write_status(run, status, global_step=trainer.global_step, iteration=trainer.iteration)
        if isinstance(error, NonFiniteLossError):  # not the user's input: exit code 3 at the CLI
            raise TrainingDivergedError(
                f"training diverged in update {trainer.iteration + 1} (after "
                f"{trainer.global_step} env steps): {' '.join(str(error).split())}; run "
                f"{run.root} is marked failed and keeps its last checkpoint"
            ) from error
        if isinstance(error, KeyboardInterrupt):
            session.hooks.event(
                f"stopped at once at {trainer.global_step} env steps: the last checkpoint "
                f"stands; continue with: glam train --resume {run.root}"
            )
        raise
    interrupted = trainer.iteration < trainer.num_iterations
    if session.callback.last_checkpoint_iteration != trainer.iteration:
        trainer.save_checkpoint(run.periodic)
    result = TrainResult(
        run_dir=run.root,
        status="interrupted" if interrupted else "finished",
        env_steps=trainer.global_step,
        iteration=trainer.iteration,
        best_success=session.best_success,
    )
    if interrupted:
        if session.launch.is_main:
            _write_status(
                run, "interrupted", global_step=trainer.global_step, iteration=trainer.iteration
            )
        session.hooks.event(
            f"stopped at {trainer.global_step} env steps ({session.stop.reason}); "
            f"continue with: glam train --resume {run.root}"
        )
        result.seconds = time.perf_counter() - start
        return result
    return _finalize(session, trainer, result, start, handle_signals)


def _finalize(
    session: _Session, trainer: Trainer, result: TrainResult, start: float, handle_signals: bool
) -> TrainResult:
    """:func:`_finish`, where a signal stops at once and leaves a run ``--resume`` finalizes.

    Rank 0 alone handles the signal (it evaluates; the others wait in a collective,
    where a Python handler would not run): its status says ``interrupted`` with a note.
    """
    run = session.run
    main = session.launch.is_main
    try:
        with interrupt_on_signals() if handle_signals and main else nullcontext():
            _finish(session, trainer, result)
    except KeyboardInterrupt:
        note = f"stopped during the final evaluation; glam train --resume {run.root} finalizes it"
        if main:
            _write_status(
                run,
                "interrupted",
                global_step=trainer.global_step,
                iteration=trainer.iteration,
                note=note,
            )
        session.hooks.event(note)
        result.status = "interrupted"
        result.final_report = None
    result.seconds = time.perf_counter() - start
    return result


def _finish(session: _Session, trainer: Trainer, result: TrainResult) -> None:
    """Final policy, final evaluation (with baselines on the same seeds), status.

    Every rank calls this; rank 0 evaluates and writes while the others wait.
    """
    session.save_policy(session.run.final)
    session.hooks.event(f"final evaluation on {session.config.eval_level}")
    if session.last_eval_step != trainer.global_step:
        session.periodic_evaluation(trainer)
    with session.main_rank_only() as main:
        if main:
            _final_report(session, trainer, result)


def _final_report(session: _Session, trainer: Trainer, result: TrainResult) -> None:
    """Rank 0: the final evaluation's report with the baselines, and the status."""
    run, config = session.run, session.config
    assert session.last_eval is not None and session.last_eval[0] == trainer.global_step
    report = session.last_eval[1]
    report = EvaluationReport(
        agent=f"{run.root.name} (final)",
        suite=report.suite,
        episodes=report.episodes,
        seed=report.seed,
        greedy=report.greedy,
        results=report.results,
        metadata={**report.metadata, "env_steps": trainer.global_step},
    )
    baselines = []
    for name in config.run.eval_baselines:
        loaded = load_agent(name, seed=config.run.eval_seed)
        loaded.env_config = config.env
        loaded.game = config.game
        loaded.base_level = config.eval_level
        baselines.append(session._evaluate(loaded))
    combined = EvaluationReport(
        agent=report.agent,
        suite="final",
        episodes=report.episodes,
        seed=report.seed,
        greedy=report.greedy,
        results=[
            *report.results,
            *(
                type(r)(
                    name=f"{b.agent} baseline",
                    level=r.level,
                    summary=r.summary,
                    variant=r.variant,
                    template=r.template,
                    group="baseline",
                )
                for b in baselines
                for r in b.results[:1]
            ),
        ],
        metadata=report.metadata,
    )
    write_report(combined, run.eval, "final")
    result.final_report = combined
    result.baseline_reports = baselines
    result.best_success = session.best_success
    _write_status(
        run,
        "finished",
        global_step=trainer.global_step,
        iteration=trainer.iteration,
        final_success_rate=report.results[0].summary.success_rate,
        best_success_rate=session.best_success,
    )
