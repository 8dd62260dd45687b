"""Where a run's progress goes besides its JSONL files: TensorBoard, and W&B if asked.

The PPO/DRRN metrics reach TensorBoard through ``glam_ppo``'s ``TensorBoardWriter``
(tags ``train/...`` and ``rollout/...``, see ``glam_ppo.callbacks.tensorboard_tag``).
A :class:`Tracker` adds what only the run knows:

* ``tensorboard/``: the resolved config as text (tag ``config``) and as
  hyperparameters (TensorBoard's HParams tab, with the success rates as its
  metrics), written each time training starts or resumes, at that step;
* ``tensorboard/eval/``: every evaluation's scalars (``eval/success_rate``,
  ``eval/success_ci_low``, ``eval/success_ci_high``, ``eval/mean_return``,
  ``eval/mean_length``) and ``run.log_transcripts`` sample episodes as text
  (``eval/transcript_<k>``): the first episodes the evaluation itself played,
  recorded on the way (:class:`TranscriptAgent`), so they cost nothing extra and
  change nothing the evaluation measures;
* with ``run.wandb``: the same metrics, evaluations, config and transcripts in a
  Weights & Biases run (``pip install 'glam-apps[wandb]'``). Its id is kept in
  ``RUN_DIR/wandb/run-id``, so a resumed run continues the same W&B run; its
  files go to ``RUN_DIR/wandb/``. ``WANDB_MODE=offline`` needs no account or
  network (``wandb sync`` uploads later); ``WANDB_PROJECT`` names the project
  (default ``glam``).

Only the main process (rank 0) tracks.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glam_apps.config.schema import TrainConfig
from glam_apps.errors import UserError
from glam_apps.evaluation.agents import PolicyAgent
from glam_apps.runs.atomic import atomic_write_text
from glam_apps.runs.rundir import RunDir
from glam_ppo.callbacks import tensorboard_tag

logger = logging.getLogger(__name__)

#: Evaluation record keys written as ``eval/<key>`` scalars.
EVAL_SCALARS = ("success_rate", "success_ci_low", "success_ci_high", "mean_return", "mean_length")
#: What TensorBoard's HParams tab compares runs on: ``(tag, run subfolder)``.
HPARAM_METRICS = (
    ("eval/success_rate", "eval"),
    ("eval/mean_return", "eval"),
    ("rollout/success_rate", ""),
    ("rollout/episode_return_mean", ""),
)
#: Steps of one transcript kept in full (a longer episode keeps its start and end).
MAX_TRANSCRIPT_STEPS = 64
WANDB_ID_FILE = "run-id"
WANDB_HINT = "pip install 'glam-apps[wandb]' (or set run.wandb=false)"


def require_wandb(config: TrainConfig) -> None:
    """Fail before anything is written when ``run.wandb`` asks for a missing extra."""
    if config.run.wandb:
        _import_wandb()


def _import_wandb() -> Any:
    try:
        import wandb
    except ImportError:
        raise UserError(f"run.wandb is on but wandb is not installed: {WANDB_HINT}") from None
    return wandb


# ---------------------------------------------------------------------- transcripts


@dataclass
class Transcript:
    """One episode as the agent saw it: goal, observations and the actions it chose."""

    index: int
    steps: list[tuple[str, str]] = field(default_factory=list)
    mission: str = ""
    seed: int | None = None
    success: bool | None = None
    episode_return: float | None = None

    def to_markdown(self) -> str:
        """Markdown for TensorBoard's text tab (one numbered line per step)."""
        return self.render(markdown=True)

    def render(self, markdown: bool = False) -> str:
        """The transcript as text: Markdown (escaped, actions in bold) or plain."""
        escape = _escape if markdown else str
        strong = "**" if markdown else ""
        outcome = ""
        if self.success is not None:
            outcome = (
                f": {'success' if self.success else 'failure'}, return "
                f"{self.episode_return:.3f} in {len(self.steps)} steps"
            )
        seed = f" (seed {self.seed})" if self.seed is not None else ""
        lines = [
            f"{strong}episode {self.index + 1}{strong}{seed}{outcome}",
            "",
            f"goal: {escape(self.mission)}",
            "",
        ]
        steps = list(enumerate(self.steps, 1))
        if len(steps) > MAX_TRANSCRIPT_STEPS:
            half = MAX_TRANSCRIPT_STEPS // 2
            skipped = len(steps) - 2 * half
            steps = [*steps[:half], (0, (f"... {skipped} steps ...", "")), *steps[-half:]]
        for number, (observation, action) in steps:
            if number == 0:
                lines.append(f"    {observation}" if markdown else observation)
                continue
            lines.append(f"{number}. {escape(observation)} → {strong}{escape(action)}{strong}")
        return "\n".join(lines)


def _escape(text: str) -> str:
    """Plain text in Markdown: the characters that would format it are escaped."""
    for char in "\\`*_[]#<>|":
        text = text.replace(char, "\\" + char)
    return text


class TranscriptAgent(PolicyAgent):
    """A :class:`PolicyAgent` that also records its first ``count`` episodes.

    It acts exactly as the agent it copies (same policy, sampling and generator:
    the evaluation reseeds it before playing), so the evaluation's figures are
    unchanged. Episodes start in the order of their index, so the k-th episode
    started is outcome ``k``; :meth:`on_episode` adds each one's result.
    """

    def __init__(self, agent: PolicyAgent, count: int) -> None:
        super().__init__(agent.policy, greedy=agent.greedy, name=agent.name)
        self.generator = agent.generator
        self.count = count
        self.transcripts: list[Transcript] = []
        self._recording: dict[int, Transcript] = {}

    def start(self, slot: int, env: Any) -> None:
        super().start(slot, env)
        self._recording.pop(slot, None)
        if len(self.transcripts) < self.count:
            transcript = Transcript(index=len(self.transcripts))
            self.transcripts.append(transcript)
            self._recording[slot] = transcript

    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        actions = super().act(slots, observations)
        for slot, observation, action in zip(slots, observations, actions, strict=True):
            transcript = self._recording.get(slot)
            if transcript is None:
                continue
            transcript.mission = str(observation.get("mission", ""))
            admissible = list(observation.get("admissible_actions", ()))
            name = str(admissible[action]) if action < len(admissible) else f"action {action}"
            transcript.steps.append((str(observation.get("observation", "")), name))
        return actions

    def on_episode(self, outcome: Any) -> None:
        """The evaluation's ``on_episode``: the result of a recorded episode."""
        index = int(outcome.index)
        if index < len(self.transcripts) and self.transcripts[index].success is None:
            transcript = self.transcripts[index]
            transcript.seed = int(outcome.seed)
            transcript.success = bool(outcome.success)
            transcript.episode_return = float(outcome.episode_return)


# ---------------------------------------------------------------------- the tracker


def flat_config(config: TrainConfig) -> dict[str, bool | int | float | str]:
    """The resolved config as ``section.key`` -> scalar (lists and null as text)."""
    flat: dict[str, bool | int | float | str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        else:
            flat[prefix] = json.dumps(value)

    walk("", config.to_yaml_dict())
    return flat


class Tracker:
    """TensorBoard extras and the optional W&B run of one run directory (rank 0 only)."""

    def __init__(self, run: RunDir, config: TrainConfig) -> None:
        self.run = run
        self.config = config
        self._eval_writer: Any = None
        self._wandb_run: Any = None

    # -- starting ---------------------------------------------------------------------

    def start(self, global_step: int) -> None:
        """Config (text and hyperparameters) at ``global_step``; the W&B run."""
        try:
            from tensorboard.plugins.hparams import summary_v2 as hparams
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # pragma: no cover - tensorboard is a dependency of glam-apps
            logger.debug("tensorboard not installed: no config or hyperparameters written")
        else:
            values = flat_config(self.config)
            writer = SummaryWriter(log_dir=str(self.run.tensorboard))
            try:
                yaml_text = "\n".join(
                    "    " + line for line in _yaml(self.config.to_yaml_dict()).splitlines()
                )
                writer.add_text("config", yaml_text, global_step)
                metrics = [hparams.Metric(tag, group=group) for tag, group in HPARAM_METRICS]
                writer.file_writer.add_summary(
                    hparams.hparams_config_pb([hparams.HParam(k) for k in values], metrics)
                )
                writer.file_writer.add_summary(hparams.hparams_pb(values))
            finally:
                writer.close()
        self._wandb()

    def _wandb(self) -> Any:
        """The W&B run, started (or continued) on first use; ``None`` without ``run.wandb``."""
        if not self.config.run.wandb or self._wandb_run is not None:
            return self._wandb_run
        wandb = _import_wandb()
        folder = self.run.root / "wandb"
        folder.mkdir(parents=True, exist_ok=True)
        id_file = folder / WANDB_ID_FILE
        if id_file.is_file():
            run_id = id_file.read_text(encoding="utf-8").strip()
        else:
            run_id = uuid.uuid4().hex[:16]
            atomic_write_text(id_file, run_id + "\n")
        self._wandb_run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "glam"),
            name=self.run.root.name,
            id=run_id,
            resume="allow",
            dir=str(self.run.root),
            config=self.config.to_yaml_dict(),
            job_type="train",
            settings=wandb.Settings(console="off"),
        )
        return self._wandb_run

    # -- logging ----------------------------------------------------------------------

    def log_update(self, metrics: Mapping[str, float]) -> None:
        """One PPO/DRRN update's metrics (TensorBoard has them from glam_ppo): W&B only."""
        wandb_run = self._wandb()
        if wandb_run is None:
            return
        step = int(metrics.get("global_step", 0))
        values = {
            tensorboard_tag(key): float(value)
            for key, value in metrics.items()
            if key != "global_step" and isinstance(value, (int, float)) and math.isfinite(value)
        }
        wandb_run.log(values, step=step)

    def log_evaluation(
        self,
        record: Mapping[str, Any],
        transcripts: Sequence[Transcript] = (),
        purge_step: int | None = None,
    ) -> None:
        """An evaluation's scalars and transcripts at its ``global_step``.

        ``purge_step`` (the first evaluation after a resume): TensorBoard hides the
        points the interrupted process wrote from that step on (they are replayed).
        """
        step = int(record["global_step"])
        scalars = {
            f"eval/{key}": float(record[key])
            for key in EVAL_SCALARS
            if isinstance(record.get(key), (int, float))
        }
        texts = {f"eval/transcript_{t.index + 1}": t for t in transcripts}
        writer = self._tensorboard_eval(purge_step)
        if writer is not None:
            for tag, value in scalars.items():
                writer.add_scalar(tag, value, step)
            for tag, transcript in texts.items():
                writer.add_text(tag, transcript.to_markdown(), step)
            writer.flush()
        wandb_run = self._wandb()
        if wandb_run is not None:
            import wandb

            payload: dict[str, Any] = dict(scalars)
            for tag, transcript in texts.items():
                payload[tag] = wandb.Html(f"<pre>{html.escape(transcript.render())}</pre>")
            wandb_run.log(payload, step=step)

    def _tensorboard_eval(self, purge_step: int | None) -> Any:
        if self._eval_writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # pragma: no cover - tensorboard is a dependency of glam-apps
                logger.debug("tensorboard not installed: evaluation scalars only in JSONL")
                return None
            self._eval_writer = SummaryWriter(
                log_dir=str(self.run.tensorboard / "eval"), purge_step=purge_step
            )
        return self._eval_writer

    def transcript_agent(self, agent: Any) -> TranscriptAgent | None:
        """``agent`` recording ``run.log_transcripts`` episodes (``None``: none to record)."""
        count = self.config.run.log_transcripts
        if count <= 0 or not isinstance(agent, PolicyAgent):
            return None
        return TranscriptAgent(agent, count)

    def close(self) -> None:
        if self._eval_writer is not None:
            self._eval_writer.close()
            self._eval_writer = None
        if self._wandb_run is not None:
            self._wandb_run.finish()
            self._wandb_run = None


def _yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)
