"""Write a study's outputs from its cells' folders: figure, results, generalization.

Rebuilt from disk on every ``glam study`` call (and by :func:`write_outputs` alone),
so an interrupted or partial study still gets its outputs, which name the cells
that are missing. Each file is written atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

from glam_apps.runs.atomic import atomic_write_json, atomic_write_text
from glam_apps.study.collect import collect
from glam_apps.study.figures import plot_curves
from glam_apps.study.plan import StudyPlan
from glam_apps.study.summary import StudySummary, summarize
from glam_apps.study.tables import generalization_markdown, results_json, results_markdown

logger = logging.getLogger(__name__)

CURVES = "curves.png"
RESULTS_MD = "results.md"
RESULTS_JSON = "results.json"
GENERALIZATION_MD = "generalization.md"


def study_summary(plan: StudyPlan) -> StudySummary:
    """Every cell read back and summarized per level and agent."""
    return summarize(plan, collect(plan))


def write_outputs(plan: StudyPlan) -> list[Path]:
    """``curves.png``, ``results.md``, ``results.json`` and (with a suite) ``generalization.md``."""
    summary = study_summary(plan)
    root = plan.root
    written = [
        plot_curves(summary, root / CURVES),
        atomic_write_text(root / RESULTS_MD, results_markdown(summary)),
        atomic_write_json(root / RESULTS_JSON, results_json(summary)),
    ]
    if plan.study.generalization is not None:
        written.append(
            atomic_write_text(root / GENERALIZATION_MD, generalization_markdown(summary))
        )
    for path in written:
        logger.info("wrote %s", path)
    return written
