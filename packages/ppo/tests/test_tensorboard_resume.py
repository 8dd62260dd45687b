"""On resume, TensorBoard drops the points of lost updates and keeps the checkpoint's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from glam_ppo import TensorBoardWriter

pytest.importorskip("tensorboard")


def _points(log_dir: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [(e.step, round(e.value, 3)) for e in events.Scalars("episode_return_mean")]


def _segment(log_dir: Path, start_step: int, points: list[tuple[int, float]]) -> None:
    trainer = SimpleNamespace(is_main_process=True, global_step=start_step)
    writer = TensorBoardWriter(log_dir)
    writer.on_training_start(trainer)  # type: ignore[arg-type]
    for step, value in points:
        metrics = {"global_step": float(step), "episode_return_mean": value}
        writer.on_update_end(trainer, metrics)  # type: ignore[arg-type]
    writer.on_training_end(trainer)  # type: ignore[arg-type]


def test_resume_keeps_the_checkpoint_step_and_drops_later_points(tmp_path: Path) -> None:
    # A run wrote updates at 8, 16, 24, then died; its last checkpoint was at 16.
    _segment(tmp_path, 0, [(8, 0.1), (16, 0.2), (24, 0.9)])
    # The resumed run starts at 16 and writes 24 anew.
    _segment(tmp_path, 16, [(24, 0.3)])
    assert _points(tmp_path) == [(8, 0.1), (16, 0.2), (24, 0.3)]
