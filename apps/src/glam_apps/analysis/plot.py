"""``glam plot``: learning curves of run directories as a PNG.

By default two panels against env steps: success rate and episode return, the
training curves (``metrics.jsonl``, one point per update) as lines and the
periodic evaluations (``eval/evaluations.jsonl``) as points. ``metrics`` draws one
panel per named metric instead: any key of those files or any TensorBoard scalar
tag (see :mod:`glam_apps.analysis.curves`).

Runs that differ only by seed (their ``config.yaml`` minus ``run.seed`` and
``run.run_dir``) are drawn as one line, the mean across seeds, with a band: the
95% Student-t interval of that mean (``group=False`` draws every run alone). A
run alone keeps its evaluations' own 99% Wilson interval around the success points.
A folder that holds runs (``glam train --seeds`` writes ``RUN_DIR/seed-K``) stands
for all of them.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # never needs a display; must precede pyplot
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from glam_apps.analysis.curves import (
    CONFIDENCE,
    MetricInfo,
    RunMetrics,
    across_runs,
    check_metrics,
    find_runs,
    group_label,
    group_runs,
    is_evaluation,
    list_metrics,
)
from glam_apps.errors import UserError
from glam_apps.runs.atomic import atomic_write_bytes
from glam_apps.runs.rundir import EVAL_RETURN_KEY, SUCCESS_KEY, TRAIN_RETURN_KEY

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Panel:
    """One axes: its y label and the metrics drawn on it."""

    ylabel: str
    metrics: tuple[str, ...]
    unit_interval: bool = False


#: The figure without ``metrics``: success and return, training and evaluation.
DEFAULT_PANELS = (
    Panel("success rate", (SUCCESS_KEY, f"eval/{SUCCESS_KEY}"), unit_interval=True),
    Panel("episode return", (TRAIN_RETURN_KEY, f"eval/{EVAL_RETURN_KEY}")),
)


@dataclass(frozen=True)
class Line:
    """What one legend entry stands for: a run, or the seeds of one config."""

    label: str
    runs: tuple[RunMetrics, ...]


def load_runs(run_dirs: Sequence[str | os.PathLike[str]]) -> list[RunMetrics]:
    """The runs behind ``run_dirs`` (folders of runs expanded), their metrics read."""
    return [RunMetrics.load(run.root) for run in find_runs(run_dirs)]


def metric_names(run_dirs: Sequence[str | os.PathLike[str]]) -> tuple[list[MetricInfo], int]:
    """Every metric ``plot_runs`` can draw for these runs, and how many runs there are
    (``glam plot --list-metrics``)."""
    runs = load_runs(run_dirs)
    return list_metrics(runs), len(runs)


def plot_runs(
    run_dirs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    metrics: Sequence[str] | None = None,
    group: bool = True,
    labels: Sequence[str] | None = None,
    smooth: int = 1,
    title: str | None = None,
    confidence: float = CONFIDENCE,
) -> Path:
    """Draw the runs' curves into one PNG at ``output`` and return its path.

    ``labels`` names the lines in order (after grouping: one per group of seeds).
    """
    figure = draw_runs(
        run_dirs,
        metrics=metrics,
        group=group,
        labels=labels,
        smooth=smooth,
        title=title,
        confidence=confidence,
    )
    target = Path(output)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write_bytes(target, buffer.getvalue())
    logger.info("wrote %s", target)
    return target


def draw_runs(
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    metrics: Sequence[str] | None = None,
    group: bool = True,
    labels: Sequence[str] | None = None,
    smooth: int = 1,
    title: str | None = None,
    confidence: float = CONFIDENCE,
) -> Figure:
    """The figure :func:`plot_runs` saves (the caller closes it: ``plt.close(figure)``)."""
    if smooth < 1:
        raise UserError(f"smooth must be >= 1, got {smooth}")
    if not 0.0 < confidence < 1.0:
        raise UserError(f"confidence must be between 0 and 1, got {confidence}")
    runs = load_runs(run_dirs)
    if metrics:
        check_metrics(metrics, runs)
        panels: Sequence[Panel] = [Panel(name, (name,)) for name in dict.fromkeys(metrics)]
    else:
        panels = DEFAULT_PANELS
    groups = group_runs(runs) if group else [[run] for run in runs]
    names = _unique_labels([group_label(g) for g in groups], groups)
    if labels is not None:
        if len(labels) != len(groups):
            raise UserError(
                f"{len(labels)} labels given for {len(groups)} lines (runs that differ only "
                "by seed make one line; --no-group draws each run)"
            )
        names = list(labels)
    lines = [Line(name, tuple(g)) for name, g in zip(names, groups, strict=True)]

    figure, axes = plt.subplots(
        len(panels), 1, figsize=(8, 1.2 + 2.9 * len(panels)), sharex=True, squeeze=False
    )
    colors = _colors(len(lines))
    drawn_lines: set[int] = set()
    banded = False
    for panel, ax in zip(panels, axes[:, 0], strict=True):
        for index, (line, color) in enumerate(zip(lines, colors, strict=True)):
            for name in panel.metrics:
                drawn, band = _draw(ax, line, name, color, smooth, confidence, panel, metrics)
                if drawn:
                    drawn_lines.add(index)
                banded |= band
        ax.set_ylabel(panel.ylabel)
        if panel.unit_interval:
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        _legend(ax)
    for index, line in enumerate(lines):
        if index not in drawn_lines:
            logger.warning("%s has none of the plotted metrics yet", line.label)
    if not drawn_lines:
        plt.close(figure)
        raise UserError("none of the runs has metrics to plot yet")
    axes[-1, 0].set_xlabel("env steps")
    if title:
        axes[0, 0].set_title(title)
    if banded:
        figure.text(
            0.01,
            0.005,
            f"shaded: {confidence:.0%} Student-t interval of the mean across seeds",
            fontsize="x-small",
            color="0.35",
        )
    figure.tight_layout(rect=(0, 0.02 if banded else 0, 1, 1))
    return figure


def _draw(
    ax: plt.Axes,
    line: Line,
    name: str,
    color: str,
    smooth: int,
    confidence: float,
    panel: Panel,
    custom: Sequence[str] | None,
) -> tuple[bool, bool]:
    """Draw metric ``name`` of ``line`` on ``ax``: (anything drawn, a band across seeds)."""
    curves = [c for c in (run.curve(name, smooth) for run in line.runs) if c is not None]
    if not curves:
        return False, False
    evaluation = is_evaluation(name)
    style = "o--" if evaluation else "-"
    suffix = "" if custom else (" (eval)" if evaluation else " (train)")
    label = f"{line.label}{suffix}"
    if len(curves) == 1:
        curve = curves[0]
        ax.plot(curve.steps, curve.values, style, color=color, alpha=0.85, label=label)
        if evaluation and name == f"eval/{SUCCESS_KEY}":
            run = next(r for r in line.runs if r.curve(name) is not None)
            low, high = run.curve("eval/success_ci_low"), run.curve("eval/success_ci_high")
            if low is not None and high is not None and len(low) == len(curve) == len(high):
                ax.fill_between(curve.steps, low.values, high.values, color=color, alpha=0.15)
        return True, False
    band = across_runs(curves, confidence)
    if band is None:
        logger.warning("%s: the seeds' %s curves share no range of steps", line.label, name)
        return False, False
    if len(curves) < len(line.runs):
        label += f", {len(curves)} with {name}"
    ax.plot(band.steps, band.mean, style, color=color, alpha=0.9, label=label)
    alpha = 0.12 if evaluation else 0.22  # where the two overlap, both stay readable
    ax.fill_between(band.steps, band.low, band.high, color=color, alpha=alpha, linewidth=0)
    return True, True


def _unique_labels(labels: list[str], groups: Sequence[Sequence[RunMetrics]]) -> list[str]:
    """Folder names alone, or with their parent where two lines would read the same."""
    repeated = {label for label in labels if labels.count(label) > 1}
    return [
        f"{g[0].run.root.parent.name}/{label}" if label in repeated and len(g) == 1 else label
        for label, g in zip(labels, groups, strict=True)
    ]


def _colors(count: int) -> list[str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return [cycle[i % len(cycle)] for i in range(count)]


def _legend(axes: plt.Axes) -> None:
    """A legend only where something was drawn (matplotlib warns otherwise)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small", loc="best")
