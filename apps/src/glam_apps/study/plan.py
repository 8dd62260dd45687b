"""A study's cells: every (agent, level, seed), its folder, its resolved train config, its state.

Layout of a study folder::

    STUDY/
      study.yaml                      the resolved study (written on the first run)
      .lock                           pid and host of the ``glam study`` that runs it
      runs/<agent>/<level>/seed-<k>/  a learning agent's run directory (glam train)
      runs/bc/<level>/seed-<k>/       policy/ (glam clone) and eval/
      runs/<agent>/<level>/           an agent that does not learn (random, bot,
                                      keyword): eval/ only, one cell per level
      logs/<cell>.log, <cell>.json    each cell's output, and its last attempt
      curves.png, results.md, results.json, generalization.md

Every cell writes ``eval/final.json`` (the final evaluation on the level, on the runs'
evaluation episodes) and, with a generalization suite, ``eval/generalization-<suite>.json``.
Agents that do not learn have one cell per level: they learn nothing from a seed,
and every cell plays the same evaluation episodes, so seeds would repeat one result.

A cell's train config is, in order: the kind's config file (or the agent's
``config:``), the kind's recipe (:data:`RECIPES`), the study's ``set``, the agent's
``set``, then the cell's level, seed, steps and folder.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from glam_apps.config.loading import load_yaml, merge, validate
from glam_apps.config.packaged import resolve_config_source
from glam_apps.config.schema import TrainConfig
from glam_apps.errors import ConfigError, UserError
from glam_apps.runs.rundir import RunDir
from glam_apps.study.config import KINDS, StudyConfig, nested
from glam_env.actions import resolve_action_names

Role = Literal["trained", "cloned", "evaluated"]
State = Literal["done", "new", "resume", "evaluate"]

RUNS_DIR = "runs"
LOGS_DIR = "logs"
STUDY_FILE = "study.yaml"
FINAL_REPORT = "final"
POLICY_DIR = "policy"


@dataclass(frozen=True)
class KindRecipe:
    """What an agent kind is: its role, its default train config, its overrides."""

    role: Role
    description: str
    config: str | None
    """Default train config; ``None``: the study's ``config``."""
    overrides: dict[str, Any]


#: The agent kinds (keys: :data:`glam_apps.study.config.KINDS`).
RECIPES: dict[str, KindRecipe] = {
    "glam": KindRecipe(
        "trained", "the LLM policy (pretrained LM, scoring head) with PPO", None, {"agent": "glam"}
    ),
    "glam-scratch": KindRecipe(
        "trained",
        "the same LM with random weights, with PPO",
        None,
        {"agent": "glam", "policy.pretrained": False},
    ),
    "npae": KindRecipe(
        "trained",
        "the LM with random weights and one output per action (NPAE), with PPO",
        None,
        {"agent": "glam", "policy.pretrained": False, "policy.head": "action_heads"},
    ),
    "symbolic-ppo": KindRecipe(
        "trained",
        "BabyAI's grid + mission network with PPO",
        "symbolic_ppo",
        {"agent": "symbolic-ppo", "env.observation": "both"},
    ),
    "drrn": KindRecipe(
        "trained", "DRRN, Q-learning over the actions' texts", "drrn", {"agent": "drrn"}
    ),
    "bc": KindRecipe(
        "cloned",
        "the LLM policy cloned from the BabyAI bot, no PPO (glam clone)",
        None,
        {"agent": "glam", "bc.episodes": 100},
    ),
    "bc+ppo": KindRecipe(
        "trained",
        "the LLM policy cloned from the BabyAI bot, then PPO",
        None,
        {"agent": "glam", "bc.episodes": 100},
    ),
    "random": KindRecipe("evaluated", "uniformly random admissible actions", None, {}),
    "bot": KindRecipe("evaluated", "the BabyAI bot on the true grid (upper bound)", None, {}),
    "keyword": KindRecipe("evaluated", "the scripted keyword rule", None, {}),
}
assert tuple(RECIPES) == KINDS


@dataclass(frozen=True)
class Cell:
    """One agent on one level with one seed (``None`` for agents that do not learn)."""

    agent: str
    kind: str
    level: str
    seed: int | None
    root: Path
    config: TrainConfig

    @property
    def role(self) -> Role:
        return RECIPES[self.kind].role

    @property
    def key(self) -> str:
        """``agent/level/seed-k`` (``agent/level`` for agents that do not learn)."""
        tail = "" if self.seed is None else f"/seed-{self.seed}"
        return f"{self.agent}/{self.level}{tail}"

    @property
    def slug(self) -> str:
        """The key as one file name (the cell's log files)."""
        return self.key.replace("/", "__")

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def final_report(self) -> Path:
        return self.eval_dir / f"{FINAL_REPORT}.json"

    @property
    def policy_dir(self) -> Path:
        """Where a cloned agent's policy is (``glam clone --out``)."""
        return self.root / POLICY_DIR

    def generalization_report(self, suite: str) -> Path:
        return self.eval_dir / f"generalization-{suite}.json"


@dataclass(frozen=True)
class StudyPlan:
    """A study's folder and cells, in the order they run (seed by seed)."""

    study: StudyConfig
    root: Path
    cells: tuple[Cell, ...]

    @property
    def study_file(self) -> Path:
        return self.root / STUDY_FILE

    @property
    def logs(self) -> Path:
        return self.root / LOGS_DIR

    def log_file(self, cell: Cell) -> Path:
        return self.logs / f"{cell.slug}.log"

    def attempt_file(self, cell: Cell) -> Path:
        return self.logs / f"{cell.slug}.json"

    def cell(self, key: str) -> Cell:
        for cell in self.cells:
            if cell.key == key:
                return cell
        raise UserError(f"study {self.study.name} has no cell {key!r}")

    def select(self, only: Sequence[str] | None) -> list[Cell]:
        """The cells of the agents in ``only`` (all without); an unknown name is one line."""
        if not only:
            return list(self.cells)
        names = list(self.study.agents)
        for name in only:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UserError(
                    f"--only {name}: no such agent in study {self.study.name}{hint} "
                    f"Agents: {', '.join(names)}"
                )
        return [cell for cell in self.cells if cell.agent in only]

    def agent_cells(self, agent: str, level: str) -> list[Cell]:
        return [c for c in self.cells if c.agent == agent and c.level == level]


# ---------------------------------------------------------------------- configs


def resolve_train_config(
    study: StudyConfig, agent: str, level: str, seed: int | None, root: Path
) -> TrainConfig:
    """The train config of one cell (see the module docstring for the order)."""
    spec = study.agents[agent]
    kind = study.kind_of(agent)
    recipe = RECIPES[kind]
    source = spec.config or recipe.config or study.config
    where = f"agent {agent} ({kind}), level {level}"
    try:
        data = load_yaml(resolve_config_source(source))
        data = merge(data, nested(recipe.overrides))
        data = merge(data, nested(study.set))
        data = merge(data, nested(spec.set))
        managed: dict[str, Any] = {"env.level": level, "run.run_dir": str(root)}
        if seed is not None:
            managed["run.seed"] = seed
        if recipe.role == "trained":
            managed["run.total_steps"] = study.steps
        data = merge(data, nested(managed))
        data.pop("game", None)
        if kind == "npae" and not (data.get("policy") or {}).get("actions"):
            actions = (data.get("env") or {}).get("actions", "paper6")
            data = merge(data, {"policy": {"actions": list(resolve_action_names(actions))}})
        config = validate(TrainConfig, data)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    except ValueError as error:  # an action preset resolve_action_names refuses
        raise ConfigError(f"{where}: {error}") from None
    if kind in ("bc", "bc+ppo") and config.bc.episodes < 1:
        raise ConfigError(f"{where}: {kind} clones the bot: set bc.episodes > 0")
    return config


def cell_root(root: Path, agent: str, level: str, seed: int | None) -> Path:
    folder = root / RUNS_DIR / agent / level
    return folder if seed is None else folder / f"seed-{seed}"


def plan_study(study: StudyConfig, root: str | Path) -> StudyPlan:
    """Every cell of ``study`` in ``root``, each config resolved (errors before any work).

    Cells run seed by seed (every agent's first seed first), so a study stopped early
    already compares every agent; agents that do not learn come first (they are quick).
    """
    folder = Path(root).expanduser().resolve()
    cells: list[Cell] = []
    evaluated = [a for a in study.agents if RECIPES[study.kind_of(a)].role == "evaluated"]
    learning = [a for a in study.agents if a not in evaluated]
    for agent in evaluated:
        for level in study.levels:
            path = cell_root(folder, agent, level, None)
            config = resolve_train_config(study, agent, level, None, path)
            cells.append(Cell(agent, study.kind_of(agent), level, None, path, config))
    for seed in study.seeds:
        for agent in learning:
            for level in study.levels:
                path = cell_root(folder, agent, level, seed)
                config = resolve_train_config(study, agent, level, seed, path)
                cells.append(Cell(agent, study.kind_of(agent), level, seed, path, config))
    return StudyPlan(study, folder, tuple(cells))


# ---------------------------------------------------------------------- states


def report_is_complete(path: Path, episodes: int | None = None, suite: str | None = None) -> bool:
    """Whether ``path`` is a complete evaluation report (of ``episodes`` per test, ``suite``)."""
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(data, dict) or not data.get("complete", False):
        return False
    if suite is not None and data.get("suite") != suite:
        return False
    return episodes is None or data.get("episodes_per_test") == episodes


def generalization_done(cell: Cell, study: StudyConfig) -> bool:
    settings = study.generalization
    if settings is None:
        return True
    return report_is_complete(
        cell.generalization_report(settings.suite), settings.episodes, settings.suite
    )


def cell_state(cell: Cell, study: StudyConfig) -> State:
    """``done``, ``new`` (nothing yet), ``resume`` (a run to continue), ``evaluate``
    (trained or cloned: an evaluation is missing)."""
    if cell.role == "trained":
        run = RunDir(cell.root)
        if not run.is_run():
            return "new"
        if run.read_status().get("status") != "finished":
            return "resume"
    elif cell.role == "cloned":
        if not cell.policy_dir.is_dir():
            return "new"
        if not report_is_complete(cell.final_report):
            return "evaluate"
    elif not report_is_complete(cell.final_report):
        return "new"
    return "done" if generalization_done(cell, study) else "evaluate"
