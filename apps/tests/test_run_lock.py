"""The run directory's lock, the leftovers a kill leaves, and folder swaps a kill cut.

The lock is held by another real process (``flock`` locks are per open file, so a
second process is what a second ``glam train`` is); killing it with SIGKILL shows
that a dead holder never blocks.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from glam_apps.runs.atomic import atomic_directory, recover_directory
from glam_apps.runs.rundir import RunDir, RunLock, RunLockedError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

HOLDER = """
import sys, time
from glam_apps.runs.rundir import RunDir, RunLock
lock = RunLock(RunDir.at(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of ``tmp_path / "run"``."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def test_a_second_process_is_refused_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    run = RunDir.at(tmp_path / "run")
    with pytest.raises(RunLockedError) as refused:
        RunLock(run).acquire()
    message = str(refused.value)
    assert f"pid {holder.pid}" in message and socket.gethostname() in message
    assert str(run.root) in message
    # The refused attempt did not rewrite the holder's line.
    assert run.lock.read_text().split()[0] == str(holder.pid)


def test_a_dead_holder_does_not_block(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    run = RunDir.at(tmp_path / "run")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    with RunLock(run) as lock:
        assert lock.held
        assert run.lock.read_text().split()[0] == str(os.getpid())
    assert not lock.held


def test_the_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    run = RunDir.at(tmp_path / "run")
    with RunLock(run), pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        RunLock(run).acquire()
    with RunLock(run):  # released: free again
        pass


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_leftovers_are_removed_and_nothing_else(tmp_path: Path) -> None:
    run = RunDir.at(tmp_path / "run")
    _touch(run.config)
    kept = [
        _touch(run.periodic / "iteration_000001" / "state.json", "{}"),
        _touch(run.periodic / "latest", "iteration_000001\n"),
        _touch(run.best / "best.json", "{}"),
        _touch(run.root / "notes.tmp"),  # not one of ours: no leading dot
        _touch(run.eval / "evaluations.jsonl"),
        _touch(tmp_path / ".outside.json.abc.tmp"),  # outside the run directory
    ]
    leftovers = [
        _touch(run.periodic / ".tmp-iteration_000002" / "model.safetensors"),
        _touch(run.periodic / ".latest.tmp"),
        _touch(run.checkpoints / ".best.k2j3.tmp" / "heads.safetensors"),
        _touch(run.checkpoints / ".best.old-999" / "best.json"),
        _touch(run.checkpoints / "..final.a1.tmp.b2" / "config.json"),
        _touch(run.root / ".status.json.q8w.tmp"),
        _touch(run.eval / ".evaluations.jsonl.z9.tmp"),
    ]
    removed = run.remove_leftovers()
    assert all(path.exists() for path in kept)
    assert not any(path.exists() for path in leftovers)
    assert {p.name for p in removed} == {
        ".tmp-iteration_000002",
        ".latest.tmp",
        ".best.k2j3.tmp",
        ".best.old-999",
        "..final.a1.tmp.b2",
        ".status.json.q8w.tmp",
        ".evaluations.jsonl.z9.tmp",
    }
    assert not (run.periodic / ".tmp-iteration_000002").exists()


def test_a_swap_cut_between_its_two_renames_gets_the_old_copy_back(tmp_path: Path) -> None:
    """save_pretrained's replacement: the old copy moved aside, the new not yet in place."""
    target = tmp_path / "best"
    _touch(tmp_path / ".best.old.x7" / "best.json", "old")
    _touch(tmp_path / ".best.k2" / "best.json", "partial or not: cannot tell")
    assert recover_directory(target) == target
    assert (target / "best.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]


def test_a_complete_new_copy_is_put_in_place(tmp_path: Path) -> None:
    """atomic_directory marks a filled folder ``.NAME.new-PID`` before swapping it in."""
    target = tmp_path / "best"
    _touch(target / "best.json", "old")
    _touch(tmp_path / ".best.new-123" / "best.json", "new")
    recover_directory(target)
    assert (target / "best.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]
    # Cut after the old copy was moved aside: the new one still wins.
    _touch(tmp_path / ".best.new-124" / "best.json", "newer")
    os.replace(target, tmp_path / ".best.old-124")
    recover_directory(target)
    assert (target / "best.json").read_text() == "newer"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]


def test_atomic_directory_leaves_no_marker_when_it_completes(tmp_path: Path) -> None:
    target = tmp_path / "final"
    for text in ("one", "two"):
        with atomic_directory(target) as staging:
            _touch(staging / "a", text)
    assert (target / "a").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["final"]
    assert recover_directory(target) == target  # nothing to do
