"""``StudyConfig``: which agents, levels, seeds and budget a study runs, read from YAML.

A study file names its agents by kind (see :data:`glam_apps.study.plan.KINDS`), the
BabyAI-Text levels, the training seeds and one step budget, plus ``set:`` overrides of
``TrainConfig`` shared by every agent (evaluation settings, environment settings)
and per agent. Every mistake is one :class:`~glam_apps.errors.ConfigError` line
naming the key: an unknown key with the closest valid ones, an unknown level with
glam_env's close matches, an unknown agent kind with the kinds there are.

Paths in a study file (an agent's ``config:`` YAML) are relative to the study file,
and stored absolute in the study folder's ``study.yaml``, so a study continues from
any working directory.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glam_apps.config.loading import check_keys, load_yaml, merge, set_path, validate
from glam_apps.config.packaged import (
    packaged_config_names,
    packaged_yaml_names,
    packaged_yaml_path,
)
from glam_apps.errors import ConfigError
from glam_apps.evaluation.suites import SUITES
from glam_env.levels import resolve_level_name

#: Every agent kind a study knows, in the order tables list them (see plan.RECIPES).
KINDS: tuple[str, ...] = (
    "glam",
    "glam-scratch",
    "npae",
    "symbolic-ppo",
    "drrn",
    "bc",
    "bc+ppo",
    "random",
    "bot",
    "keyword",
)

#: Keys of ``set:`` that the study decides, and the study key to use instead.
MANAGED_KEYS: dict[str, str] = {
    "env.level": "levels",
    "run.seed": "seeds",
    "run.total_steps": "steps",
    "run.run_dir": "the study folder (--out)",
    "game": "levels (studies play BabyAI-Text levels)",
}

_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def nested(overrides: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": {"d": 2}}`` -> ``{"a": {"b": 1}, "c": {"d": 2}}`` (dotted keys split)."""
    data: dict[str, Any] = {}
    for key, value in overrides.items():
        single: dict[str, Any] = {}
        set_path(single, str(key).split("."), value)
        data = merge(data, single)
    return data


def _managed_in(overrides: dict[str, Any]) -> list[str]:
    data = nested(overrides)
    found = []
    for dotted in MANAGED_KEYS:
        node: Any = data
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None or (dotted == "game" and "game" in data):
            found.append(dotted)
    return found


def _check_overrides(value: dict[str, Any], where: str) -> dict[str, Any]:
    for key in value:
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise ValueError(f"{where}: {key!r} is not a config key such as ppo.learning_rate")
    for key in _managed_in(value):
        raise ValueError(f"{where}: {key} is set by the study; use {MANAGED_KEYS[key]}")
    return value


class AgentSpec(BaseModel):
    """One agent of a study: its kind, the train config it starts from, its overrides."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    """One of :data:`KINDS`; ``None``: the agent's name, which must then be a kind."""
    config: str | None = None
    """A packaged train config or a YAML file; ``None``: the kind's (plan.RECIPES)."""
    set: dict[str, Any] = Field(default_factory=dict)
    """``TrainConfig`` keys (dotted) applied after the study's ``set``."""

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(unknown_kind_message(value))
        return value

    @field_validator("set")
    @classmethod
    def _overrides(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_overrides(value, "set")


class GeneralizationSettings(BaseModel):
    """The generalization suite played by every agent's final policy, on the study's seeds.

    Episodes start at the runs' ``run.eval_seed`` (the evaluation episodes of the
    training curves); actions are sampled or greedy as each agent is evaluated
    (``run.eval_greedy``).
    """

    model_config = ConfigDict(extra="forbid")

    suite: str = "paper"
    episodes: int = Field(100, ge=1)
    """Episodes per test (per agent and seed)."""
    num_envs: int | None = Field(None, ge=1)
    """Episodes played side by side; ``None``: the agent's ``run.eval_num_envs``."""

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, value: str) -> str:
        if value not in SUITES:
            raise ValueError(f"unknown suite {value!r}; choose one of {', '.join(SUITES)}")
        return value


class StudyConfig(BaseModel):
    """A study: agents x levels x seeds, each an ordinary run with ``steps`` env steps."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    """The study's name (default: the file's stem); the default folder is runs/studies/NAME."""
    description: str = ""
    levels: list[str]
    """BabyAI-Text levels, each trained and evaluated on separately."""
    seeds: list[int]
    """Training seeds (``run.seed``) of every learning agent."""
    steps: int = Field(gt=0)
    """Env steps of every learning agent (``run.total_steps``)."""
    config: str = "quickstart"
    """The train config of the LLM agents and of the evaluation settings of the agents
    that do not learn (a packaged name or a YAML file)."""
    set: dict[str, Any] = Field(default_factory=dict)
    """``TrainConfig`` keys (dotted) applied to every agent: keep the evaluation
    (``run.eval_*``) and environment settings here, so every agent plays the same
    episodes."""
    agents: dict[str, AgentSpec]
    generalization: GeneralizationSettings | None = Field(default_factory=GeneralizationSettings)
    """The generalization suite (``null``: none, no generalization.md)."""
    thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.8])
    """Success rates whose first crossing (env steps) the results report."""

    @field_validator("levels")
    @classmethod
    def _known_levels(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one level (e.g. [GoToLocal])")
        levels = []
        for name in value:
            try:
                levels.append(resolve_level_name(name))
            except ValueError as error:
                raise ValueError(str(error)) from None
        repeated = sorted({level for level in levels if levels.count(level) > 1})
        if repeated:
            raise ValueError(f"levels repeated: {', '.join(repeated)}")
        return levels

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("give at least one seed (e.g. [0, 1, 2])")
        if any(seed < 0 for seed in value):
            raise ValueError("seeds must be >= 0")
        repeated = sorted({seed for seed in value if value.count(seed) > 1})
        if repeated:
            raise ValueError(f"seeds repeated: {', '.join(map(str, repeated))}")
        return value

    @field_validator("set")
    @classmethod
    def _overrides(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_overrides(value, "set")

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if any(not 0.0 < t <= 1.0 for t in value):
            raise ValueError("thresholds are success rates in (0, 1]")
        return sorted(set(value))

    @model_validator(mode="before")
    @classmethod
    def _agent_list(cls, data: Any) -> Any:
        """``agents: [glam, random]`` and ``agents: {random: }`` are accepted too."""
        if not isinstance(data, dict):
            return data
        agents = data.get("agents")
        if isinstance(agents, list):
            agents = {str(name): {} for name in agents}
        if isinstance(agents, dict):
            agents = {name: ({} if spec is None else spec) for name, spec in agents.items()}
            data = {**data, "agents": agents}
        return data

    @model_validator(mode="after")
    def _agents(self) -> StudyConfig:
        if not self.agents:
            raise ValueError("give at least one agent (e.g. glam, random)")
        for name, spec in self.agents.items():
            if not _AGENT_NAME.match(name):
                raise ValueError(
                    f"agent name {name!r} must be letters, digits and _ . + - (a folder name)"
                )
            if spec.kind is None:
                if name not in KINDS:
                    raise ValueError(
                        f"agents.{name}: its name is not an agent kind, so give one: "
                        f"{unknown_kind_message(name)}"
                    )
                spec.kind = name
        return self

    def kind_of(self, agent: str) -> str:
        """The agent's kind (its name when no kind is given)."""
        kind = self.agents[agent].kind
        assert kind is not None  # filled by the validator
        return kind

    def to_yaml_dict(self) -> dict[str, Any]:
        """The resolved study as plain data (what the study folder's ``study.yaml`` holds)."""
        return self.model_dump(mode="json")


def unknown_kind_message(kind: str) -> str:
    close = difflib.get_close_matches(kind, KINDS, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown agent kind {kind!r}{hint} Kinds: {', '.join(KINDS)}"


# ---------------------------------------------------------------------- loading


def packaged_study_names() -> list[str]:
    """Names of the studies shipped in ``glam_apps/studies``."""
    return packaged_yaml_names("studies")


def packaged_study_path(name: str) -> Path:
    """The file of a packaged study."""
    return packaged_yaml_path("studies", name)


def resolve_study_source(source: str | os.PathLike[str]) -> Path:
    """A packaged study name or a YAML path -> the file to read (one line if missing)."""
    text = os.fspath(source)
    if text in packaged_study_names():
        return packaged_study_path(text)
    path = Path(text).expanduser()
    if not path.is_file():
        names = ", ".join(packaged_study_names())
        raise ConfigError(f"study not found: {text} (a YAML file, or a packaged study: {names})")
    return path


def _config_source(value: str, folder: Path, where: str) -> str:
    """A train config named in a study: a packaged name stays, a path becomes absolute."""
    if value in packaged_config_names():
        return value
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = folder / path
    if not path.is_file():
        names = ", ".join(packaged_config_names())
        raise ConfigError(
            f"{where}: train config not found: {value} (a YAML file, or a packaged config: {names})"
        )
    return str(path.resolve())


def study_from_data(data: dict[str, Any], *, name: str, folder: Path) -> StudyConfig:
    """Validate a study mapping; ``name`` fills a missing ``name``, ``folder`` anchors paths."""
    data = dict(data)
    data.setdefault("name", name)
    check_keys({k: v for k, v in data.items() if k != "agents"}, StudyConfig)
    agents = data.get("agents")
    if isinstance(agents, dict):
        for agent, spec in agents.items():
            if isinstance(spec, dict):
                check_keys(spec, AgentSpec, prefix=f"agents.{agent}.")
    if isinstance(data.get("config"), str):
        data["config"] = _config_source(data["config"], folder, "config")
    if isinstance(agents, dict):
        data["agents"] = {
            agent: (
                {**spec, "config": _config_source(spec["config"], folder, f"agents.{agent}.config")}
                if isinstance(spec, dict) and isinstance(spec.get("config"), str)
                else spec
            )
            for agent, spec in agents.items()
        }
    study = validate(StudyConfig, data)
    return study


def load_study(source: str | os.PathLike[str]) -> StudyConfig:
    """A packaged study (smoke, quickstart, laptop, paper) or a study YAML file, checked."""
    path = resolve_study_source(source)
    try:
        return study_from_data(load_yaml(path), name=path.stem, folder=path.parent)
    except ConfigError as error:
        raise ConfigError(f"study {path.name}: {error}") from None
