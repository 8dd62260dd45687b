"""Metric series of run directories, grouped across seeds into a mean and a band.

A metric is named as ``glam plot --metric`` takes it:

* a key of ``metrics.jsonl`` (one line per update: ``success_rate``,
  ``policy_loss``, ...), or its TensorBoard tag (``rollout/success_rate``,
  ``train/policy_loss``: ``glam_ppo.callbacks.tensorboard_tag``), read from the JSONL;
* ``eval/<key>`` for a key of ``eval/evaluations.jsonl`` (``eval/success_rate``,
  ``eval/mean_return``, ...), the names the evaluations have in TensorBoard too;
* any other scalar tag of the run's TensorBoard event files (``tensorboard/`` and
  its subfolders), read with TensorBoard's own ``EventAccumulator``.

Runs whose resolved configs (``config.yaml``) differ only in ``run.seed`` and
``run.run_dir`` are seeds of one experiment (:func:`group_runs`). Their curves are
put on a common grid of env steps (the steps of every seed's points inside the
range all of them cover, each seed linearly interpolated there) and reduced to the
mean with a **Student-t interval across seeds** (95% by default: mean +- t * sd /
sqrt(n), ``n`` seeds, ``n - 1`` degrees of freedom; :func:`across_runs`). The t
interval, not a bootstrap: with the 2 to 10 seeds RL runs have, a bootstrap's
percentiles are too narrow, while t says honestly how little few seeds pin down.

Step 0: when a run evaluated before its first update (``run.eval_at_start``),
its training curves of success rate, return and episode length start from that
evaluation's figure at step 0 (training metrics only exist after an update).
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from glam_apps.errors import UserError
from glam_apps.evaluation.stats import t_quantile
from glam_apps.runs.rundir import CONFIG_FILE, STEP_KEY, RunDir, read_jsonl
from glam_ppo.callbacks import tensorboard_tag

logger = logging.getLogger(__name__)

#: Confidence of the band across seeds.
CONFIDENCE = 0.95
#: Config keys that may differ between the seeds of one experiment.
SEED_KEYS = (("run", "seed"), ("run", "run_dir"))
#: Where the step-0 point of a training metric comes from: ``evaluations.jsonl`` key.
STEP0_FROM_EVAL = {
    "success_rate": "success_rate",
    "episode_return_mean": "mean_return",
    "episode_length_mean": "mean_length",
}
EVAL_PREFIX = "eval/"
SOURCE_METRICS = "metrics.jsonl"
SOURCE_EVALS = "eval/evaluations.jsonl"
SOURCE_TENSORBOARD = "tensorboard"
#: How deep below a folder given to ``glam plot`` runs are looked for.
SEARCH_DEPTH = 2


@dataclass(frozen=True)
class Series:
    """One metric of one run: increasing env steps and their values."""

    steps: np.ndarray
    values: np.ndarray
    source: str

    @classmethod
    def from_points(cls, points: Iterable[tuple[float, float]], source: str) -> Series:
        """Sorted by step; a step given twice keeps its last value (a resumed write)."""
        by_step: dict[float, float] = {}
        for step, value in points:
            by_step[float(step)] = float(value)
        steps = np.array(sorted(by_step), dtype=np.float64)
        values = np.array([by_step[s] for s in steps], dtype=np.float64)
        return cls(steps, values, source)

    def __len__(self) -> int:
        return len(self.steps)

    def smoothed(self, window: int) -> Series:
        """Trailing moving average over ``window`` points (1: unchanged)."""
        if window <= 1 or len(self) == 0:
            return self
        cumulative = np.cumsum(np.insert(self.values, 0, 0.0))
        index = np.arange(1, len(self) + 1)
        start = np.maximum(index - window, 0)
        values = (cumulative[index] - cumulative[start]) / (index - start)
        return Series(self.steps, values, self.source)

    def with_point(self, step: float, value: float) -> Series:
        """This series with ``(step, value)`` put in front (when it starts later)."""
        if len(self) and self.steps[0] <= step:
            return self
        return Series(np.insert(self.steps, 0, step), np.insert(self.values, 0, value), self.source)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numeric_keys(records: Sequence[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key != STEP_KEY and _number(value):
                keys[key] = None
    return list(keys)


def _points(records: Sequence[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    return [
        (float(r[STEP_KEY]), float(r[key]))
        for r in records
        if _number(r.get(STEP_KEY)) and _number(r.get(key))
    ]


@dataclass(eq=False)  # a run is itself: compared by identity
class RunMetrics:
    """What one run directory holds to plot (its JSONL files read once)."""

    run: RunDir
    config: dict[str, Any]
    train: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    _tensorboard: dict[str, Series] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunMetrics:
        run = RunDir.at(path).require_run()
        try:
            config = yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise UserError(f"cannot read {run.config}: {' '.join(str(error).split())}") from None
        if not isinstance(config, dict):
            raise UserError(f"{run.config} does not hold a config (a mapping)")
        return cls(run, config, read_jsonl(run.metrics), read_jsonl(run.evaluations))

    @property
    def name(self) -> str:
        return self.run.root.name

    @property
    def seed(self) -> Any:
        section = self.config.get("run")
        return section.get("seed", 0) if isinstance(section, dict) else 0

    # -- names ------------------------------------------------------------------------

    def names(self, tensorboard: bool = True) -> dict[str, str]:
        """Every metric name this run answers to -> where it is read from."""
        names: dict[str, str] = {}
        for key in _numeric_keys(self.train):
            names[key] = SOURCE_METRICS
            names.setdefault(tensorboard_tag(key), SOURCE_METRICS)
        for key in _numeric_keys(self.evals):
            names[EVAL_PREFIX + key] = SOURCE_EVALS
        if tensorboard:
            for tag in self.tensorboard_series():
                names.setdefault(tag, SOURCE_TENSORBOARD)
        return names

    def tensorboard_series(self) -> dict[str, Series]:
        """Every scalar tag of the run's event files (read on first use)."""
        if self._tensorboard is None:
            self._tensorboard = read_tensorboard(self.run.tensorboard)
        return self._tensorboard

    # -- series -----------------------------------------------------------------------

    def series(self, name: str) -> Series | None:
        """The metric ``name`` (see the module's docstring), ``None`` if the run lacks it."""
        train_keys = set(_numeric_keys(self.train))
        key = name if name in train_keys else _untagged(name, train_keys)
        if key is not None:
            return Series.from_points(_points(self.train, key), SOURCE_METRICS)
        if name.startswith(EVAL_PREFIX):
            key = name.removeprefix(EVAL_PREFIX)
            if key in set(_numeric_keys(self.evals)):
                return Series.from_points(_points(self.evals, key), SOURCE_EVALS)
        return self.tensorboard_series().get(name)

    def curve(self, name: str, smooth: int = 1) -> Series | None:
        """:meth:`series`, smoothed if it is a training metric, with its step-0 point."""
        series = self.series(name)
        if series is None or len(series) == 0:
            return None
        if not is_evaluation(name):  # evaluations are averages over episodes already
            series = series.smoothed(smooth)
        key = _untagged(name, set(STEP0_FROM_EVAL)) or name
        if series.source == SOURCE_METRICS and key in STEP0_FROM_EVAL:
            start = [r for r in self.evals if r.get(STEP_KEY) == 0]
            value = start[-1].get(STEP0_FROM_EVAL[key]) if start else None
            if _number(value):
                series = series.with_point(0.0, float(value))
        return series


def is_evaluation(name: str) -> bool:
    """Whether metric ``name`` comes from the periodic evaluations (drawn as points)."""
    return name.startswith(EVAL_PREFIX)


def _untagged(name: str, keys: set[str]) -> str | None:
    """The key whose TensorBoard tag is ``name`` (``rollout/success_rate`` -> ``success_rate``)."""
    if name in keys:
        return name
    rest = name.partition("/")[2]
    if rest in keys and tensorboard_tag(rest) == name:
        return rest
    return None


def read_tensorboard(folder: Path) -> dict[str, Series]:
    """Scalar tags of every event file under ``folder`` (TensorBoard honours the purge
    steps a resumed run wrote: points of updates lost at a kill are dropped)."""
    if not folder.is_dir():
        return {}
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:  # pragma: no cover - tensorboard is a dependency of glam-apps
        logger.warning("tensorboard is not installed: %s not read", folder)
        return {}
    points: dict[str, list[tuple[float, float]]] = {}
    folders = sorted({path.parent for path in folder.rglob("events.out.tfevents.*")})
    for events_folder in folders:
        accumulator = EventAccumulator(str(events_folder), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags().get("scalars", []):
            points.setdefault(tag, []).extend(
                (event.step, event.value) for event in accumulator.Scalars(tag)
            )
    return {tag: Series.from_points(pts, SOURCE_TENSORBOARD) for tag, pts in sorted(points.items())}


# ---------------------------------------------------------------------- finding runs


def _natural(path: Path) -> list[Any]:
    """Sort key: ``seed-2`` before ``seed-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def find_runs(paths: Sequence[str | os.PathLike[str]]) -> list[RunDir]:
    """The run directories given, a folder of runs standing for the runs inside it.

    A folder that is not a run is searched (``SEARCH_DEPTH`` levels down) for runs,
    such as the ``seed-K`` folders of ``glam train --seeds``.
    """
    if not paths:
        raise UserError("give at least one run directory to plot")
    runs: list[RunDir] = []
    for path in paths:
        run = RunDir.at(path)
        if run.is_run() or not run.root.is_dir():
            runs.append(run.require_run())
            continue
        found = _runs_below(run.root, SEARCH_DEPTH)
        if not found:
            raise UserError(
                f"not a run directory (no {CONFIG_FILE}) and no runs inside: {run.root}"
            )
        runs += [RunDir.at(p) for p in sorted(found, key=_natural)]
    unique = list(dict.fromkeys(runs))
    return unique


def _runs_below(folder: Path, depth: int) -> list[Path]:
    if depth <= 0:
        return []
    found: list[Path] = []
    for child in sorted(folder.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        if (child / CONFIG_FILE).is_file():
            found.append(child)
        else:
            found += _runs_below(child, depth - 1)
    return found


# ---------------------------------------------------------------------- metric names


@dataclass(frozen=True)
class MetricInfo:
    """A metric name, its TensorBoard tag if it has another, its source, how many runs have it."""

    name: str
    source: str
    runs: int
    tag: str | None = None


def list_metrics(runs: Sequence[RunMetrics]) -> list[MetricInfo]:
    """Every metric of ``runs``: JSONL keys (with their TensorBoard tag), ``eval/`` keys,
    and the event files' other tags."""
    counts: dict[str, int] = {}
    sources: dict[str, str] = {}
    tags: dict[str, str] = {}
    for run in runs:
        train_keys = set(_numeric_keys(run.train))
        for name, source in run.names().items():
            key = _untagged(name, train_keys)
            if key is not None and key != name:
                tags[key] = name  # an alias: listed with its key
                continue
            counts[name] = counts.get(name, 0) + 1
            sources.setdefault(name, source)
    return [
        MetricInfo(name, sources[name], counts[name], tags.get(name)) for name in sorted(counts)
    ]


def check_metrics(names: Sequence[str], runs: Sequence[RunMetrics]) -> None:
    """Refuse a metric none of the runs has, naming the closest ones."""
    known: set[str] = set()
    for run in runs:
        known |= set(run.names(tensorboard=False))
    missing = [name for name in names if name not in known]
    if not missing:
        return
    for run in runs:  # the event files only when the JSONL files do not have it
        known |= set(run.tensorboard_series())
    for name in missing:
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(
            f"unknown metric {name!r}{hint} (glam plot RUN... --list-metrics lists them all)"
        )


# ---------------------------------------------------------------------- seeds


def experiment_key(config: dict[str, Any]) -> str:
    """The config without the keys seeds differ in (:data:`SEED_KEYS`), as canonical text."""
    data = json.loads(json.dumps(config, default=str))
    for section, key in SEED_KEYS:
        if isinstance(data.get(section), dict):
            data[section].pop(key, None)
    return json.dumps(data, sort_keys=True)


def group_runs(runs: Sequence[RunMetrics]) -> list[list[RunMetrics]]:
    """Runs in groups of seeds of one config (first appearance order).

    Runs with the same config and the same seed are repeats, not seeds: such a
    set stays one run per group, as does a run alone.
    """
    groups: dict[str, list[RunMetrics]] = {}
    for run in runs:
        groups.setdefault(experiment_key(run.config), []).append(run)
    result: list[list[RunMetrics]] = []
    for members in groups.values():
        seeds = [run.seed for run in members]
        if len(members) > 1 and len(set(map(str, seeds))) == len(seeds):
            result.append(members)
        else:
            result += [[run] for run in members]
    return sorted(result, key=lambda group: runs.index(group[0]))


def group_label(group: Sequence[RunMetrics]) -> str:
    """``lr (3 seeds)`` for ``lr/seed-0..2``; a run alone keeps its folder's name."""
    if len(group) == 1:
        return group[0].name
    parents = {run.run.root.parent for run in group}
    names = [run.name for run in group]
    if len(parents) == 1 and all(re.fullmatch(r"seed-?\d+", n) for n in names):
        base = next(iter(parents)).name
    else:
        base = _common_prefix(names).rstrip("-_ .")
        base = re.sub(r"[-_ .]?seed$", "", base) or f"{names[0]}+{len(names) - 1}"
    return f"{base} ({len(group)} seeds)"


def _common_prefix(names: Sequence[str]) -> str:
    """The characters every name starts with (``lr-seed1``, ``lr-seed2`` -> ``lr-seed``)."""
    first = min(names)
    last = max(names)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


@dataclass(frozen=True)
class Band:
    """The mean of several runs' curves and its interval, on a common grid of steps."""

    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    runs: int
    confidence: float
    method: str = "student-t"


def across_runs(curves: Sequence[Series], confidence: float = CONFIDENCE) -> Band | None:
    """Mean and Student-t interval of ``curves`` (one per seed) on a common grid.

    The grid holds every step at which some seed has a point, inside the range
    all seeds cover (a seed that stopped early cuts the band there); each seed
    is interpolated linearly onto it. ``None`` when the ranges do not overlap.
    """
    curves = [c for c in curves if len(c)]
    if not curves:
        return None
    start = max(float(c.steps[0]) for c in curves)
    end = min(float(c.steps[-1]) for c in curves)
    if end < start:
        return None
    grid = np.unique(
        np.concatenate([c.steps[(c.steps >= start) & (c.steps <= end)] for c in curves])
    )
    values = np.stack([np.interp(grid, c.steps, c.values) for c in curves])
    n = len(curves)
    mean = values.mean(axis=0)
    if n < 2:
        return Band(grid, mean, mean, mean, n, confidence)
    half = t_quantile(confidence, n - 1) * values.std(axis=0, ddof=1) / math.sqrt(n)
    return Band(grid, mean, mean - half, mean + half, n, confidence)
