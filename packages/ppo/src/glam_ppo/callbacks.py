"""Callbacks: how metrics and events leave the trainer.

A :class:`Callback` overrides the hooks it needs; the trainer calls them in this
order each iteration: ``on_rollout_start``, ``on_episode_end`` (once per finished
episode), ``on_rollout_end``, ``on_update_end`` (with the metrics dict), and
``on_checkpoint`` when one was written. ``trainer.request_stop()`` ends training
after the current iteration. Writers only write on rank 0 of a data-parallel run.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glam_ppo.buffer import Batch
from glam_ppo.checkpoint import write_text_atomic
from glam_ppo.episodes import EpisodeRecord

if TYPE_CHECKING:
    from glam_ppo.trainer import PPO

logger = logging.getLogger(__name__)


class Callback:
    """Base class: every hook does nothing."""

    def on_training_start(self, trainer: PPO) -> None:
        """Before the first iteration of :meth:`PPO.learn` (also after a resume)."""

    def on_rollout_start(self, trainer: PPO) -> None:
        """Before collecting a rollout."""

    def on_episode_end(self, trainer: PPO, episode: EpisodeRecord) -> None:
        """For each episode that ended during the rollout."""

    def on_rollout_end(self, trainer: PPO, batch: Batch, episodes: list[EpisodeRecord]) -> None:
        """After the rollout, with the batch about to be learned from."""

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        """After the update, with this iteration's metrics."""

    def on_checkpoint_staged(self, trainer: PPO, staging: Path) -> None:
        """On the main process, before the checkpoint being written in ``staging`` is
        committed: files added there become part of the checkpoint atomically."""

    def on_checkpoint(self, trainer: PPO, path: Path) -> None:
        """After a checkpoint was written to ``path``."""

    def on_training_end(self, trainer: PPO) -> None:
        """When :meth:`PPO.learn` returns."""


class CallbackList(Callback):
    """Several callbacks called in order."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_training_start(self, trainer: PPO) -> None:
        for callback in self.callbacks:
            callback.on_training_start(trainer)

    def on_rollout_start(self, trainer: PPO) -> None:
        for callback in self.callbacks:
            callback.on_rollout_start(trainer)

    def on_episode_end(self, trainer: PPO, episode: EpisodeRecord) -> None:
        for callback in self.callbacks:
            callback.on_episode_end(trainer, episode)

    def on_rollout_end(self, trainer: PPO, batch: Batch, episodes: list[EpisodeRecord]) -> None:
        for callback in self.callbacks:
            callback.on_rollout_end(trainer, batch, episodes)

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_update_end(trainer, metrics)

    def on_checkpoint_staged(self, trainer: PPO, staging: Path) -> None:
        for callback in self.callbacks:
            callback.on_checkpoint_staged(trainer, staging)

    def on_checkpoint(self, trainer: PPO, path: Path) -> None:
        for callback in self.callbacks:
            callback.on_checkpoint(trainer, path)

    def on_training_end(self, trainer: PPO) -> None:
        for callback in self.callbacks:
            callback.on_training_end(trainer)


def _json_value(value: Any) -> Any:
    """NaN and infinities are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JSONLWriter(Callback):
    """One JSON object per update, appended to ``path`` and flushed.

    On resume, lines from iterations after the checkpoint (written by the run
    that was interrupted) are dropped, so the file matches the resumed run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: Any = None

    def on_training_start(self, trainer: PPO) -> None:
        if not trainer.is_main_process:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._truncate_after(trainer.iteration)
        self._handle = self.path.open("a", encoding="utf-8")

    def _truncate_after(self, iteration: int) -> None:
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("iteration", 0) <= iteration:
                    kept.append(line)
            except json.JSONDecodeError:
                logger.warning("%s: dropping an unreadable line", self.path)
        write_text_atomic(self.path, "".join(line + "\n" for line in kept))

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        if self._handle is None:
            return
        record = {key: _json_value(value) for key, value in metrics.items()}
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def on_training_end(self, trainer: PPO) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


#: The TensorBoard namespace of each metric key, as the RL ecosystem groups them
#: (Stable-Baselines3, CleanRL): ``train/`` what the update computed (losses,
#: entropy, KL, clipping, gradients, learning rates, DRRN's Q-learning), ``rollout/``
#: what the agent met while acting (episodes, success, speed, exploration). A key
#: listed nowhere goes to :data:`DEFAULT_NAMESPACE`; ``global_step`` is the x axis
#: and is not written. Learning rates of other parameter groups
#: (``learning_rate/head``) follow ``learning_rate``.
TENSORBOARD_NAMESPACES: dict[str, str] = {
    # PPO update (glam_ppo.update.ppo_update) and its schedule
    "policy_loss": "train",
    "value_loss": "train",
    "entropy": "train",
    "approx_kl": "train",
    "old_approx_kl": "train",
    "clip_fraction": "train",
    "explained_variance": "train",
    "grad_norm": "train",
    "grad_norm_max": "train",
    "gradient_steps": "train",
    "epochs": "train",
    "kl_early_stop": "train",
    "skipped_nonfinite": "train",
    "clip_coef": "train",
    "learning_rate": "train",
    "update_seconds": "train",
    "iteration": "train",
    # DRRN's Q-learning (glam_ppo.drrn)
    "loss": "train",
    "q_mean": "train",
    "target_mean": "train",
    "td_error_abs": "train",
    "updates": "train",
    "updates_total": "train",
    "replay_size": "train",
    "vocabulary_size": "train",
    # acting in the environments
    "episode_return_mean": "rollout",
    "episode_length_mean": "rollout",
    "success_rate": "rollout",
    "episodes": "rollout",
    "episodes_total": "rollout",
    "steps_per_second": "rollout",
    "rollout_seconds": "rollout",
    "batch_size": "rollout",
    "epsilon": "rollout",
}
DEFAULT_NAMESPACE = "train"
#: Metric keys :class:`TensorBoardWriter` leaves out (the step axis itself).
NOT_WRITTEN = frozenset({"global_step"})


def tensorboard_tag(key: str) -> str:
    """The TensorBoard tag of a metric key: ``success_rate`` -> ``rollout/success_rate``."""
    base = key.split("/", 1)[0]
    return f"{TENSORBOARD_NAMESPACES.get(base, DEFAULT_NAMESPACE)}/{key}"


class TensorBoardWriter(Callback):
    """Scalars for TensorBoard (needs the ``tensorboard`` extra: ``glam-ppo[tensorboard]``).

    Each metric is written under its namespace (:func:`tensorboard_tag`), so
    TensorBoard shows ``train/`` and ``rollout/`` sections as for other RL libraries.
    """

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self._writer: Any = None

    def on_training_start(self, trainer: PPO) -> None:
        if not trainer.is_main_process:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:  # tensorboard is an optional extra
            raise ImportError(
                "TensorBoardWriter needs tensorboard: pip install 'glam-ppo[tensorboard]'"
            ) from error
        # On resume, points after the checkpoint's step come from updates that were lost
        # with the interrupted process: hide them. The checkpoint's own update was
        # written before the checkpoint and is not run again: keep it.
        purge = trainer.global_step + 1 if trainer.global_step else None
        self._writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=purge)

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        if self._writer is None:
            return
        step = int(metrics.get("global_step", trainer.global_step))
        for key, value in metrics.items():
            if key in NOT_WRITTEN:
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                self._writer.add_scalar(tensorboard_tag(key), value, step)
        self._writer.flush()

    def on_training_end(self, trainer: PPO) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class LoggingCallback(Callback):
    """A one-line summary through ``logging`` every ``every`` updates."""

    def __init__(self, every: int = 1, level: int = logging.INFO) -> None:
        if every <= 0:
            raise ValueError(f"every must be positive, got {every}")
        self.every = every
        self.level = level

    def on_update_end(self, trainer: PPO, metrics: dict[str, float]) -> None:
        if not trainer.is_main_process or trainer.iteration % self.every:
            return
        logger.log(
            self.level,
            "iteration %d, step %d: return %.3g, success %.3g, policy loss %.3g, value loss "
            "%.3g, entropy %.3g, approx KL %.3g, %.0f steps/s",
            trainer.iteration,
            trainer.global_step,
            metrics.get("episode_return_mean", math.nan),
            metrics.get("success_rate", math.nan),
            metrics["policy_loss"],
            metrics["value_loss"],
            metrics["entropy"],
            metrics["approx_kl"],
            metrics["steps_per_second"],
        )
