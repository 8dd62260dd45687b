"""Fixtures of the cross-package integration tests: an isolated model cache, a tiny
run recipe, and a way to run the `glam` command line in-process."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: A run small enough for tests: nano offline model, 2 envs x 4 steps per update,
#: 6-step episodes, 2 evaluation episodes; every update checkpointed. It pins every
#: setting the tests rely on, so tuning the quickstart config does not change them.
TINY_RUN: tuple[str, ...] = (
    "env.level=GoToRedBallNoDists",
    "env.family_weights=null",
    "env.num_distractors=null",
    "env.max_steps=6",
    "default_model.size=nano",
    "default_model.corpus_episodes=3",
    "default_model.vocab_size=400",
    "default_model.pretrain_steps=0",
    "policy.value_hidden_sizes=[8]",
    "run.num_envs=2",
    "run.eval_episodes=2",
    "run.eval_num_envs=2",
    "run.eval_every=8",
    "run.checkpoint_every=8",
    "run.torch_threads=null",
    "ppo.num_steps=4",
    "ppo.minibatch_size=4",
    "ppo.num_epochs=2",
    "ppo.lr_schedule=constant",
)


@pytest.fixture(scope="session")
def tiny_args() -> Callable[..., list[str]]:
    """``tiny_args(*extra)``: ``--set`` arguments of the tiny run plus ``extra`` overrides."""

    def build(*extra: str) -> list[str]:
        args: list[str] = []
        for item in (*TINY_RUN, *extra):
            args += ["--set", item]
        return args

    return build


@pytest.fixture(scope="session", autouse=True)
def glam_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test builds offline models into one fresh cache, never the user's."""
    cache = tmp_path_factory.mktemp("glam-cache")
    previous = os.environ.get("GLAM_CACHE_DIR")
    os.environ["GLAM_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("GLAM_CACHE_DIR", None)
    else:
        os.environ["GLAM_CACHE_DIR"] = previous


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def glam(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``glam ARGS`` in-process through the real entry point (exit codes included)."""
    from glam_apps.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def _tree_digest(root: Path) -> dict[str, str]:
    """Content hash of every file under ``root`` (to prove nothing was touched)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _one_clear_line(result: CliResult) -> str:
    """The single ``error:`` line of a refused command (exit 2, no traceback)."""
    assert result.code == 2, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


@pytest.fixture(scope="session")
def tree_digest() -> Callable[[Path], dict[str, str]]:
    """``tree_digest(root)``: a content hash per file under ``root``."""
    return _tree_digest


@pytest.fixture(scope="session")
def one_clear_line() -> Callable[[CliResult], str]:
    """``one_clear_line(result)``: assert a one-line refusal and return that line."""
    return _one_clear_line


@pytest.fixture(scope="session")
def trained_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_args: Callable[..., list[str]]
) -> Path:
    """One tiny update: a periodic checkpoint, the final and best policies. Shared:
    tests that change it work on a copy."""
    from glam_apps.cli import main

    run = tmp_path_factory.mktemp("runs") / "run"
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--no-progress", "--run-dir", str(run), *tiny_args("run.total_steps=8")])
    assert exit_.value.code in (0, None)
    return run
