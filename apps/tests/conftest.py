"""Fixtures shared by the apps tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def run_glam(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``run_glam(*args)``: ``glam ARGS`` in-process through the real entry point,
    as ``(exit code, stdout, stderr)``."""
    from glam_apps.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
