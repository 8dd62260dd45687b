"""``curves.png``: success rate against env steps, one panel per level, one line per agent.

The paper's Q1 figure: for each learning agent the mean over seeds of its periodic
evaluations with a 95% bootstrap band (no band with one seed); agents that take
no env steps (random, bot, keyword, and ``bc``, cloned from demonstrations) are
horizontal dashed lines at their final success. ``matplotlib.figure.Figure``
directly, not pyplot: no global state, no display.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from glam_apps.runs.atomic import atomic_write_bytes
from glam_apps.study.aggregate import CONFIDENCE
from glam_apps.study.summary import AgentSummary, StudySummary

logger = logging.getLogger(__name__)

#: Colours by agent (the same in every panel): matplotlib's tab10, then tab20.
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
)


def _seeds_text(agent: AgentSummary) -> str:
    if agent.curve is None:
        return ""
    most = max(agent.curve.seeds)
    return f" ({most} seed{'s' if most != 1 else ''})"


def plot_curves(summary: StudySummary, output: Path) -> Path:
    """Draw ``curves.png`` from the study's summary (an empty panel says "no evaluations")."""
    study = summary.plan.study
    levels = list(summary.levels)
    colors = {agent: _PALETTE[i % len(_PALETTE)] for i, agent in enumerate(study.agents)}
    figure = Figure(figsize=(max(7.5, 5.5 * len(levels)), 5.6), layout="constrained")
    axes_list = figure.subplots(1, len(levels), squeeze=False)[0]
    legend: dict[str, Any] = {}  # label -> handle, the first panel's (colours are per agent)
    for axes, level in zip(axes_list, levels, strict=True):
        drawn = False
        for agent in summary.levels[level]:
            color = colors[agent.agent]
            if agent.role == "trained" and agent.curve is not None:
                curve = agent.curve
                (line,) = axes.plot(curve.steps, curve.mean, "o-", markersize=3, color=color)
                legend.setdefault(agent.label + _seeds_text(agent), line)
                banded = [
                    (s, lo, hi)
                    for s, lo, hi in zip(curve.steps, curve.low, curve.high, strict=True)
                    if lo is not None and hi is not None
                ]
                if banded:
                    steps, lows, highs = zip(*banded, strict=True)
                    axes.fill_between(steps, lows, highs, color=color, alpha=0.18, linewidth=0)
                drawn = True
            elif agent.role != "trained" and agent.final is not None:
                what = "cloned, no env steps" if agent.role == "cloned" else "no learning"
                line = axes.axhline(agent.final.mean, linestyle="--", linewidth=1.2, color=color)
                legend.setdefault(f"{agent.label} ({what})", line)
                drawn = True
        if not drawn:
            axes.text(0.5, 0.5, "no evaluations yet", ha="center", va="center",
                      transform=axes.transAxes)  # fmt: skip
        axes.set_title(level)
        axes.set_xlabel("env steps")
        axes.set_ylabel("success rate")
        axes.set_ylim(-0.02, 1.02)
        axes.grid(alpha=0.3)
    if legend:
        figure.legend(list(legend.values()), list(legend), loc="outside lower center",
                      ncols=min(3, len(legend)), fontsize="small")  # fmt: skip
    done = sum(agent.done for agents in summary.levels.values() for agent in agents)
    figure.suptitle(
        f"Study {study.name}: success rate against env steps\nmean over seeds with a "
        f"{CONFIDENCE:.0%} bootstrap band; {done} of {summary.cells} cells evaluated",
        fontsize="medium",
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(output, buffer.getvalue())
    logger.info("wrote %s", output)
    return output
