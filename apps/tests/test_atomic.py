from __future__ import annotations

from pathlib import Path

import pytest

from glam_apps.runs.atomic import atomic_directory, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic_write_json(target, {"x": 1})
    atomic_write_json(target, {"x": 2})
    assert target.read_text().strip().endswith("}")
    assert '"x": 2' in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_failed_directory_build_keeps_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    with atomic_directory(target) as tmp:
        atomic_write_text(tmp / "weights", "old")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        atomic_write_text(tmp / "weights", "half")
        raise RuntimeError("crash while writing")
    assert (target / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_directory_is_replaced_once_complete(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    with atomic_directory(target) as tmp:
        atomic_write_text(tmp / "a", "1")
    with atomic_directory(target) as tmp:
        atomic_write_text(tmp / "b", "2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_atomic_files_get_the_usual_permissions(tmp_path) -> None:
    import os

    from glam_apps.runs.atomic import atomic_write_text

    umask = os.umask(0o022)
    try:
        target = atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o644


def test_atomic_directories_get_the_usual_permissions(tmp_path) -> None:
    import os

    from glam_apps.runs.atomic import atomic_directory

    umask = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "model") as tmp:
            (tmp / "a.txt").write_text("x")
    finally:
        os.umask(umask)
    assert ((tmp_path / "model").stat().st_mode & 0o777) == 0o755
