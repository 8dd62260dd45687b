"""Named configs shipped with the package, and how a ``TrainConfig`` is assembled.

``glam train`` with no ``--config`` uses ``configs/quickstart.yaml``: the one file
that defines the default run (level, offline model recipe, PPO hyperparameters).
``--config paper`` names another packaged file; any other value is a path.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from glam_apps.config.loading import ConfigError, compose
from glam_apps.config.schema import TrainConfig

#: The config ``glam train`` uses when none is given.
DEFAULT_CONFIG = "quickstart"


def packaged_yaml_names(folder: str) -> list[str]:
    """Names of the YAML files shipped in ``glam_apps/<folder>`` (configs, studies)."""
    entries = resources.files("glam_apps").joinpath(folder).iterdir()
    return sorted(e.name.removesuffix(".yaml") for e in entries if e.name.endswith(".yaml"))


def packaged_yaml_path(folder: str, name: str) -> Path:
    """A packaged YAML file (the package is installed as plain files)."""
    return Path(str(resources.files("glam_apps").joinpath(folder, f"{name}.yaml")))


def packaged_config_names() -> list[str]:
    """Names of the configs shipped in ``glam_apps/configs``."""
    return packaged_yaml_names("configs")


def packaged_config_path(name: str) -> Path:
    """The file of a packaged config."""
    return packaged_yaml_path("configs", name)


def resolve_config_source(config: str | os.PathLike[str] | None) -> Path:
    """A packaged config name or a file path -> the YAML file to read."""
    if config is None:
        return packaged_config_path(DEFAULT_CONFIG)
    text = os.fspath(config)
    names = packaged_config_names()
    if text in names:
        return packaged_config_path(text)
    path = Path(text).expanduser()
    if not path.exists() and os.sep not in text and not text.endswith((".yaml", ".yml", ".json")):
        # A bare word that is neither a packaged config nor a file: most likely a typo.
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.7)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise ConfigError(
            f"unknown config {text!r}: not a packaged config nor a file; {hint}"
            f"packaged configs: {', '.join(names)}"
        )
    return path


def load_train_config(
    config: str | os.PathLike[str] | None = None, overrides: Iterable[str] = ()
) -> TrainConfig:
    """``config`` (a packaged name, a YAML path, or ``None`` for the quickstart) + overrides.

    Keys missing from the file take ``TrainConfig``'s defaults.
    """
    return compose(TrainConfig, path=resolve_config_source(config), overrides=overrides)


def default_train_config(overrides: Iterable[str] = ()) -> TrainConfig:
    """The quickstart config (what ``glam train`` runs with no arguments)."""
    return load_train_config(None, overrides)
