"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Long jobs write their outputs (configs, results, checkpoints) while a user may
interrupt them at any moment; writing to a temporary file in the same directory
and renaming it with ``os.replace`` makes every write all-or-nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(tmp_name, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented JSON atomically."""
    return atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def atomic_write_yaml(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as block-style YAML atomically (keys in insertion order)."""
    return atomic_write_text(
        path, yaml.safe_dump(payload, sort_keys=False, default_flow_style=False)
    )


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory under a temporary name, then rename it to ``path``.

    Yields the temporary directory to fill. Replacing an existing ``path`` takes two
    renames (old aside, new in), and a kill between them would leave no ``path``;
    so the filled directory is first renamed to ``.NAME.new-PID`` (a name that
    says "complete") and the old one to ``.NAME.old-PID``: whatever the moment of a
    kill, :func:`recover_directory` finds a complete copy and puts it back.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    new = target.with_name(f".{target.name}.new-{os.getpid()}")
    shutil.rmtree(new, ignore_errors=True)
    os.replace(tmp, new)
    _swap_in(new, target)


def _swap_in(new: Path, target: Path) -> None:
    """Replace ``target`` by the complete directory ``new`` (each step recoverable)."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def staging_leftovers(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary siblings :func:`atomic_directory` and ``save_pretrained`` leave at a
    kill: ``.NAME.*`` (``.tmp`` staging, ``.new-PID``, ``.old-PID``, ``.old.*``), and
    ``..NAME.*`` (``save_pretrained`` staging inside an :func:`atomic_directory`)."""
    target = Path(path)
    if not target.parent.is_dir():
        return []
    prefixes = (f".{target.name}.", f"..{target.name}.")  # the second: save_pretrained's
    return sorted(p for p in target.parent.iterdir() if p.name.startswith(prefixes))


def recover_directory(path: str | os.PathLike[str]) -> Path | None:
    """Finish or undo a replacement of ``path`` that a kill interrupted; remove leftovers.

    Only for a process that owns ``path`` (a run directory's lock holder): another
    process may be writing the temporary folders. A complete new copy
    (``.NAME.new-PID``) is put in place; failing that, when ``path`` is missing, the
    old copy (``.NAME.old-PID``, or ``save_pretrained``'s ``.NAME.old.*``) comes
    back. Partial staging folders are removed. Returns ``path`` if it exists then.
    """
    target = Path(path)
    leftovers = staging_leftovers(target)
    new = [p for p in leftovers if ".new-" in p.name and p.is_dir()]
    if new:
        _swap_in(new[-1], target)
    elif not target.exists():
        old = [p for p in leftovers if p.name.startswith(f".{target.name}.old") and p.is_dir()]
        if old:
            os.replace(old[-1], target)
    for leftover in staging_leftovers(target):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return target if target.exists() else None


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON line and flush it: a crash loses at most the line being written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
