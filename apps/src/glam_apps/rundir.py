"""The layout of a run directory, in one place.

::

    RUN_DIR/
      config.yaml                 the resolved TrainConfig (every default written out)
      status.json                 state of the run: running / interrupted / finished, steps
      metrics.jsonl               one line per PPO update (global_step, success, return, losses)
      tensorboard/                TensorBoard event files of the same metrics
      checkpoints/
        periodic/iteration_<N>/   glam_ppo's full training state every run.checkpoint_every
                                  env steps (the last few kept), and a `latest` pointer
        best/                     the policy with the best evaluation success (save_pretrained)
        final/                    the policy at the end of training (save_pretrained)
      eval/
        evaluations.jsonl         one line per periodic evaluation during training
        final.json, final.md      the evaluation at the end of training

Everything is written atomically, so an interrupted run never leaves a partial
file; ``--resume RUN_DIR`` picks the newest complete checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glam_apps.errors import UserError

CONFIG_FILE = "config.yaml"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINTS_DIR = "checkpoints"
PERIODIC_DIR = "periodic"
BEST_DIR = "best"
FINAL_DIR = "final"
EVAL_DIR = "eval"
EVALUATIONS_FILE = "evaluations.jsonl"

#: Metric names written by the trainer (``metrics.jsonl``, glam_ppo's names) and the
#: periodic evaluations (``eval/evaluations.jsonl``), read back by ``glam plot``.
STEP_KEY = "global_step"
SUCCESS_KEY = "success_rate"
TRAIN_RETURN_KEY = "episode_return_mean"
EVAL_RETURN_KEY = "mean_return"


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory (nothing is created until written)."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> RunDir:
        return cls(Path(path).expanduser().resolve())

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def status(self) -> Path:
        return self.root / STATUS_FILE

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD_DIR

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    @property
    def periodic(self) -> Path:
        return self.checkpoints / PERIODIC_DIR

    @property
    def best(self) -> Path:
        return self.checkpoints / BEST_DIR

    @property
    def final(self) -> Path:
        return self.checkpoints / FINAL_DIR

    @property
    def eval(self) -> Path:
        return self.root / EVAL_DIR

    @property
    def evaluations(self) -> Path:
        return self.eval / EVALUATIONS_FILE

    def is_run(self) -> bool:
        """Whether this directory holds a run (its resolved config was written)."""
        return self.config.is_file()

    def require_run(self) -> RunDir:
        """Raise a :class:`UserError` unless this is a run directory."""
        if not self.root.exists():
            raise UserError(f"run directory not found: {self.root}")
        if not self.is_run():
            raise UserError(f"not a run directory (no {CONFIG_FILE}): {self.root}")
        return self

    def read_status(self) -> dict[str, Any]:
        if not self.status.is_file():
            return {}
        return json.loads(self.status.read_text(encoding="utf-8"))


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a JSONL file; a torn last line (crash mid-write) is skipped."""
    file = Path(path)
    if not file.is_file():
        return []
    records = []
    for line in file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
