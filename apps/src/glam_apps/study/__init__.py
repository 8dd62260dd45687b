"""``glam study``: agents x levels x seeds as ordinary runs, into the paper's figure and tables.

``run_study(config, out, jobs=...)`` runs every cell not done yet (see
:mod:`glam_apps.study.runner`) and writes ``curves.png``, ``results.md``,
``results.json`` and ``generalization.md`` into the study folder; ``load_study``
reads a packaged study (``smoke``, ``quickstart``, ``laptop``, ``paper``) or a YAML file.
"""

from __future__ import annotations

from glam_apps.study.config import KINDS, StudyConfig, load_study, packaged_study_names
from glam_apps.study.plan import Cell, StudyPlan, plan_study
from glam_apps.study.runner import CellResult, StudyResult, run_study

__all__ = [
    "KINDS",
    "Cell",
    "CellResult",
    "StudyConfig",
    "StudyPlan",
    "StudyResult",
    "load_study",
    "packaged_study_names",
    "plan_study",
    "run_study",
]
