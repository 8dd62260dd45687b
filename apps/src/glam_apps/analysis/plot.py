"""``glam plot``: success-rate and return curves against env steps, as a PNG.

Reads ``metrics.jsonl`` (training episodes, one line per PPO update) and
``eval/evaluations.jsonl`` (periodic evaluations, with their 99% interval) of one
or several run directories and draws them on two shared-x panels.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # never needs a display; must precede pyplot
import matplotlib.pyplot as plt

from glam_apps.errors import UserError
from glam_apps.runs.atomic import atomic_write_bytes
from glam_apps.runs.rundir import (
    EVAL_RETURN_KEY,
    STEP_KEY,
    SUCCESS_KEY,
    TRAIN_RETURN_KEY,
    RunDir,
    read_jsonl,
)

logger = logging.getLogger(__name__)


def _series(records: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for record in records:
        x, y = record.get(STEP_KEY), record.get(key)
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            xs.append(float(x))
            ys.append(float(y))
    return xs, ys


def _smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average (window 1 returns the values unchanged)."""
    if window <= 1:
        return values
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_runs(
    run_dirs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    smooth: int = 1,
    title: str | None = None,
) -> Path:
    """Draw every run's curves into one PNG at ``output`` and return its path."""
    if not run_dirs:
        raise UserError("give at least one run directory to plot")
    if labels is not None and len(labels) != len(run_dirs):
        raise UserError(f"{len(labels)} labels given for {len(run_dirs)} runs")
    if smooth < 1:
        raise UserError(f"smooth must be >= 1, got {smooth}")
    runs = [RunDir.at(path).require_run() for path in run_dirs]
    names = list(labels) if labels is not None else [run.root.name for run in runs]

    figure, (ax_success, ax_return) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    drawn = drawn_points = 0
    for run, name, color in zip(runs, names, _colors(len(runs)), strict=True):
        train = read_jsonl(run.metrics)
        evals = read_jsonl(run.evaluations)
        if not train and not evals:
            logger.warning("run %s has no metrics yet", run.root)
            continue
        points_before = drawn_points
        xs, ys = _series(train, SUCCESS_KEY)
        drawn_points += len(xs)
        if xs:
            ax_success.plot(
                xs, _smooth(ys, smooth), color=color, alpha=0.8, label=f"{name} (train)"
            )
        xs, ys = _series(train, TRAIN_RETURN_KEY)
        drawn_points += len(xs)
        if xs:
            ax_return.plot(xs, _smooth(ys, smooth), color=color, alpha=0.8, label=f"{name} (train)")
        xs, ys = _series(evals, SUCCESS_KEY)
        drawn_points += len(xs)
        if xs:
            _, lows = _series(evals, "success_ci_low")
            _, highs = _series(evals, "success_ci_high")
            ax_success.plot(xs, ys, "o--", color=color, label=f"{name} (eval)")
            if len(lows) == len(xs) == len(highs):
                ax_success.fill_between(xs, lows, highs, color=color, alpha=0.15)
        xs, ys = _series(evals, EVAL_RETURN_KEY)
        drawn_points += len(xs)
        if xs:
            ax_return.plot(xs, ys, "o--", color=color, label=f"{name} (eval)")
        if drawn_points == points_before:
            logger.warning("run %s has metrics but none of the plotted series", run.root)
            continue
        drawn += 1
    if drawn == 0:
        plt.close(figure)
        raise UserError("none of the runs has metrics to plot yet")

    ax_success.set_ylabel("success rate")
    ax_success.set_ylim(-0.02, 1.02)
    ax_success.grid(alpha=0.3)
    _legend(ax_success)
    ax_return.set_ylabel("episode return")
    ax_return.set_xlabel("env steps")
    ax_return.grid(alpha=0.3)
    _legend(ax_return)
    if title:
        ax_success.set_title(title)
    figure.tight_layout()

    target = Path(output)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write_bytes(target, buffer.getvalue())
    logger.info("wrote %s", target)
    return target


def _colors(count: int) -> list[str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return [cycle[i % len(cycle)] for i in range(count)]


def _legend(axes: plt.Axes) -> None:
    """A legend only where something was drawn (matplotlib warns otherwise)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small", loc="best")
