"""The layout of a run directory, in one place.

::

    RUN_DIR/
      .lock                       the pid and host of the process that owns the run (see RunLock)
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
file; ``--resume RUN_DIR`` picks the newest complete checkpoint, and first removes
the temporary files and folders a kill may leave (:meth:`RunDir.remove_leftovers`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glam_apps.runs.atomic import recover_directory, staging_leftovers
from glam_apps.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX (Windows): runs are not locked there
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

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
LOCK_FILE = ".lock"

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

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    def remove_leftovers(self) -> list[Path]:
        """Remove what a killed run leaves half-done; return what was removed.

        Only the owner of the run (the lock holder) may call this: the same names are
        in use while a run writes. Removed, and only inside this run directory:
        ``.tmp-iteration_*`` folders and ``.latest.tmp`` in ``checkpoints/periodic``,
        the staging folders of ``best/`` and ``final/`` (``.best.*``, ``.final.*``,
        after putting back a complete copy that a kill between two renames left
        aside, see :func:`glam_apps.runs.atomic.recover_directory`), and ``.*.tmp`` files
        (:mod:`glam_apps.runs.atomic`'s temporary files) anywhere in the run directory.
        """
        removed: list[Path] = []
        if self.periodic.is_dir():
            for path in self.periodic.iterdir():
                if path.name.startswith(".tmp-iteration_") or path.name == ".latest.tmp":
                    removed.append(path)
        for directory in (self.best, self.final):
            before = set(staging_leftovers(directory))
            recover_directory(directory)
            removed += sorted(before - {directory})
        if self.root.is_dir():
            removed += [p for p in self.root.rglob(".*.tmp") if p.is_file()]
        for path in removed:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for path in removed:
            logger.info("removed the leftover %s", path)
        return removed

    def read_status(self) -> dict[str, Any]:
        """The status record; ``{}`` when missing or unreadable (it only informs: the
        config and the checkpoints decide what a resume does, and the next status
        write replaces a damaged one)."""
        if not self.status.is_file():
            return {}
        try:
            status = json.loads(self.status.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            logger.warning("%s is unreadable (%s): ignored", self.status, error)
            return {}
        return status if isinstance(status, dict) else {}


class RunLockedError(UserError):
    """Another live process owns the run directory."""


class RunLock:
    """One exclusive lock per run directory: ``RUN_DIR/.lock`` holds ``pid host``.

    Two ``glam train`` (or ``--resume``) on one run directory would duplicate
    records and fight over files, so the process that owns a run holds an
    exclusive ``flock`` on this file for the whole run. The kernel releases it when
    the process dies, however it dies: a lock left by a killed run never blocks.

    ``fcntl.flock`` rather than the ``filelock`` package: the file must carry the
    holder's pid for the refusal message, and ``filelock`` opens its lock file
    truncated (and may unlink it), so the holder's line would not survive another
    process's attempt. The file is left in place on release (unlinking a lock file
    races with a process that has just opened it).
    """

    def __init__(self, run: RunDir) -> None:
        self.path = run.lock
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`RunLockedError` naming the holder's pid."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover - not POSIX
            logger.warning("no fcntl on this platform: %s is not locked", self.path.parent)
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunLockedError(
                f"run directory {self.path.parent} is in use by {self.holder()}: "
                "wait for it to end or stop it (its lock is released when it exits)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def holder(self) -> str:
        """``pid N on host H`` as the holder wrote it (a lock's file is never torn)."""
        try:
            fields = self.path.read_text(encoding="utf-8").split()
        except OSError:
            fields = []
        if not fields:
            return "another process"
        host = f" on host {fields[1]}" if len(fields) > 1 else ""
        return f"another process (pid {fields[0]}{host})"

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


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
