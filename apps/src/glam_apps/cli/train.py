"""``glam clone`` and ``glam train``: behavioural cloning alone, and training runs."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from glam_apps.cli.app import _TRUST_HELP, _fmt, _quiet_transformers, app, console, out
from glam_apps.errors import UserError, launch_rank

# ---------------------------------------------------------------------- clone


@app.command()
def clone(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the cloned policy (new).")],
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="A packaged config or a YAML file (its env, policy, bc)."
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a config key (repeatable)."),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option("--episodes", help="Bot episodes to clone (bc.episodes).", min=1),
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help=_TRUST_HELP)
    ] = False,
) -> None:
    """Behavioural cloning from the BabyAI bot alone: a saved policy, no PPO.

    The result evaluates with `glam evaluate OUT`; `glam train --model OUT/lm`
    continues it with PPO (or clone inside a run: `glam train --set bc.episodes=N`).
    """
    from glam_apps.config.packaged import load_train_config
    from glam_apps.training.cloning import clone_policy

    settings = list(overrides or [])
    if episodes is not None:
        settings.append(f"bc.episodes={episodes}")
    _quiet_transformers()
    clone_policy(
        load_train_config(config, settings),
        out,
        event=lambda message: console.print(message, soft_wrap=True),
        trust_remote_code=trust_remote_code,
    )


# ---------------------------------------------------------------------- train

#: Width a plain progress line never exceeds (a CI log, a file, an 80-column terminal).
LINE_WIDTH = 80


@app.command()
def train(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="A packaged config (quickstart, paper, tictactoe, coin_collector, "
            "symbolic_ppo, drrn) or a YAML file. Default: quickstart.",
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", help="Override a config key: --set ppo.gamma=0.9 (repeatable)."
        ),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", "-o", help="Run directory (run.run_dir).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Hub model name or local model directory (policy.model)."
        ),
    ] = None,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Total env steps (run.total_steps).", min=1)
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Train the config once per seed (0,1,2 or 0-2), each in RUN_DIR/seed-K; "
            "rerunning skips finished seeds and resumes stopped ones.",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue this run directory from its newest checkpoint."),
    ] = None,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="Print the resolved config and exit.")
    ] = False,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Show the progress bar (one plain line per update when not a terminal).",
        ),
    ] = True,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help=_TRUST_HELP)
    ] = False,
) -> None:
    """Train an agent (LLM + PPO; or agent: symbolic-ppo, drrn). No arguments: the quickstart."""
    import yaml

    from glam_apps.config.packaged import load_train_config
    from glam_apps.training.train import resume as resume_run
    from glam_apps.training.train import train as train_run

    settings = list(overrides or [])
    if run_dir is not None:
        settings.append(f"run.run_dir={run_dir}")
    if model is not None:
        settings.append(f"policy.model={model}")
    if steps is not None:
        settings.append(f"run.total_steps={steps}")
    if seeds is not None:
        if resume is not None:
            raise UserError(
                "--seeds resumes its stopped seeds itself: drop --resume and run the same "
                "--seeds command again"
            )
        if any(item.replace(" ", "").startswith("run.seed=") for item in settings):
            raise UserError("--seeds sets run.seed for each run: drop --set run.seed")
    if resume is not None and (config is not None or run_dir is not None):
        raise UserError("--resume continues a run with its own config: drop --config/--run-dir")
    if show_config:
        if resume is not None:
            from glam_apps.config.loading import compose
            from glam_apps.config.schema import TrainConfig
            from glam_apps.runs.rundir import RunDir

            resolved = compose(
                TrainConfig, path=RunDir.at(resume).require_run().config, overrides=settings
            )
        else:
            resolved = load_train_config(config, settings)
        out.print(yaml.safe_dump(resolved.to_yaml_dict(), sort_keys=False), end="")
        return
    _quiet_transformers()
    main_rank = launch_rank() == 0  # under torchrun, rank 0 alone reports
    if seeds is not None:
        _train_seeds(load_train_config(config, settings), seeds, progress, trust_remote_code)
        return
    hooks, display = _train_display(progress and main_rank)
    with _say_interrupted(main_rank), display:
        if resume is not None:
            result = resume_run(
                resume, overrides=settings, hooks=hooks, trust_remote_code=trust_remote_code
            )
        else:
            result = train_run(
                load_train_config(config, settings),
                hooks=hooks,
                trust_remote_code=trust_remote_code,
            )
    if main_rank:
        _train_summary(result)


@contextlib.contextmanager
def _say_interrupted(main_rank: bool) -> Iterator[None]:
    """One line when a second signal stops training at once, then exit code 130.

    Typer turns a ``KeyboardInterrupt`` into a silent exit 130 before ``main()`` sees
    it, so without this the run would end with no word after the second Ctrl-C.
    """
    try:
        yield
    except KeyboardInterrupt:
        if main_rank:
            console.print("interrupted: stopped at once", style="bold red", highlight=False)
        raise typer.Exit(130) from None


# ---------------------------------------------------------------------- progress


def _count(value: int) -> str:
    """A step count that stays short: exact below 100,000, else 3 significant digits."""
    if value < 100_000:
        return str(value)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            scaled = value / size
            digits = 0 if scaled >= 100 else 1 if scaled >= 10 else 2
            return f"{scaled:.{digits}f}{unit}"
    return str(value)  # pragma: no cover - unreachable


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "-"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(state: Any, label: str | None = None, width: int = LINE_WIDTH) -> str:
    """One plain line of training progress that fits in ``width`` columns.

    ``4096/100k steps 4% 312/s success 0.45 return 0.38 eval 0.52 eta 5m12s``:
    env steps done and total, steps per second, success rate and mean return of
    the last 100 training episodes, last evaluation success, time left at the
    current speed. Parts at the end are left out when the line would not fit
    (huge counts or returns), so it is never wrapped or cut.
    """
    done, total = int(state.env_steps), int(state.total_steps)
    percent = 100.0 * done / total if total else 0.0
    speed = float(state.steps_per_second)
    left = (total - done) / speed if math.isfinite(speed) and speed > 0 else math.nan
    head = f"{label}: " if label else ""
    parts = [
        f"{head}{_count(done)}/{_count(total)} steps {percent:.0f}%",
        f"{_fmt(speed, '.0f')}/s",
        f"success {_fmt(state.success_rate)}",
        f"return {_fmt(state.mean_return)}",
        f"eval {_fmt(state.eval_success)}",
        f"eta {_duration(left)}",
    ]
    while len(parts) > 1 and len(" ".join(parts)) > width:
        parts.pop()
    return " ".join(parts)[:width]


def evaluation_line(record: dict[str, Any]) -> str:
    """One plain line per evaluation (under 80 columns)."""
    return (
        f"eval at {_count(int(record['global_step']))} steps: success "
        f"{record['success_rate']:.3f} [{record['success_ci_low']:.2f}, "
        f"{record['success_ci_high']:.2f}] return {record['mean_return']:.3f}"
    )


def _plain(message: str, style: str | None = None) -> None:
    """A line on stderr as it is: no markup, never wrapped nor cut by rich."""
    console.print(Text(message, style=style or ""), soft_wrap=True, highlight=False)


def _train_display(show_bar: bool, label: str | None = None) -> tuple[Any, Any]:
    """Hooks that drive a rich progress bar on a terminal, plain lines elsewhere.

    The bar needs a terminal to redraw in place; in a file or CI log (stderr not
    a terminal), and with ``--no-progress``, each update prints one plain line
    that fits in 80 columns instead (:func:`progress_line`).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from glam_apps.training.train import TrainHooks

    bar_on = show_bar and console.is_terminal
    lines_on = not bar_on and launch_rank() == 0
    bar = Progress(
        TextColumn(f"[bold]{label or 'train'}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TextColumn("{task.fields[speed]} steps/s"),
        TextColumn("success {task.fields[success]}"),
        TextColumn("return {task.fields[ret]}"),
        TextColumn("eval {task.fields[eval]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not bar_on,
        transient=False,
    )
    task: dict[str, Any] = {}

    def on_start(state: Any) -> None:
        task["id"] = bar.add_task(
            "train",
            total=state.total_steps,
            completed=state.env_steps,
            speed="-",
            success="-",
            ret="-",
            eval=_fmt(state.eval_success),
        )

    def on_progress(state: Any) -> None:
        if "id" in task:
            bar.update(
                task["id"],
                completed=state.env_steps,
                speed=_fmt(state.steps_per_second, ".0f"),
                success=_fmt(state.success_rate),
                ret=_fmt(state.mean_return),
                eval=_fmt(state.eval_success),
            )
        if lines_on:
            _plain(progress_line(state, label))

    def on_event(message: str) -> None:
        _plain(message, "dim")

    def on_evaluation(record: dict[str, Any]) -> None:
        _plain(evaluation_line(record))

    hooks = TrainHooks(
        on_event=on_event, on_start=on_start, on_progress=on_progress, on_evaluation=on_evaluation
    )
    return hooks, bar


def _train_summary(result: Any) -> None:
    from glam_apps.evaluation.report import rich_table

    if result.final_report is not None:
        out.print(rich_table(result.final_report))
    minutes = result.seconds / 60.0
    _plain(
        f"{result.status}: {result.env_steps} env steps in {minutes:.1f} min; "
        f"run directory {result.run_dir}"
    )
    if result.status == "interrupted":
        _plain(f"continue with: glam train --resume {result.run_dir}")
    elif result.status == "finished":
        run = result.run_dir
        _plain(
            "next:\n"
            f"  glam evaluate {run} --suite paper      # the generalization tests\n"
            f"  glam plot {run} -o curves.png          # learning curves\n"
            f"  tensorboard --logdir {run}/tensorboard\n"
            f"  glam train --resume {run} --set run.total_steps=<more>   # train longer"
        )


# ---------------------------------------------------------------------- seeds


def _train_seeds(config: Any, seeds: str, progress: bool, trust_remote_code: bool) -> None:
    """``glam train --seeds``: the seeds one after the other, then one table of them all."""
    from glam_apps.training.seeds import (
        SeedPlan,
        SeedRun,
        parse_seeds,
        plan_seeds,
        train_seeds,
        with_parent,
    )

    chosen = parse_seeds(seeds)
    config = with_parent(config)  # the default folder is chosen once
    plans = plan_seeds(config, chosen)  # refuses a bad folder before anything trains
    parent = plans[0].run_dir.parent
    todo = sum(plan.action != "skip" for plan in plans)
    _plain(f"{len(plans)} seeds in {parent}: {todo} to train or resume")

    @contextlib.contextmanager
    def display(plan: SeedPlan) -> Iterator[Any]:
        what = "resuming" if plan.action == "resume" else "training"
        _plain(f"seed {plan.seed}: {what} {plan.run_dir.name}")
        hooks, bar = _train_display(progress, label=f"seed {plan.seed}")
        with bar:
            yield hooks

    def on_seed(run: SeedRun) -> None:
        if run.action == "skip":
            _plain(f"seed {run.seed}: {run.run_dir.name} is finished already: skipped")
        else:
            _plain(f"seed {run.seed}: {run.status} at {run.env_steps} env steps")

    with _say_interrupted(True):
        result = train_seeds(
            config,
            chosen,
            display=display,
            on_seed=on_seed,
            trust_remote_code=trust_remote_code,
        )
    _seeds_summary(result)


def _seeds_summary(result: Any) -> None:
    table = Table(title=f"{len(result.runs)} seeds in {result.parent.name}", title_justify="left")
    for name, justify in (
        ("seed", "right"),
        ("run", "left"),
        ("status", "left"),
        ("env steps", "right"),
        ("final success", "right"),
        ("best success", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for run in result.runs:
        table.add_row(
            str(run.seed),
            run.run_dir.name,
            run.status,
            "-" if run.env_steps is None else str(run.env_steps),
            _fmt(run.final_success, ".3f"),
            _fmt(run.best_success, ".3f"),
        )
    out.print(table)
    spread = result.spread()
    finished = len(result.finished)
    if spread is not None:
        _plain(
            f"final success over {finished} seeds: mean {spread.mean:.3f}, "
            f"{spread.confidence:.0%} t-interval [{spread.ci_low:.3f}, {spread.ci_high:.3f}]"
        )
    stopped = [run for run in result.runs if run.status not in ("finished",)]
    if stopped:
        _plain("continue with the same command: finished seeds are skipped")
    if finished:
        _plain(f"curves: glam plot {result.parent} -o curves.png")
