"""A damaged status.json informs nothing and stops nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from glam_apps.runs.rundir import RunDir


@pytest.mark.parametrize("content", ['{"status": "runn', "[1, 2]", "\udcff"])
def test_unreadable_status_reads_as_empty_with_a_warning(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    run = RunDir.at(tmp_path)
    run.status.write_bytes(content.encode("utf-8", "surrogateescape"))
    with caplog.at_level(logging.WARNING):
        assert run.read_status() == {}
    if content != "[1, 2]":
        assert "status.json is unreadable" in caplog.text


def test_readable_status_is_returned(tmp_path: Path) -> None:
    run = RunDir.at(tmp_path)
    run.status.write_text('{"status": "finished", "global_step": 8}', encoding="utf-8")
    assert run.read_status() == {"status": "finished", "global_step": 8}
