"""Damaged files and a diverged run at the CLI: one line naming the file, never a traceback.

Each case damages one file of a copy of a tiny trained run (truncated, garbage, or
a pickle under a ``.safetensors`` name), runs ``glam`` in-process and checks the
exit code, that the one ``error:`` line names the file, that nothing was
unpickled, and that no file of the run changed.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI


def _one_line(result: Any, code: int = 2) -> str:
    assert result.code == code, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


def _damage(path: Path, how: str) -> None:
    content = path.read_bytes()
    if how == "truncated":
        path.write_bytes(content[: len(content) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x13\x37" * 512)
    elif how == "pickle":
        path.write_bytes(pickle.dumps({"weight": torch.zeros(3).tolist()}))
    else:
        raise AssertionError(how)


@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the run to damage; unpickling anything fails the test."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


PERIODIC = Path("checkpoints/periodic/iteration_000001")
LEVEL_ARGS = ("--suite", "level", "--level", "GoToRedBallNoDists", "--episodes", "1")


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("model.safetensors", "truncated"),
        ("optimizer.safetensors", "garbage"),
        ("rank0.safetensors", "pickle"),
        ("model.safetensors", "pickle"),
    ],
)
def test_resume_with_a_damaged_checkpoint_file(
    glam, run_copy: Path, name: str, how: str, tree_digest
) -> None:
    damaged = run_copy / PERIODIC / name
    _damage(damaged, how)
    before = tree_digest(run_copy)
    line = _one_line(glam("train", "--resume", str(run_copy), "--set", "run.total_steps=16"))
    assert str(damaged) in line
    assert tree_digest(run_copy) == before


def test_resume_with_a_truncated_state_json(glam, run_copy: Path, tree_digest) -> None:
    damaged = run_copy / PERIODIC / "state.json"
    _damage(damaged, "truncated")
    before = tree_digest(run_copy)
    line = _one_line(glam("train", "--resume", str(run_copy), "--set", "run.total_steps=16"))
    assert "checkpoint" in line
    assert tree_digest(run_copy) == before


def test_a_truncated_state_json_is_named_when_read(run_copy: Path) -> None:
    from glam_apps.errors import IncompatibleCheckpointError
    from glam_apps.models.policies import build_policy, load_training_weights, read_run_config
    from glam_apps.runs.rundir import RunDir

    damaged = run_copy / PERIODIC / "state.json"
    _damage(damaged, "truncated")
    policy = build_policy(read_run_config(RunDir.at(run_copy)))
    with pytest.raises(
        IncompatibleCheckpointError, match=f"{re.escape(str(damaged))} is not valid JSON"
    ):
        load_training_weights(policy, run_copy / PERIODIC)


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("heads.safetensors", "truncated"),
        ("heads.safetensors", "pickle"),
        ("lm/model.safetensors", "garbage"),
        ("lm/model.safetensors", "pickle"),
        ("policy_config.json", "truncated"),
    ],
)
def test_evaluate_a_damaged_saved_policy(
    glam, run_copy: Path, tmp_path: Path, name: str, how: str, tree_digest
) -> None:
    final = run_copy / "checkpoints" / "final"
    damaged = final / name
    _damage(damaged, how)
    before = tree_digest(run_copy)
    out = tmp_path / "reports"
    line = _one_line(glam("evaluate", str(final), *LEVEL_ARGS, "--out", str(out)))
    assert str(damaged) in line
    line = _one_line(glam("evaluate", str(run_copy), *LEVEL_ARGS, "--checkpoint", "final"))
    assert str(damaged) in line
    assert tree_digest(run_copy) == before and not out.exists()


def test_evaluate_a_damaged_periodic_checkpoint(glam, run_copy: Path, tree_digest) -> None:
    damaged = run_copy / PERIODIC / "model.safetensors"
    _damage(damaged, "garbage")
    before = tree_digest(run_copy)
    line = _one_line(glam("evaluate", str(run_copy), *LEVEL_ARGS, "--checkpoint", "latest"))
    assert str(damaged) in line
    assert tree_digest(run_copy) == before


def test_a_nan_loss_is_one_line_exit_3_and_a_failed_run(
    glam, run_copy: Path, monkeypatch: pytest.MonkeyPatch, tree_digest
) -> None:
    import glam_ppo.update as update

    real = update.ppo_loss_terms

    def poisoned(*args: Any, **kwargs: Any) -> Any:
        terms = real(*args, **kwargs)
        return dataclasses.replace(terms, policy=terms.policy * float("nan"))

    monkeypatch.setattr(update, "ppo_loss_terms", poisoned)
    kept = {name: tree_digest(run_copy / name) for name in ("checkpoints", "eval")}
    metrics = (run_copy / "metrics.jsonl").read_bytes()
    line = _one_line(
        glam("train", "--resume", str(run_copy), "--set", "run.total_steps=16"), code=3
    )
    assert "training diverged in update 2" in line and "non-finite PPO loss" in line
    assert str(run_copy) in line
    status = json.loads((run_copy / "status.json").read_text())
    assert status["status"] == "failed" and status["iteration"] == 1
    assert {name: tree_digest(run_copy / name) for name in kept} == kept
    assert (run_copy / "metrics.jsonl").read_bytes() == metrics


def test_a_checkpoint_error_from_any_depth_is_one_line(
    glam, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import glam_apps.training.train
    from glam_apps.cli import main
    from glam_ppo import CheckpointError

    damaged = tmp_path / "state.json"

    def fails(*args: Any, **kwargs: Any) -> None:
        raise CheckpointError(f"checkpoint file {damaged} is not valid JSON (truncated?)")

    monkeypatch.setattr(glam_apps.training.train, "resume", fails)
    line = _one_line(glam("train", "--resume", str(tmp_path)))
    assert str(damaged) in line
    with pytest.raises(CheckpointError):  # --debug shows the traceback
        main(["--debug", "train", "--resume", str(tmp_path)])
    monkeypatch.setattr(glam_apps.training.train, "resume", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # a bug is never dressed up as bad input
        main(["train", "--resume", str(tmp_path)])
