"""One config over several seeds: ``glam train --seeds 0,1,2``.

Each seed is an ordinary run in ``<run_dir>/seed-<k>`` (the config's ``run.run_dir``,
else the default ``runs/<date>-<time>-<level>``, becomes the seeds' parent folder),
with ``run.seed = k`` and nothing else changed, so ``glam plot <run_dir>`` finds
them all and draws them as one curve with a band across seeds. The seeds run one
after the other in this process. Running the same command again continues where
it stopped: a seed whose run is finished is skipped, one that was stopped is
resumed, one not started yet is trained; a folder holding a run of another
config is refused before anything trains.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from glam_apps.config.loading import compose
from glam_apps.config.schema import TrainConfig
from glam_apps.errors import UserError
from glam_apps.evaluation.stats import SeedSpread, across_seeds
from glam_apps.runs.rundir import LOCK_FILE, RunDir
from glam_apps.training.distributed import torchrun_launch
from glam_apps.training.train import (
    StopFlag,
    TrainHooks,
    TrainResult,
    default_run_dir,
    resume,
    train,
)

logger = logging.getLogger(__name__)

#: Name of seed ``k``'s run folder inside the seeds' parent folder.
SEED_DIR = "seed-{seed}"
#: Confidence of the interval across seeds in :meth:`SeedsResult.spread`.
CONFIDENCE = 0.95
#: Config keys that may differ between a seed's existing run and the one asked for:
#: the folder itself, and the remote-code decision (given per invocation).
_NOT_COMPARED = ("run.run_dir", "policy.trust_remote_code")
#: The most seeds one command accepts (a typo such as ``0-1000`` is refused).
MAX_SEEDS = 1000

Action = Literal["train", "resume", "skip"]


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"``, ``"0-2"`` or a mix (``"0-2,7"``) -> the seeds, in order, no repeats."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None:
            raise UserError(
                f"--seeds {text!r}: {part!r} is not a seed; give seeds as 0,1,2 or a range 0-2"
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise UserError(f"--seeds {text!r}: the range {part!r} goes down; write {last}-{first}")
        if last - first + 1 + len(seeds) > MAX_SEEDS:
            raise UserError(f"--seeds {text!r}: more than {MAX_SEEDS} seeds")
        seeds += [s for s in range(first, last + 1) if s not in seeds]
    return seeds


def seed_config(config: TrainConfig, parent: Path, seed: int) -> TrainConfig:
    """``config`` for seed ``seed``: its own run folder under ``parent``, nothing else changed."""
    run = config.run.model_copy(
        update={"seed": seed, "run_dir": parent / SEED_DIR.format(seed=seed)}
    )
    return config.model_copy(update={"run": run})


@dataclass(frozen=True)
class SeedPlan:
    """What one seed needs: train from scratch, resume its stopped run, or nothing."""

    seed: int
    config: TrainConfig
    action: Action

    @property
    def run_dir(self) -> Path:
        assert self.config.run.run_dir is not None
        return Path(self.config.run.run_dir)


@dataclass
class SeedRun:
    """How one seed ended (``result`` is ``None`` for a skipped or unstarted seed)."""

    seed: int
    run_dir: Path
    action: Action | Literal["not started"]
    status: str
    env_steps: int | None = None
    final_success: float | None = None
    best_success: float | None = None
    result: TrainResult | None = None


@dataclass
class SeedsResult:
    """Every seed's outcome, and the spread of their final success rates."""

    parent: Path
    runs: list[SeedRun] = field(default_factory=list)

    @property
    def finished(self) -> list[SeedRun]:
        return [r for r in self.runs if r.status == "finished" and r.final_success is not None]

    def spread(self, confidence: float = CONFIDENCE) -> SeedSpread | None:
        """Mean final success of the finished seeds with a Student-t interval (2+ seeds)."""
        values = [r.final_success for r in self.finished if r.final_success is not None]
        if len(values) < 2:
            return None
        return across_seeds(values, confidence=confidence)


def with_parent(config: TrainConfig) -> TrainConfig:
    """``config`` with its seeds' parent folder fixed: ``run.run_dir``, else the default
    ``runs/<date>-<time>-<level>`` chosen once (planning twice must not pick two)."""
    if config.run.run_dir is not None:
        return config
    run = config.run.model_copy(update={"run_dir": default_run_dir(config)})
    return config.model_copy(update={"run": run})


def plan_seeds(config: TrainConfig, seeds: Sequence[int]) -> list[SeedPlan]:
    """Each seed's run folder and what to do there; refuses (before anything runs) a
    folder that holds a run of another config, or a parent that is itself a run."""
    if not seeds:
        raise UserError("--seeds: give at least one seed")
    if torchrun_launch() is not None:
        raise UserError(
            "--seeds runs the seeds one after the other in one process: launch it without "
            "torchrun (or one torchrun launch per seed with --set run.seed=K)"
        )
    parent = RunDir.at(with_parent(config).run.run_dir or "")
    if parent.is_run():
        raise UserError(
            f"{parent.root} holds a run; --seeds writes one run per seed into "
            f"{parent.root}/{SEED_DIR.format(seed='K')}: choose another run directory"
        )
    plans = []
    for seed in seeds:
        wanted = seed_config(config, parent.root, seed)
        run = RunDir.at(wanted.run.run_dir or "")
        if not run.is_run():
            if run.root.is_dir() and any(p.name != LOCK_FILE for p in run.root.iterdir()):
                raise UserError(
                    f"{run.root} exists, is not empty and holds no run: move it away or "
                    "choose another run directory"
                )
            plans.append(SeedPlan(seed, wanted, "train"))
            continue
        saved = compose(TrainConfig, path=run.config)
        changed = config_changes(saved, wanted)
        if changed:
            raise UserError(
                f"{run.root} holds a run of another config ({'; '.join(changed[:4])}"
                f"{'; ...' if len(changed) > 4 else ''}): choose another run directory, or "
                f"continue that run alone with glam train --resume {run.root}"
            )
        done = run.read_status().get("status") == "finished"
        plans.append(SeedPlan(seed, wanted, "skip" if done else "resume"))
    return plans


def config_changes(saved: TrainConfig, wanted: TrainConfig) -> list[str]:
    """``key: saved -> wanted`` for every config value that differs (see ``_NOT_COMPARED``)."""
    before, after = _flat(saved.to_yaml_dict()), _flat(wanted.to_yaml_dict())
    return [
        f"{key}: {before.get(key)!r} -> {after.get(key)!r}"
        for key in sorted(set(before) | set(after))
        if key not in _NOT_COMPARED and before.get(key) != after.get(key)
    ]


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, name))
        else:
            flat[name] = value
    return flat


def run_seed(
    plan: SeedPlan,
    *,
    hooks: TrainHooks | None = None,
    stop: StopFlag | None = None,
    handle_signals: bool = True,
    trust_remote_code: bool = False,
) -> SeedRun:
    """Carry out one seed's plan (train, resume or skip) and say how it ended."""
    if plan.action == "skip":
        status = RunDir.at(plan.run_dir).read_status()
        return SeedRun(
            seed=plan.seed,
            run_dir=RunDir.at(plan.run_dir).root,
            action="skip",
            status=str(status.get("status", "finished")),
            env_steps=status.get("global_step"),
            final_success=status.get("final_success_rate"),
            best_success=status.get("best_success_rate"),
        )
    if plan.action == "resume":
        result = resume(
            plan.run_dir,
            hooks=hooks,
            stop=stop,
            handle_signals=handle_signals,
            trust_remote_code=trust_remote_code,
        )
    else:
        result = train(
            plan.config,
            hooks=hooks,
            stop=stop,
            handle_signals=handle_signals,
            trust_remote_code=trust_remote_code,
        )
    final = None
    if result.final_report is not None:
        final = result.final_report.results[0].summary.success_rate
    return SeedRun(
        seed=plan.seed,
        run_dir=result.run_dir,
        action=plan.action,
        status=result.status,
        env_steps=result.env_steps,
        final_success=final,
        best_success=result.best_success,
        result=result,
    )


def train_seeds(
    config: TrainConfig,
    seeds: Iterable[int],
    *,
    display: Callable[[SeedPlan], AbstractContextManager[TrainHooks | None]] | None = None,
    on_seed: Callable[[SeedRun], None] | None = None,
    stop: StopFlag | None = None,
    handle_signals: bool = True,
    trust_remote_code: bool = False,
) -> SeedsResult:
    """Train ``config`` once per seed, one after the other (see the module's docstring).

    ``display(plan)`` is entered around each seed that trains or resumes and gives
    its hooks (a progress display, say); ``on_seed`` hears how each seed ended. A
    seed that is interrupted (Ctrl-C, ``stop``) ends the loop: the seeds after it
    are reported ``not started``, and the same call again resumes it and goes on.
    """
    plans = plan_seeds(with_parent(config), list(seeds))
    result = SeedsResult(parent=RunDir.at(plans[0].run_dir).root.parent)
    for position, plan in enumerate(plans):
        logger.info("seed %d: %s %s", plan.seed, plan.action, plan.run_dir)
        around = display(plan) if display is not None and plan.action != "skip" else nullcontext()
        with around as hooks:
            outcome = run_seed(
                plan,
                hooks=hooks,
                stop=stop,
                handle_signals=handle_signals,
                trust_remote_code=trust_remote_code,
            )
        result.runs.append(outcome)
        if on_seed is not None:
            on_seed(outcome)
        if outcome.status != "finished":
            result.runs += [
                SeedRun(p.seed, RunDir.at(p.run_dir).root, "not started", "not started")
                for p in plans[position + 1 :]
            ]
            break
    return result


__all__ = [
    "SeedPlan",
    "SeedRun",
    "SeedsResult",
    "config_changes",
    "parse_seeds",
    "plan_seeds",
    "run_seed",
    "seed_config",
    "train_seeds",
    "with_parent",
]
