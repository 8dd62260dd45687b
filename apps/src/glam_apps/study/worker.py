"""One cell of a study, in its own process: train (or clone), then evaluate.

``python -m glam_apps.study STUDY_DIR CELL`` is what ``glam study`` starts
for each cell (``CELL`` as in ``glam study --dry-run``: ``glam/GoToLocal/seed-0``).
It reads the study from ``STUDY_DIR/study.yaml``, so a cell is run exactly as
planned, and goes through the stages the cell still lacks:

1. a learning agent: ``glam train`` into its run directory, or ``glam train
   --resume`` when the run is there but not finished; ``bc``: ``glam clone`` into
   ``policy/``;
2. ``bc`` and the agents that do not learn: the final evaluation on the level, on
   the runs' evaluation episodes (``eval/final.json``, as a run's);
3. the generalization suite, on the same episode seeds (``eval/generalization-<suite>.json``).

It logs (to stdout, which ``glam study`` sends to the cell's log file) and exits
with 0 when the cell is done, 130 when training was interrupted (a signal: the
run saved a checkpoint and resumes on the next ``glam study``), 2 for a refused
input, 3 when training diverged, 1 for anything else.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from glam_apps.config.loading import load_yaml
from glam_apps.errors import TrainingDivergedError, UserError
from glam_apps.evaluation.evaluate import LoadedAgent, evaluate_agent, load_agent
from glam_apps.evaluation.report import EvaluationReport, write_report
from glam_apps.runs.atomic import recover_directory
from glam_apps.runs.rundir import RunDir
from glam_apps.study.config import StudyConfig, study_from_data
from glam_apps.study.plan import (
    FINAL_REPORT,
    STUDY_FILE,
    Cell,
    generalization_done,
    plan_study,
    report_is_complete,
)

logger = logging.getLogger("glam_apps.study.worker")

#: Exit code of a cell whose training was interrupted (resumed by the next call).
INTERRUPTED = 130


class CellInterrupted(Exception):
    """Training stopped on a signal after saving a checkpoint."""


def read_study(root: Path) -> StudyConfig:
    """The study a folder holds (its ``study.yaml``, written by ``glam study``)."""
    file = root / STUDY_FILE
    if not file.is_file():
        raise UserError(f"{root} is not a study folder (no {STUDY_FILE})")
    return study_from_data(load_yaml(file), name=root.name, folder=root)


# ---------------------------------------------------------------------- stages


def train_stage(cell: Cell) -> None:
    """Train the cell's run, or resume it; a finished run is left alone."""
    from glam_apps.training.train import Progress, TrainHooks, resume, train

    def progress(state: Progress) -> None:
        eval_text = "-" if state.eval_success is None else f"{state.eval_success:.3f}"
        logger.info(
            "step %d/%d: %.0f steps/s, success %.2f, return %.2f, eval %s",
            state.env_steps,
            state.total_steps,
            state.steps_per_second,
            state.success_rate,
            state.mean_return,
            eval_text,
        )

    hooks = TrainHooks(on_progress=progress)
    run = RunDir(cell.root)
    if run.is_run():
        if run.read_status().get("status") == "finished":
            logger.info("training finished earlier: %s", cell.root)
            return
        logger.info("resuming %s (glam train --resume %s)", cell.key, cell.root)
        result = resume(cell.root, hooks=hooks)
    else:
        logger.info("training %s into %s", cell.key, cell.root)
        result = train(cell.config, hooks=hooks)
    if result.status != "finished":
        raise CellInterrupted(f"training {result.status} at {result.env_steps} env steps")
    logger.info("trained: %d env steps in %.1f min", result.env_steps, result.seconds / 60)


def clone_stage(cell: Cell) -> None:
    """``glam clone`` into ``policy/`` (built aside and renamed: there or absent)."""
    from glam_apps.training.cloning import clone_policy

    recover_directory(cell.policy_dir)  # the leftovers of a killed clone
    if cell.policy_dir.is_dir():
        logger.info("cloned earlier: %s", cell.policy_dir)
        return
    logger.info("cloning the bot into %s", cell.policy_dir)
    clone_policy(cell.config, cell.policy_dir, event=logger.info)


def loaded_agent(cell: Cell) -> LoadedAgent:
    """The cell's final agent, playing the cell's environment settings."""
    config = cell.config
    run = config.run
    if cell.role == "trained":
        loaded = load_agent(
            str(cell.root), greedy=run.eval_greedy, seed=run.eval_seed, checkpoint="auto"
        )
    else:
        spec = str(cell.policy_dir) if cell.role == "cloned" else cell.kind
        loaded = load_agent(spec, greedy=run.eval_greedy, seed=run.eval_seed)
        loaded.env_config = config.env
        loaded.base_level = cell.level
    loaded.label = cell.key
    return loaded


def level_stage(cell: Cell) -> None:
    """The final evaluation of an agent that was not trained by ``glam train`` (a run
    writes its own): the level, with the runs' evaluation episodes and settings."""
    if report_is_complete(cell.final_report):
        return
    run = cell.config.run
    logger.info("evaluating %s on %s (%d episodes)", cell.key, cell.level, run.eval_episodes)
    report = evaluate_agent(
        loaded_agent(cell),
        suite="level",
        level=cell.level,
        episodes=run.eval_episodes,
        seed=run.eval_seed,
        greedy=run.eval_greedy,
        num_envs=run.eval_num_envs,
    )
    write_report(report, cell.eval_dir, FINAL_REPORT)
    logger.info("final success %.3f", report.results[0].summary.success_rate)


def generalization_stage(cell: Cell, study: StudyConfig) -> None:
    """The study's generalization suite on the same episode seeds, written after every test."""
    settings = study.generalization
    if settings is None or generalization_done(cell, study):
        return
    run = cell.config.run
    report_path = cell.generalization_report(settings.suite)
    logger.info(
        "generalization suite %s: %d episodes per test from seed %d",
        settings.suite,
        settings.episodes,
        run.eval_seed,
    )

    def save(partial: EvaluationReport) -> None:
        write_report(partial, cell.eval_dir, report_path.stem)

    report = evaluate_agent(
        loaded_agent(cell),
        suite=settings.suite,
        level=cell.level,
        episodes=settings.episodes,
        seed=run.eval_seed,
        greedy=run.eval_greedy,
        num_envs=settings.num_envs or run.eval_num_envs,
        keep_going=True,
        on_test=lambda test, i, n: logger.info("test %d/%d: %s", i + 1, n, test.name),
        on_test_failed=lambda test, error: logger.warning("test %r failed: %s", test.name, error),
        on_progress=save,
    )
    for failure in report.failures:  # recorded in the report; the table says "failed"
        logger.warning("generalization test %r failed: %s", failure.name, failure.error)


def run_cell(cell: Cell, study: StudyConfig) -> None:
    """Every stage the cell still lacks (see the module docstring)."""
    if cell.role == "trained":
        train_stage(cell)
    elif cell.role == "cloned":
        clone_stage(cell)
    if cell.role != "trained":
        level_stage(cell)
    generalization_stage(cell, study)
    logger.info("cell %s done", cell.key)


# ---------------------------------------------------------------------- process


def _quiet_libraries() -> None:
    """Log lines only: no download or loading progress bars in a cell's log."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency of glam_policy
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def main(argv: list[str] | None = None) -> int:
    """Run one cell; the exit code says how it ended (module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m glam_apps.study")
    parser.add_argument("study_dir", type=Path)
    parser.add_argument("cell")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("glam_apps").setLevel(logging.INFO)
    _quiet_libraries()
    try:
        root = args.study_dir.expanduser().resolve()
        study = read_study(root)
        cell = plan_study(study, root).cell(args.cell)
        run_cell(cell, study)
    except CellInterrupted as error:
        logger.warning("interrupted: %s; the next glam study resumes it", error)
        return INTERRUPTED
    except KeyboardInterrupt:
        logger.warning("interrupted: stopped at once")
        return INTERRUPTED
    except UserError as error:
        logger.error("error: %s", " ".join(str(error).split()))
        return 2
    except TrainingDivergedError as error:
        logger.error("error: %s", " ".join(str(error).split()))
        return TrainingDivergedError.EXIT_CODE
    except Exception as error:
        logger.exception("error: %s", " ".join(f"{type(error).__name__}: {error}".split()))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
