from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from glam_apps import __version__
from glam_apps.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_the_program() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Ground language models" in result.output


def test_console_script_unknown_command_is_one_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "glam_apps.cli", "no-such-command"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no-such-command" in result.stderr


def test_train_help_names_every_packaged_config() -> None:
    import inspect

    from glam_apps import cli
    from glam_apps.config.packaged import packaged_config_names

    source = inspect.getsource(cli.train)
    for name in packaged_config_names():
        assert name in source, name


def test_an_unknown_config_name_gets_close_matches_and_the_list() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "glam_apps.cli", "train", "--config", "quickstrat"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "unknown config 'quickstrat'" in result.stderr
    assert "did you mean quickstart?" in result.stderr
    assert "packaged configs: coin_collector, drrn, paper" in result.stderr
