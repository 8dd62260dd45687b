"""Fixtures shared by the apps tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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


@pytest.fixture(scope="module")
def textworld_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """TextWorld generates its games into a cache of this test session, never the user's
    (one folder for the session: the watch and play tests generate the same game once)."""
    pytest.importorskip("textworld")
    cache = tmp_path_factory.getbasetemp() / "textworld-xdg-cache"
    cache.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield
