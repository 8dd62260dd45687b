"""``run_study``: run the cells a study still lacks, ``jobs`` at a time, then write its outputs.

Each cell runs in its own process (``python -m glam_apps.study``, see
:mod:`glam_apps.study.worker`), its output appended to ``logs/<cell>.log`` and its
last attempt recorded in ``logs/<cell>.json``. The machine's cores are split
between the jobs (``OMP_NUM_THREADS`` and friends; capped by an ``OMP_NUM_THREADS``
already set); a run's ``run.torch_threads`` still wins inside it.

With several GPUs visible, each job slot gets one (``CUDA_VISIBLE_DEVICES``).

What runs: a cell already done is skipped; an interrupted or failed run is resumed
from its last checkpoint; a trained agent whose evaluation is missing is only
evaluated. A cell that fails is recorded and the others go on; the result names it.

One study, one process: ``glam study`` holds ``STUDY/.lock`` (pid and host) while it
runs. A study folder holds one study: ``study.yaml`` is written on the first run,
and a later run with another study is refused, unless it only adds agents, levels
or seeds (then ``study.yaml`` becomes the larger study).

Stopping: the first SIGINT or SIGTERM starts no new cell and asks the running
ones to stop (a training run finishes its update and saves a checkpoint); a second
one stops them at once. The outputs are written in every case, from what is on
disk, and say which cells are missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from glam_apps.config.loading import load_yaml
from glam_apps.errors import ConfigError, UserError
from glam_apps.runs.atomic import atomic_write_json, atomic_write_yaml
from glam_apps.runs.rundir import RunDir, RunLock, RunLockedError
from glam_apps.runs.signals import on_stop_signals
from glam_apps.study.config import StudyConfig, load_study, study_from_data
from glam_apps.study.plan import STUDY_FILE, Cell, State, StudyPlan, cell_state, plan_study
from glam_apps.study.worker import INTERRUPTED

logger = logging.getLogger(__name__)

#: Where ``glam study`` writes when no ``--out`` is given (``runs/`` is git-ignored).
DEFAULT_PARENT = Path("runs") / "studies"

#: Study keys that only change the outputs (rebuilt on every call), free to change.
OUTPUT_ONLY = ("description", "thresholds")

Outcome = Literal["skipped", "finished", "failed", "interrupted", "not run"]


@dataclass
class CellResult:
    """What happened to one cell in this call."""

    key: str
    state: State
    """The cell's state before this call."""
    outcome: Outcome = "not run"
    returncode: int | None = None
    seconds: float = 0.0
    error: str | None = None
    log: Path | None = None


@dataclass
class StudyResult:
    """How a call to :func:`run_study` ended, cell by cell, and the outputs it wrote."""

    root: Path
    plan: StudyPlan
    cells: list[CellResult]
    outputs: list[Path] = field(default_factory=list)
    interrupted: bool = False
    dry_run: bool = False

    @property
    def ran(self) -> list[str]:
        """Cells whose process was started in this call."""
        return [c.key for c in self.cells if c.outcome not in ("skipped", "not run")]

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.outcome == "failed"]

    @property
    def missing(self) -> list[str]:
        """Cells of the study (all agents) not done after this call."""
        study = self.plan.study
        return [c.key for c in self.plan.cells if cell_state(c, study) != "done"]


@dataclass(frozen=True)
class StudyEvent:
    """A line of progress for a display: a cell started, ended or was skipped."""

    kind: Literal["start", "end", "skip", "note"]
    message: str
    cell: str | None = None
    position: int = 0
    total: int = 0


EventHandler = Callable[[StudyEvent], None]


def default_out(study: StudyConfig) -> Path:
    return DEFAULT_PARENT / study.name


# ---------------------------------------------------------------------- study folder


def _as_study(config: StudyConfig | str | os.PathLike[str]) -> StudyConfig:
    return config if isinstance(config, StudyConfig) else load_study(config)


def check_study_folder(root: Path, study: StudyConfig) -> StudyConfig | None:
    """The study already in ``root`` (``None``: none); refuse another study.

    Allowed: the same study, or one that only adds agents, levels or seeds (or
    changes what only the outputs read: :data:`OUTPUT_ONLY`). Any other difference
    is one line naming it.
    """
    file = root / STUDY_FILE
    if not file.is_file():
        if root.is_dir() and any(p.name != ".lock" for p in root.iterdir()):
            raise UserError(
                f"{root} exists and is not a study folder (no {STUDY_FILE}): choose another --out"
            )
        return None
    try:
        old = study_from_data(load_yaml(file), name=root.name, folder=root)
    except ConfigError as error:
        raise UserError(f"{file} cannot be read by this version: {error}") from None
    before, after = old.to_yaml_dict(), study.to_yaml_dict()
    changed = []
    for key in after:
        if key in ("levels", "seeds", "agents", *OUTPUT_ONLY):
            continue
        if before.get(key) != after[key]:
            changed.append(key)
    for key in ("levels", "seeds"):
        dropped = [v for v in before[key] if v not in after[key]]
        if dropped:
            changed.append(f"{key} (removed {', '.join(map(str, dropped))})")
    for agent, spec in before["agents"].items():
        if agent not in after["agents"]:
            changed.append(f"agents (removed {agent})")
        elif after["agents"][agent] != spec:
            changed.append(f"agents.{agent}")
    if changed:
        raise UserError(
            f"{root} holds study {old.name!r}, which differs in {', '.join(changed)}: only new "
            "agents, levels or seeds can be added to a study folder (use --only to run some "
            "agents, or another --out)"
        )
    return old


@contextlib.contextmanager
def study_lock(root: Path) -> Iterator[None]:
    """One ``glam study`` per folder: ``STUDY/.lock`` holds the owner's pid and host."""
    lock = RunLock(RunDir(root))
    try:
        lock.acquire()
    except RunLockedError:
        raise UserError(
            f"study folder {root} is in use by {lock.holder()}: wait for it to end or stop it"
        ) from None
    try:
        yield
    finally:
        lock.release()


# ---------------------------------------------------------------------- processes


def thread_share(jobs: int, cores: int | None = None) -> int:
    """Threads per job: the cores split evenly (at least 1), capped by ``OMP_NUM_THREADS``."""
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cores = os.cpu_count() or 1
    share = max(1, cores // max(1, jobs))
    with contextlib.suppress(ValueError):
        share = min(share, max(1, int(os.environ.get("OMP_NUM_THREADS", ""))))
    return share


def worker_command(root: Path, cell: Cell) -> list[str]:
    return [sys.executable, "-m", "glam_apps.study", str(root), cell.key]


def visible_gpus() -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES``'s entries, else torch's count."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [gpu.strip() for gpu in listed.split(",") if gpu.strip()]
    try:
        import torch

        return [str(index) for index in range(torch.cuda.device_count())]
    except Exception:  # no torch build with CUDA: no GPU to share
        return []


def worker_env(threads: int, slot: int = 0, gpus: Sequence[str] = ()) -> dict[str, str]:
    """A cell's environment: its share of the cores and, with several GPUs, one of them.

    Job slot ``k`` gets GPU ``k mod len(gpus)`` (``CUDA_VISIBLE_DEVICES``), so
    ``--jobs`` equal to the GPU count gives each running cell its own GPU.
    """
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    if len(gpus) > 1:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return env


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def last_error(log: Path) -> str | None:
    """The last ``error:`` line a worker logged (its one-line reason)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        _, marker, message = line.partition(" ERROR error: ")
        if marker:
            return message.strip()
    return None


class _Workers:
    """The running cell processes, and the stop requests forwarded to them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.stops = 0

    def stop(self) -> None:
        with self.lock:
            self.stops += 1
            processes = list(self.running.values())
        for process in processes:  # first: finish the update and checkpoint; second: at once
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)

    @property
    def stopping(self) -> bool:
        return self.stops > 0


def _run_cell(
    plan: StudyPlan, cell: Cell, result: CellResult, env: dict[str, str], workers: _Workers
) -> CellResult:
    """Start the cell's process, wait for it, record the attempt."""
    log = plan.log_file(cell)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = worker_command(plan.root, cell)
    started = time.monotonic()
    with log.open("ab") as handle:
        with workers.lock:
            if workers.stopping:
                return result
            handle.write(
                f"=== {_now()} {cell.key} ({result.state}): {' '.join(command)}\n".encode()
            )
            handle.flush()
            process = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a terminal's Ctrl-C reaches the study, which forwards it
            )
            workers.running[cell.key] = process
        try:
            code = process.wait()
        finally:
            with workers.lock:
                workers.running.pop(cell.key, None)
    result.returncode = code
    result.seconds = time.monotonic() - started
    result.log = log
    if code == 0:
        result.outcome = "finished"
    elif code == INTERRUPTED or (code < 0 and workers.stopping):
        result.outcome = "interrupted"
    else:
        result.outcome = "failed"
        result.error = last_error(log) or f"exit code {code}; see {log}"
    atomic_write_json(
        plan.attempt_file(cell),
        {
            "cell": cell.key,
            "state_before": result.state,
            "outcome": result.outcome,
            "returncode": code,
            "ended": _now(),
            "seconds": round(result.seconds, 1),
            "error": result.error,
            "log": str(log),
        },
    )
    return result


@contextlib.contextmanager
def _forward_signals(workers: _Workers, on_event: EventHandler) -> Iterator[None]:
    """SIGINT/SIGTERM stop the workers (main thread only; elsewhere signals are not ours)."""

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        first = not workers.stopping
        on_event(
            StudyEvent(
                "note",
                f"{name}: no new cell; running cells "
                + (
                    "finish their update and save a checkpoint (send it again to stop them at once)"
                    if first
                    else "stop at once"
                ),
            )
        )
        workers.stop()

    with on_stop_signals(handler):
        yield


def _prepare_models(cells: Sequence[Cell], on_event: EventHandler) -> None:
    """Build each offline default model once, before jobs would all build it at once."""
    from glam_apps.models.default_model import ensure_default_model, is_built, model_dir_for

    seen: set[Path] = set()
    for cell in cells:
        config = cell.config
        if not config.uses_offline_default:
            continue
        env = config.game or config.env
        directory = model_dir_for(config.default_model, env)
        if directory in seen or is_built(directory):
            continue
        seen.add(directory)
        on_event(StudyEvent("note", f"building the offline default model for {cell.level}"))
        ensure_default_model(config.default_model, env)


# ---------------------------------------------------------------------- run_study


def run_study(
    config: StudyConfig | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    jobs: int = 1,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    on_event: EventHandler | None = None,
) -> StudyResult:
    """Run the cells of ``config`` that are not done, then write the study's outputs.

    ``config``: a :class:`StudyConfig`, a packaged study name or a YAML path.
    ``out``: the study folder (default ``runs/studies/<name>``). ``jobs``: cells at
    once. ``only``: agent names to run (the outputs still cover the whole study).
    ``dry_run``: plan and report each cell's state, write nothing.
    """
    if jobs < 1:
        raise UserError(f"--jobs must be >= 1, got {jobs}")
    emit: EventHandler = on_event or (lambda event: logger.info(event.message))
    study = _as_study(config)
    root = Path(out if out is not None else default_out(study)).expanduser().resolve()
    plan = plan_study(study, root)
    selected = plan.select(only)
    results = [CellResult(cell.key, cell_state(cell, study)) for cell in selected]
    if dry_run:
        if root.is_dir():
            check_study_folder(root, study)
        return StudyResult(root, plan, results, dry_run=True)
    check_study_folder(root, study)
    root.mkdir(parents=True, exist_ok=True)
    with study_lock(root):
        atomic_write_yaml(plan.study_file, study.to_yaml_dict())
        todo = [(c, r) for c, r in zip(selected, results, strict=True) if r.state != "done"]
        for cell, result in zip(selected, results, strict=True):
            if result.state == "done":
                result.outcome = "skipped"
                emit(StudyEvent("skip", f"{cell.key}: done", cell.key))
        emit(
            StudyEvent(
                "note",
                f"study {study.name} in {root}: {len(todo)} cell(s) to run, "
                f"{len(results) - len(todo)} already done",
            )
        )
        workers = _Workers()
        with _forward_signals(workers, emit):
            building = [
                cell
                for cell, result in todo
                if result.state in ("new", "resume") and cell.role != "evaluated"
            ]
            if building and not workers.stopping:
                _prepare_models(building, emit)
            _schedule(plan, todo, jobs, workers, emit)
        from glam_apps.study.outputs import write_outputs

        outputs = write_outputs(plan)
    return StudyResult(root, plan, results, outputs=outputs, interrupted=workers.stopping)


def _schedule(
    plan: StudyPlan,
    todo: Sequence[tuple[Cell, CellResult]],
    jobs: int,
    workers: _Workers,
    emit: EventHandler,
) -> None:
    """Run ``todo`` with ``jobs`` processes at once; the main thread keeps handling signals."""
    threads = thread_share(jobs)
    gpus = visible_gpus() if todo else []
    free_slots = list(range(jobs))
    total = len(todo)
    queue = list(todo)
    position = 0
    running: dict[Future[CellResult], tuple[Cell, int]] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while queue or running:
            while queue and len(running) < jobs and not workers.stopping:
                cell, result = queue.pop(0)
                position += 1
                emit(
                    StudyEvent(
                        "start",
                        f"{cell.key}: {_action(result.state)}",
                        cell.key,
                        position,
                        total,
                    )
                )
                slot = free_slots.pop(0)
                env = worker_env(threads, slot, gpus)
                running[pool.submit(_run_cell, plan, cell, result, env, workers)] = (cell, slot)
            if workers.stopping:
                queue.clear()
            if not running:
                break
            done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                cell, slot = running.pop(future)
                free_slots.append(slot)
                result = future.result()
                detail = f" in {result.seconds / 60:.1f} min" if result.seconds else ""
                text = result.outcome + detail
                if result.error:
                    text += f": {result.error}"
                emit(StudyEvent("end", f"{cell.key}: {text}", cell.key, position, total))


def _action(state: State) -> str:
    return {
        "new": "start",
        "resume": "resume",
        "evaluate": "evaluate",
        "done": "done",
    }[state]
