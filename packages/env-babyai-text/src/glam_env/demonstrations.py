"""Expert demonstrations of a BabyAI-Text level, written as a JSON Lines dataset.

Behavioural cloning (and DAgger, offline RL...) learn from what the BabyAI bot
does in the very observations the text agent will see. The dataset is therefore
recorded through the same environment stack the agent plays (``make_env`` with the
level's :class:`~glam_env.config.BabyAITextConfig`: language, variant, action set,
history length, episode length), and each step keeps the whole observation dict,
so a policy can be trained on it without rebuilding prompts from anything else.

Format (``FORMAT``, version ``FORMAT_VERSION``), one JSON object per line, UTF-8:

* line 1, the header (:class:`DemonstrationHeader`): format and version, the env
  config, level, the collection seed, the seed of every kept episode, the skipped
  episodes with the bot's reason, and the counts;
* then one line per step (:class:`DemonstrationStep`): kept episode index, its
  reset seed, step index, the observation dict the agent saw before acting, the
  admissible actions, the expert's action index and text, the reward of the step,
  ``terminated`` / ``truncated`` / ``done`` and ``success`` (true on the step that
  ends an episode with a success).

Episode ``i`` is played with reset seed ``seed + i``: the same config and seed give
the same file, byte for byte. Episodes the bot does not solve (it gives up or
runs out of steps) are left out and counted in the header. The file is written to
a temporary name next to ``path`` and renamed, so a reader never sees half a
dataset. Reading is plain JSON parsing and validation: a file is data, nothing in
it is executed, and a bad line is an error naming the file and the line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import NotRequired, TypedDict

from glam_env.config import BabyAITextConfig
from glam_env.errors import ExpertFailure, GlamEnvError
from glam_env.expert import ExpertAgent
from glam_env.factory import ConfigLike, as_config, make_env

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DemonstrationFormatError",
    "DemonstrationHeader",
    "DemonstrationObservation",
    "DemonstrationStep",
    "Demonstrations",
    "SkippedEpisode",
    "collect_demonstrations",
    "read_demonstrations",
]

logger = logging.getLogger(__name__)

FORMAT = "glam-demonstrations"
#: Bump when a field changes meaning or a required one is added; readers refuse others.
FORMAT_VERSION = 1


class DemonstrationFormatError(GlamEnvError, ValueError):
    """A demonstrations file that is not a valid dataset; names the file and the line."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, reason: str) -> None:
        where = f"{os.fspath(path)}, line {line}" if line is not None else os.fspath(path)
        super().__init__(f"{where}: {reason}")
        self.path = Path(path)
        self.line = line
        self.reason = reason


@with_config(ConfigDict(extra="forbid"))
class DemonstrationObservation(TypedDict):
    """The observation dict the agent saw (tuples of strings, as the env returns them)."""

    mission: str
    observation: str
    admissible_actions: tuple[str, ...]
    observation_history: NotRequired[tuple[str, ...]]
    action_history: NotRequired[tuple[str, ...]]


@with_config(ConfigDict(extra="forbid"))
class DemonstrationStep(TypedDict):
    """One expert decision: a plain dict, so that any consumer takes it as is.

    ``observation`` and ``action`` are the pair a behavioural-cloning learner needs;
    ``episode`` (index of the kept episode) lets it hold out whole episodes.
    """

    type: Literal["step"]
    episode: int
    seed: int
    step: int
    observation: DemonstrationObservation
    admissible_actions: tuple[str, ...]
    action: int
    action_text: str
    reward: float
    terminated: bool
    truncated: bool
    done: bool
    success: bool


class SkippedEpisode(BaseModel):
    """An episode the bot did not solve, and why (its reset seed identifies it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    reason: str


class DemonstrationHeader(BaseModel):
    """The first line of a dataset: how it was made and what it holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["header"] = "header"
    format: Literal["glam-demonstrations"] = FORMAT
    version: int = FORMAT_VERSION
    generator: str
    """``glam_env <version>`` that wrote the file (informative)."""
    level: str
    config: dict[str, Any]
    """The environment config (``BabyAITextConfig.to_dict()``); see :meth:`env_config`."""
    seed: int
    """Episode ``i`` was reset with ``seed + i``."""
    episodes_played: int = Field(ge=0)
    episodes: int = Field(ge=0)
    """Kept (solved) episodes."""
    skipped: int = Field(ge=0)
    steps: int = Field(ge=0)
    episode_seeds: list[int]
    """Reset seed of each kept episode, in order (``episode`` indexes this list)."""
    skipped_episodes: list[SkippedEpisode]

    def env_config(self) -> BabyAITextConfig:
        """The environment the demonstrations were played in."""
        return BabyAITextConfig.from_dict(self.config)


@dataclass(frozen=True)
class Demonstrations:
    """A dataset read back: its header and its steps, in file order."""

    path: Path
    header: DemonstrationHeader
    steps: list[DemonstrationStep]

    def __len__(self) -> int:
        return len(self.steps)

    def episodes(self) -> Iterator[list[DemonstrationStep]]:
        """The steps grouped by episode, in order."""
        current: list[DemonstrationStep] = []
        for step in self.steps:
            if current and step["episode"] != current[0]["episode"]:
                yield current
                current = []
            current.append(step)
        if current:
            yield current


_STEP = TypeAdapter(DemonstrationStep)


def _generator() -> str:
    try:
        return f"glam_env {metadata.version('glam-env-babyai-text')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "glam_env"


def _jsonable_observation(obs: Mapping[str, Any]) -> dict[str, Any]:
    """The observation with tuples as lists; anything but text is a bug of the env."""
    out: dict[str, Any] = {}
    for key, value in obs.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        else:
            raise TypeError(
                f"observation entry {key!r} is {type(value).__name__}, not text: "
                "only text observations can be recorded"
            )
    return out


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def _play(
    env: Any, expert: ExpertAgent, seed: int, episode: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One expert episode's step records, or the reason it is not a demonstration."""
    obs, _ = env.reset(seed=seed)
    records: list[dict[str, Any]] = []
    for step in itertools.count():
        try:
            action = expert.act()
        except ExpertFailure as failure:
            return records, str(failure)
        admissible = list(obs["admissible_actions"])
        next_obs, reward, terminated, truncated, info = env.step(action)
        done = bool(terminated or truncated)
        success = bool(info.get("success", False)) if done else False
        records.append(
            {
                "type": "step",
                "episode": episode,
                "seed": seed,
                "step": step,
                "observation": _jsonable_observation(obs),
                "admissible_actions": admissible,
                "action": int(action),
                "action_text": admissible[action],
                "reward": float(reward),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
                "done": done,
                "success": success,
            }
        )
        if done:
            if success:
                return records, None
            return records, "time limit reached" if truncated else "mission failed"
        obs = next_obs
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends


def _write_atomically(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # the mode a plain open() would give
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def collect_demonstrations(
    config: ConfigLike,
    num_episodes: int,
    seed: int,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> DemonstrationHeader:
    """Let the BabyAI bot play ``num_episodes`` episodes and write its solved ones to ``path``.

    ``config`` is the environment exactly as the agent will see it (a
    :class:`BabyAITextConfig`, a mapping, a YAML/JSON path or ``None``). Episode
    ``i`` is reset with seed ``seed + i``. Returns the header written on line 1
    (counts of kept and skipped episodes and steps). An existing ``path`` is
    replaced only with ``overwrite=True``.
    """
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes < 1:
        raise ValueError(f"num_episodes must be an integer >= 1, got {num_episodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    cfg = as_config(config)
    env = make_env(cfg)
    expert = ExpertAgent(env)
    lines: list[str] = []
    kept_seeds: list[int] = []
    skipped: list[SkippedEpisode] = []
    steps = 0
    try:
        for index in range(num_episodes):
            episode_seed = seed + index
            records, failure = _play(env, expert, episode_seed, len(kept_seeds))
            if failure is not None:
                logger.info("skipping episode seed %d: %s", episode_seed, failure)
                skipped.append(SkippedEpisode(seed=episode_seed, reason=failure))
                continue
            kept_seeds.append(episode_seed)
            lines.extend(_line(record) for record in records)
            steps += len(records)
    finally:
        env.close()
    header = DemonstrationHeader(
        generator=_generator(),
        level=cfg.level,
        config=cfg.to_dict(),
        seed=seed,
        episodes_played=num_episodes,
        episodes=len(kept_seeds),
        skipped=len(skipped),
        steps=steps,
        episode_seeds=kept_seeds,
        skipped_episodes=skipped,
    )
    if skipped:
        logger.warning(
            "the bot did not solve %d of %d episodes on %s; they are left out",
            len(skipped),
            num_episodes,
            cfg.level,
        )
    _write_atomically(target, [_line(header.model_dump(mode="json")), *lines])
    logger.info(
        "wrote %d demonstrations (%d steps) of %s to %s", len(kept_seeds), steps, cfg.level, target
    )
    return header


# ---------------------------------------------------------------------- reading


def _validation_reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        location = ".".join(str(part) for part in item["loc"]) or "record"
        parts.append(f"{location}: {item['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _read_header(path: Path, text: str) -> DemonstrationHeader:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DemonstrationFormatError(path, 1, f"not JSON ({error.msg})") from None
    if not isinstance(data, dict) or data.get("type") != "header":
        raise DemonstrationFormatError(
            path, 1, 'the first line must be the header ({"type": "header", ...})'
        )
    if data.get("format") != FORMAT:
        raise DemonstrationFormatError(
            path, 1, f"format {data.get('format')!r} is not a {FORMAT!r} dataset"
        )
    if data.get("version") != FORMAT_VERSION:
        raise DemonstrationFormatError(
            path,
            1,
            f"format version {data.get('version')!r} is not supported "
            f"(this glam_env reads version {FORMAT_VERSION})",
        )
    try:
        header = DemonstrationHeader.model_validate_json(text, strict=True)
    except ValidationError as error:
        raise DemonstrationFormatError(path, 1, _validation_reason(error)) from None
    if header.episodes != len(header.episode_seeds) or header.skipped != len(
        header.skipped_episodes
    ):
        raise DemonstrationFormatError(
            path, 1, "the header's counts disagree with its lists of episode seeds"
        )
    if header.episodes + header.skipped != header.episodes_played:
        raise DemonstrationFormatError(
            path, 1, "kept plus skipped episodes do not add up to the episodes played"
        )
    return header


def _check_step(
    step: DemonstrationStep, previous: DemonstrationStep | None, header: DemonstrationHeader
) -> str | None:
    """Why ``step`` cannot follow ``previous`` in this dataset, or ``None``."""
    admissible = step["admissible_actions"]
    if tuple(step["observation"]["admissible_actions"]) != tuple(admissible):
        return "admissible_actions differ from the observation's"
    if not 0 <= step["action"] < len(admissible):
        return (
            f"action {step['action']} is not an index of the {len(admissible)} admissible actions"
        )
    if admissible[step["action"]] != step["action_text"]:
        return (
            f"action_text {step['action_text']!r} is not admissible action "
            f"{step['action']} ({admissible[step['action']]!r})"
        )
    if step["done"] != (step["terminated"] or step["truncated"]):
        return "done must be terminated or truncated"
    if step["success"] and not step["done"]:
        return "success on a step that does not end the episode"
    episode = step["episode"]
    if not 0 <= episode < len(header.episode_seeds):
        return f"episode {episode} is not one of the header's {len(header.episode_seeds)}"
    if step["seed"] != header.episode_seeds[episode]:
        return f"seed {step['seed']} is not the header's seed of episode {episode}"
    if previous is None or previous["done"]:
        expected_episode = 0 if previous is None else previous["episode"] + 1
        if episode != expected_episode or step["step"] != 0:
            return f"expected step 0 of episode {expected_episode}"
    elif episode != previous["episode"] or step["step"] != previous["step"] + 1:
        return f"expected step {previous['step'] + 1} of episode {previous['episode']}"
    return None


def read_demonstrations(path: str | os.PathLike[str]) -> Demonstrations:
    """Read and validate a dataset written by :func:`collect_demonstrations`.

    Every line is parsed as JSON and checked (types, the action's index and text,
    step and episode order, the header's counts); the first problem raises
    :class:`DemonstrationFormatError` with the file and line.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"demonstrations file not found: {source}")
    steps: list[DemonstrationStep] = []
    header: DemonstrationHeader | None = None
    with source.open(encoding="utf-8") as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                text = raw.rstrip("\n")
                if not text.strip():
                    raise DemonstrationFormatError(source, number, "empty line")
                if header is None:
                    header = _read_header(source, text)
                    continue
                try:
                    step = _STEP.validate_json(text, strict=True)
                except ValidationError as error:
                    reason = _validation_reason(error)
                    raise DemonstrationFormatError(source, number, reason) from None
                problem = _check_step(step, steps[-1] if steps else None, header)
                if problem is not None:
                    raise DemonstrationFormatError(source, number, problem)
                steps.append(step)
        except UnicodeDecodeError as error:
            raise DemonstrationFormatError(source, None, f"not UTF-8 text ({error})") from None
    if header is None:
        raise DemonstrationFormatError(source, None, "empty file: no header")
    if len(steps) != header.steps:
        raise DemonstrationFormatError(
            source, None, f"the header announces {header.steps} steps, the file holds {len(steps)}"
        )
    if steps and not steps[-1]["done"]:
        raise DemonstrationFormatError(source, None, "the last episode does not end")
    episodes = steps[-1]["episode"] + 1 if steps else 0
    if episodes != header.episodes:
        raise DemonstrationFormatError(
            source,
            None,
            f"the header announces {header.episodes} episodes, the file holds {episodes}",
        )
    return Demonstrations(path=source, header=header, steps=steps)
