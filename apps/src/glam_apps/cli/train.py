"""``glam clone`` and ``glam train``: behavioural cloning alone, and training runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

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
            "--set", "-s", help="Override a config key: --set ppo.learning_rate=1e-5 (repeatable)."
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
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue this run directory from its newest checkpoint."),
    ] = None,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="Print the resolved config and exit.")
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show the progress bar.")
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


def _train_display(show_bar: bool) -> tuple[Any, Any]:
    """Hooks that drive a rich progress bar (or plain lines without one)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from glam_apps.training.train import TrainHooks

    bar = Progress(
        TextColumn("[bold]train"),
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
        disable=not show_bar,
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
        fields = {
            "speed": _fmt(state.steps_per_second, ".0f"),
            "success": _fmt(state.success_rate),
            "ret": _fmt(state.mean_return),
            "eval": _fmt(state.eval_success),
        }
        if "id" in task:
            bar.update(task["id"], completed=state.env_steps, **fields)
        if not show_bar:
            console.print(
                f"step {state.env_steps}/{state.total_steps}: {fields['speed']} steps/s, "
                f"success {fields['success']}, return {fields['ret']}, eval {fields['eval']}",
                highlight=False,
            )

    def on_event(message: str) -> None:
        console.print(f"[dim]{message}[/]", highlight=False, markup=True)

    def on_evaluation(record: dict[str, Any]) -> None:
        console.print(
            f"evaluation at {record['global_step']} steps: success "
            f"{record['success_rate']:.3f} [{record['success_ci_low']:.2f}, "
            f"{record['success_ci_high']:.2f}], return {record['mean_return']:.3f}",
            highlight=False,
        )

    hooks = TrainHooks(
        on_event=on_event, on_start=on_start, on_progress=on_progress, on_evaluation=on_evaluation
    )
    return hooks, bar


def _train_summary(result: Any) -> None:
    from glam_apps.evaluation.report import rich_table

    if result.final_report is not None:
        out.print(rich_table(result.final_report))
    minutes = result.seconds / 60.0
    console.print(
        f"{result.status}: {result.env_steps} env steps in {minutes:.1f} min; "
        f"run directory {result.run_dir}",
        highlight=False,
    )
    if result.status == "interrupted":
        console.print(f"continue with: glam train --resume {result.run_dir}", highlight=False)
    elif result.status == "finished":
        run = result.run_dir
        console.print(
            "next:\n"
            f"  glam evaluate {run} --suite paper      # the generalization tests\n"
            f"  glam plot {run} -o curves.png          # learning curves\n"
            f"  tensorboard --logdir {run}/tensorboard\n"
            f"  glam train --resume {run} --set run.total_steps=<more>   # train longer",
            highlight=False,
            soft_wrap=True,
        )
