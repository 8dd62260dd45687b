"""Runs stopped at awkward moments can always be resumed, and one run has one owner.

Most states a kill leaves are built by hand from a finished tiny run (more reliable
than killing at the right instant): no checkpoint yet, a complete checkpoint that
``latest`` does not name, a final evaluation that never ended, temporary leftovers.
One test kills a real ``glam train`` with SIGKILL before its first checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from glam_apps.runs.rundir import RunDir, read_jsonl
from glam_ppo import checkpoint as ppo_checkpoint

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI

STEPS_PER_UPDATE = 8  # the tiny run: 2 envs x 4 steps


def _steps(path: Path) -> list[int]:
    return [int(r["global_step"]) for r in read_jsonl(path)]


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _status(run: Path) -> dict[str, Any]:
    return RunDir.at(run).read_status()


def _set_status(run: Path, **values: Any) -> None:
    path = run / "status.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def _weights(run: Path, iteration: int) -> dict[str, Any]:
    return load_file(
        str(run / "checkpoints" / "periodic" / f"iteration_{iteration:06d}" / "model.safetensors")
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, tiny_args: Callable[..., list[str]]) -> Path:
    """A tiny run of two updates, checkpointed and evaluated after each, finished."""
    from glam_apps.cli import main

    run = tmp_path_factory.mktemp("dead-ends") / "finished"
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--no-progress", "--run-dir", str(run), *tiny_args("run.total_steps=16")])
    assert exit_.value.code in (0, None)
    assert _status(run)["status"] == "finished"
    return run


@pytest.fixture
def copy(finished: Path, tmp_path: Path) -> Path:
    """A copy of the finished run to damage (a run directory may be moved)."""
    target = tmp_path / "run"
    shutil.copytree(finished, target)
    return target


def _leftovers(run: Path) -> list[str]:
    return [p.name for p in run.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name]


# ---------------------------------------------------------------------- dead ends


def test_a_run_killed_before_its_first_checkpoint_starts_again(
    glam: Callable, copy: Path, finished: Path
) -> None:
    # Killed while writing the first checkpoint: a partial .tmp folder, no `latest`.
    shutil.rmtree(copy / "checkpoints")
    partial = copy / "checkpoints" / "periodic" / ".tmp-iteration_000001"
    partial.mkdir(parents=True)
    (partial / "model.safetensors").write_bytes(b"half")
    for name in ("final.json", "final.md"):
        (copy / "eval" / name).unlink()
    _set_status(copy, status="running", global_step=0, iteration=0)
    assert _steps(copy / "metrics.jsonl") == [8, 16]  # the dead attempt's records

    result = glam("train", "--resume", str(copy), "--no-progress")
    assert result.code == 0, result.stderr
    assert "starting it again from the beginning" in result.stderr
    # Same config from step 0: the same run, its records written once.
    assert _steps(copy / "metrics.jsonl") == [8, 16]
    assert _steps(copy / "eval" / "evaluations.jsonl") == [0, 8, 16]
    assert _status(copy)["status"] == "finished"
    best = json.loads((copy / "checkpoints" / "best" / "best.json").read_text())
    assert best == json.loads((finished / "checkpoints" / "best" / "best.json").read_text())
    restarted, straight = _weights(copy, 2), _weights(finished, 2)
    assert restarted.keys() == straight.keys()
    assert all((restarted[k] == straight[k]).all() for k in straight)
    assert _leftovers(copy) == []


def test_a_complete_checkpoint_is_found_without_its_latest_pointer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    periodic = tmp_path / "periodic"

    def checkpoint(name: str, complete: bool = True) -> Path:
        folder = periodic / name
        folder.mkdir(parents=True)
        names = ["state.json", "model.safetensors", "optimizer.safetensors", "rank0.safetensors"]
        for file in names if complete else names[:2]:
            (folder / file).write_text("{}")
        return folder

    assert ppo_checkpoint.latest_checkpoint(periodic) is None
    first = checkpoint("iteration_000001")
    assert ppo_checkpoint.latest_checkpoint(periodic) == first  # no `latest` written yet
    (periodic / "latest").write_text("iteration_000001\n")
    second = checkpoint("iteration_000002")  # killed before `latest` moved on
    checkpoint(".tmp-iteration_000003")  # killed while writing: never a candidate
    checkpoint("iteration_000004", complete=False)  # damaged by hand
    with caplog.at_level(logging.WARNING, logger="glam_ppo.checkpoint"):
        assert ppo_checkpoint.latest_checkpoint(periodic) == second
    assert "iteration_000004 is incomplete or damaged: not used" in caplog.text
    assert ".tmp-iteration_000003" not in caplog.text
    assert ppo_checkpoint.resolve(periodic) == second
    (periodic / "latest").unlink()
    assert ppo_checkpoint.latest_checkpoint(periodic) == second
    # The named checkpoint damaged: it is still the one (loading says what is wrong),
    # never an older one without a word.
    (periodic / "latest").write_text("iteration_000002\n")
    (second / "model.safetensors").unlink()
    assert ppo_checkpoint.latest_checkpoint(periodic) == second


def test_a_run_killed_during_its_final_evaluation_is_finalized(
    glam: Callable, copy: Path, finished: Path
) -> None:
    # SIGKILL during the final evaluation: status still running, no final policy or
    # report; and (worse) killed right after the last checkpoint, before `latest`.
    shutil.rmtree(copy / "checkpoints" / "final")
    for name in ("final.json", "final.md"):
        (copy / "eval" / name).unlink()
    (copy / "checkpoints" / "periodic" / "latest").write_text("iteration_000001\n")
    _set_status(copy, status="running")
    (copy / "checkpoints" / "periodic" / ".latest.tmp").write_text("iteration_000002\n")

    result = glam("train", "--resume", str(copy), "--no-progress")
    assert result.code == 0, result.stderr
    assert "finalizing" in result.stderr
    status = _status(copy)
    assert status["status"] == "finished" and "note" not in status
    assert (copy / "checkpoints" / "final" / "glam_config.yaml").is_file()
    final = json.loads((copy / "eval" / "final.json").read_text())
    original = json.loads((finished / "eval" / "final.json").read_text())
    assert [r["name"] for r in final["results"]] == [r["name"] for r in original["results"]]
    assert final["results"][0]["success_rate"] == original["results"][0]["success_rate"]
    assert final["results"][0]["mean_return"] == original["results"][0]["mean_return"]
    # Evaluated again at the last step, recorded once; training was not repeated.
    assert _steps(copy / "eval" / "evaluations.jsonl") == [0, 8, 16]
    assert _steps(copy / "metrics.jsonl") == [8, 16]
    assert _leftovers(copy) == []

    # Finished now: resuming again is refused as before.
    again = glam("train", "--resume", str(copy), "--no-progress")
    assert again.code == 2 and "already reached 16 env steps" in again.stderr


def test_a_signal_during_the_final_evaluation_leaves_a_run_resume_finalizes(
    glam: Callable, tmp_path: Path, tiny_args: Callable[..., list[str]]
) -> None:
    from glam_apps.config.packaged import load_train_config
    from glam_apps.training.train import TrainHooks, train

    run = tmp_path / "run"
    settings = [a for a in tiny_args("run.total_steps=8", f"run.run_dir={run}") if a != "--set"]
    events: list[str] = []

    def on_event(message: str) -> None:
        events.append(message)
        if message.startswith("final evaluation"):
            os.kill(os.getpid(), signal.SIGTERM)  # used to end the process with no message

    result = train(load_train_config(None, settings), hooks=TrainHooks(on_event=on_event))
    assert result.status == "interrupted" and result.final_report is None
    status = _status(run)
    assert status["status"] == "interrupted"
    assert f"glam train --resume {run} finalizes it" in status["note"]
    assert any("finalizes it" in e for e in events)
    assert not (run / "eval" / "final.json").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored

    result = glam("train", "--resume", str(run), "--no-progress")
    assert result.code == 0, result.stderr
    assert _status(run)["status"] == "finished"
    assert (run / "eval" / "final.json").is_file()


def test_a_second_signal_says_what_stands(
    tmp_path: Path, tiny_args: Callable[..., list[str]]
) -> None:
    from glam_apps.config.packaged import load_train_config
    from glam_apps.training.train import TrainHooks, train

    run = tmp_path / "run"
    settings = [a for a in tiny_args("run.total_steps=80", f"run.run_dir={run}") if a != "--set"]
    events: list[str] = []

    def on_progress(progress: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # stop after this update...
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)  # ...no: at once

    hooks = TrainHooks(on_event=events.append, on_progress=on_progress)
    with pytest.raises(KeyboardInterrupt):
        train(load_train_config(None, settings), hooks=hooks)
    assert _status(run)["status"] == "interrupted"
    assert any(e.startswith("stopped at once") and "--resume" in e for e in events), events


# ---------------------------------------------------------------------- a real kill


def test_sigkill_before_the_first_checkpoint_then_resume(
    glam: Callable, tmp_path: Path, tiny_args: Callable[..., list[str]]
) -> None:
    run = tmp_path / "killed"
    args = tiny_args("run.checkpoint_every=100000", "run.eval_every=100000")
    command = [sys.executable, "-m", "glam_apps", "train", "--no-progress", *args]
    command += ["--steps", "100000", "--run-dir", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while len(read_jsonl(run / "metrics.jsonl")) < 2:  # updates, no checkpoint yet
            assert process.poll() is None, "glam train ended early"
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert ppo_checkpoint.latest_checkpoint(run / "checkpoints" / "periodic") is None
    assert _status(run)["status"] == "running"

    result = glam("train", "--resume", str(run), "--no-progress", "--set", "run.total_steps=16")
    assert result.code == 0, result.stderr
    assert _steps(run / "metrics.jsonl") == [8, 16]
    assert _status(run)["status"] == "finished"


# ---------------------------------------------------------------------- one owner

HOLDER = """
import sys, time
from glam_apps.runs.rundir import RunDir, RunLock
lock = RunLock(RunDir.at(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def hold() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []

    def start(run: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True
        )
        processes.append(process)
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _one_line(result: Any) -> str:
    assert result.code == 2, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_second_process_on_a_run_is_refused_and_touches_nothing(
    glam: Callable, copy: Path, hold: Callable[[Path], subprocess.Popen[str]], tmp_path: Path
) -> None:
    holder = hold(copy)
    before = _digest(copy)
    line = _one_line(glam("train", "--resume", str(copy), "--set", "run.total_steps=24"))
    assert f"pid {holder.pid}" in line and socket.gethostname() in line
    assert _digest(copy) == before

    fresh = tmp_path / "fresh"
    other = hold(fresh)
    line = _one_line(glam("train", "--run-dir", str(fresh), "--no-progress"))
    assert f"pid {other.pid}" in line
    assert [p.name for p in fresh.iterdir()] == [".lock"]

    # The holder dies (SIGKILL): its lock goes with it.
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    result = glam("train", "--resume", str(copy), "--no-progress", "--set", "run.total_steps=24")
    assert result.code == 0, result.stderr
    assert _steps(copy / "metrics.jsonl") == [8, 16, 24]


def test_a_second_ctrl_c_prints_one_line(
    tmp_path: Path, tiny_args: Callable[..., list[str]]
) -> None:
    """Typer ends a KeyboardInterrupt silently (exit 130): the train command says it."""
    run = tmp_path / "run"
    # Long evaluations after every update: both signals come while one runs.
    args = tiny_args("run.eval_episodes=400")
    command = [sys.executable, "-m", "glam_apps", "train", "--no-progress", *args]
    command += ["--steps", "100000", "--run-dir", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not read_jsonl(run / "metrics.jsonl"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "interrupted: stopped at once" in stderr.splitlines()[-1]
    assert "the last checkpoint stands" in stderr
    assert _status(run)["status"] == "interrupted"
