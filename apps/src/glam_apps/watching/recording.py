"""Write watched episodes: a JSONL transcript and a GIF per episode, and a summary.

``glam watch --record DIR`` fills ``DIR`` with

* ``episode-001.jsonl``: one line per step (:meth:`StepRecord.to_json`: the prompt,
  the actions and their probabilities, the chosen action, the value, the reward,
  ``done`` on the last line only);
* ``episode-001.gif``: the level beside the text of each state (``steps + 1``
  frames, see :mod:`glam_apps.watching.frames`);
* ``episodes.gif``: the episodes in a row (the first :data:`MAX_COMBINED_EPISODES`),
  when there are several;
* ``summary.json``: the agent, the game, and each episode's seed, length, return
  and success, rewritten after every episode.

Each file is written whole and atomically when its episode ends, so a watch
stopped midway leaves complete episodes only. :func:`record_transcripts` is the
same for a list of seeds, for an evaluation that keeps a few transcripts per test.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from glam_apps.errors import UserError
from glam_apps.games.envs import EnvSpec, env_label
from glam_apps.runs.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from glam_apps.watching.decisions import decider_for
from glam_apps.watching.frames import episode_frames, same_size
from glam_apps.watching.stepping import StepRecord, watch_episodes

__all__ = [
    "EpisodeRecorder",
    "EpisodeSummary",
    "check_record_directory",
    "gif_bytes",
    "record_transcripts",
]

logger = logging.getLogger(__name__)

#: How long each state shows in a GIF, and the last state of an episode.
FRAME_MS = 700
LAST_FRAME_MS = 2000
SUMMARY = "summary.json"
#: Episodes ``episodes.gif`` holds at most (its frames are kept in memory until the end).
MAX_COMBINED_EPISODES = 10
ALL_EPISODES_GIF = "episodes.gif"


@dataclass(frozen=True)
class EpisodeSummary:
    """One recorded (or watched) episode, as ``summary.json`` lists it."""

    episode: int
    seed: int
    steps: int
    episode_return: float
    success: bool
    files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "episode": self.episode + 1,
            "seed": self.seed,
            "steps": self.steps,
            "return": self.episode_return,
            "success": self.success,
            "files": list(self.files),
        }

    @classmethod
    def of(cls, records: Sequence[StepRecord], files: Sequence[str] = ()) -> EpisodeSummary:
        last = records[-1]
        return cls(
            episode=last.episode,
            seed=last.seed,
            steps=len(records),
            episode_return=last.episode_return,
            success=bool(last.success),
            files=tuple(files),
        )


def check_record_directory(directory: str | os.PathLike[str]) -> Path:
    """``directory`` if it is new or empty; else the one-line error of ``--record``."""
    path = Path(directory).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"cannot record into {path}: it is a file; give a new or empty directory")
    if path.is_dir() and any(path.iterdir()):
        raise UserError(
            f"cannot record into {path}: the directory is not empty; give a new or empty directory"
        )
    return path


def gif_bytes(images: Sequence[Image.Image], durations: Sequence[int]) -> bytes:
    """An animated GIF of ``images`` (each shown ``durations[i]`` ms), looping forever."""
    if not images:
        raise ValueError("a GIF needs at least one image")
    buffer = io.BytesIO()
    first, *rest = same_size(images)
    first.save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=rest,
        duration=list(durations),
        loop=0,
        optimize=True,
    )
    return buffer.getvalue()


def _durations(count: int) -> list[int]:
    return [FRAME_MS] * (count - 1) + [LAST_FRAME_MS]


class EpisodeRecorder:
    """Collects the :class:`StepRecord` s of a watch and writes each episode as it ends.

    ``directory`` must be new or empty (nothing is ever overwritten), unless
    ``replace``: then the files a recorder writes (``episode-*``, ``episodes.gif``,
    ``summary.json``) are removed from it first and anything else is left alone.
    ``gif=False`` writes the transcripts only. ``metadata`` goes into ``summary.json``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        gif: bool = True,
        top: int = 5,
        replace: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser()
        if replace:
            _remove_recordings(self.directory)
        else:
            check_record_directory(self.directory)
        self.gif = gif
        self.top = top
        self.metadata = dict(metadata or {})
        self.episodes: list[EpisodeSummary] = []
        self.written: list[Path] = []
        self._steps: list[StepRecord] = []
        self._all_frames: list[Image.Image] = []
        self._all_durations: list[int] = []

    def add(self, record: StepRecord) -> list[Path]:
        """Keep ``record``; at the end of its episode write the episode's files (returned)."""
        if self._steps and self._steps[-1].episode != record.episode:
            raise ValueError(
                f"episode {self._steps[-1].episode} did not end before episode {record.episode}"
            )
        self._steps.append(record)
        if not record.done:
            return []
        records, self._steps = self._steps, []
        return self._write_episode(records)

    def finish(self) -> list[Path]:
        """Write ``episodes.gif`` when several episodes were recorded; every path written."""
        if self._steps:
            logger.info("episode %d did not end: not recorded", self._steps[-1].episode + 1)
            self._steps = []
        if self.gif and len(self.episodes) > 1:
            path = self.directory / ALL_EPISODES_GIF
            atomic_write_bytes(path, gif_bytes(self._all_frames, self._all_durations))
            self._note(path)
        return list(self.written)

    def _write_episode(self, records: Sequence[StepRecord]) -> list[Path]:
        stem = f"episode-{records[0].episode + 1:03d}"
        lines = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
        paths = [atomic_write_text(self.directory / f"{stem}.jsonl", lines)]
        if self.gif:
            frames = episode_frames(records, top=self.top)
            durations = _durations(len(frames))
            paths.append(
                atomic_write_bytes(self.directory / f"{stem}.gif", gif_bytes(frames, durations))
            )
            if len(self.episodes) < MAX_COMBINED_EPISODES:
                self._all_frames += frames
                self._all_durations += durations
        self.episodes.append(EpisodeSummary.of(records, [p.name for p in paths]))
        summary = {**self.metadata, "episodes": [e.to_json() for e in self.episodes]}
        paths.append(atomic_write_json(self.directory / SUMMARY, summary))
        for path in paths:
            self._note(path)
        return paths

    def _note(self, path: Path) -> None:
        if path not in self.written:
            self.written.append(path)


def _remove_recordings(directory: Path) -> None:
    """Remove what a recorder writes from ``directory`` (and nothing else)."""
    if directory.exists() and not directory.is_dir():
        raise UserError(f"cannot record into {directory}: it is a file; give a directory")
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        name = path.name
        ours = name in (SUMMARY, ALL_EPISODES_GIF) or (
            name.startswith("episode-") and name.endswith((".jsonl", ".gif"))
        )
        if ours and path.is_file():
            path.unlink()


def record_transcripts(
    agent: Any,
    spec: EnvSpec,
    seeds: Sequence[int],
    directory: str | os.PathLike[str],
    *,
    template: str | None = None,
    gif: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Play ``seeds`` with ``agent`` (an evaluation agent) and write their transcripts.

    For an evaluation that keeps ``N`` transcripts per test: call it after the
    test with the test's environment, its first ``N`` seeds and its ``template``.
    The agent is reseeded with ``seeds[0]`` as the test was, and plays one episode
    at a time: scripted and greedy agents replay the test's episodes exactly; a
    sampling policy draws its own samples (the test played several episodes side
    by side from one generator), so its transcripts are episodes of the same seeds,
    not necessarily the same ones. ``directory`` is replaced (``EpisodeRecorder``
    with ``replace=True``), so a repeated evaluation leaves its latest transcripts.
    """
    recorder = EpisodeRecorder(
        directory,
        gif=gif,
        replace=True,
        metadata={
            "agent": getattr(agent, "name", None),
            "game": env_label(spec),
            **(metadata or {}),
        },
    )
    decider = decider_for(agent)
    for record in watch_episodes(spec, decider, list(seeds), frames=gif, template=template):
        recorder.add(record)
    return recorder.finish()
