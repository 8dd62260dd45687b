"""The `glam` command line: a thin Typer layer over the library calls.

Every command calls one function of ``glam_apps`` (``train.train``,
``evaluate.evaluate``, ``play.PlaySession``, ``plot.plot_runs``) and only renders
its results; that is the only place of the package that prints.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from glam_apps import __version__
from glam_apps.errors import RankAgreedError, TrainingDivergedError, UserError, launch_rank

app = typer.Typer(
    name="glam",
    help="Ground language models in interactive text environments with online RL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
#: Diagnostics and errors go to stderr; results (tables, the game) to stdout.
console = Console(stderr=True)
out = Console(highlight=False)
_state = {"debug": False}
#: How long a rank that raises rank 0's error waits before exiting (see main()).
_AGREED_ERROR_GRACE_SECONDS = 2.0
#: Help of --trust-remote-code, the only way to let a model run its own Python code.
_TRUST_HELP = (
    "Let the model run Python code shipped with it (an auto_map in its config.json). "
    "Off unless given: a run, a saved policy or a config that asks for it is refused."
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"glam {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Ground language models in interactive text environments with online RL."""
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _quiet_transformers() -> None:
    """No download/loading progress bars from transformers under our own display."""
    if _state["debug"]:
        return
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency of glam_policy
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return format(value, spec)


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
    from glam_apps.cloning import clone_policy
    from glam_apps.defaults import load_train_config

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

    from glam_apps.defaults import load_train_config
    from glam_apps.train import resume as resume_run
    from glam_apps.train import train as train_run

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
            from glam_apps.config import TrainConfig
            from glam_apps.config_io import compose
            from glam_apps.rundir import RunDir

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

    from glam_apps.train import TrainHooks

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
    from glam_apps.report import rich_table

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


# ---------------------------------------------------------------------- evaluate


@app.command()
def evaluate(
    agent: Annotated[
        str,
        typer.Argument(
            help="A run directory, a saved policy, a model (hub name or directory), "
            "'bot', 'keyword' (a scripted rule) or 'random'.",
            show_default=False,
        ),
    ],
    suite: Annotated[
        str, typer.Option(help="paper (all generalization tests), quick, or level.")
    ] = "quick",
    level: Annotated[
        str | None,
        typer.Option(help="Base level (default: the run's level, else MixedTrainLocal)."),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(
            help="Episodes per test and seed (default 50; paper protocol: 1000).",
            min=1,
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the first episode (then +1, +2...).")] = 0,
    seeds: Annotated[
        int | None,
        typer.Option(
            help="Play every test over this many seeds (seed k: episode seeds from "
            "seed + k * episodes); more than one adds the mean and 99% CI across seeds "
            "(default 1; paper protocol: 2).",
            min=1,
            show_default=False,
        ),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="paper: the paper's test protocol, 2 seeds x 1000 episodes per test, "
            "32 envs, sampled actions; --seeds, --episodes, --num-envs, --greedy override it.",
            show_default=False,
        ),
    ] = None,
    greedy: Annotated[
        bool, typer.Option("--greedy", help="Most likely action instead of sampling.")
    ] = False,
    num_envs: Annotated[
        int | None,
        typer.Option(
            help="Episodes played side by side (default 8; paper protocol: 32).",
            min=1,
            show_default=False,
        ),
    ] = None,
    checkpoint: Annotated[
        str, typer.Option(help="For a run: auto, final, best or latest.")
    ] = "auto",
    device: Annotated[str | None, typer.Option(help="Torch device for the policy.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the JSON and Markdown reports."),
    ] = None,
    env_set: Annotated[
        list[str] | None,
        typer.Option("--env-set", help="Environment setting: --env-set num_distractors=2."),
    ] = None,
    policy_set: Annotated[
        list[str] | None,
        typer.Option(
            "--policy-set",
            help="Policy setting of a model evaluated zero-shot: --policy-set template=compact.",
        ),
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help=_TRUST_HELP)
    ] = False,
) -> None:
    """Evaluate an agent on a suite of tests over fixed seeds.

    A test that fails is reported and the others still run; the reports are
    rewritten after every test, and the command exits with an error naming the
    failed tests.
    """
    from glam_apps.evaluate import evaluate as run_evaluation
    from glam_apps.report import rich_table
    from glam_apps.rundir import RunDir

    if checkpoint not in ("auto", "final", "best", "latest"):
        raise UserError(f"unknown checkpoint {checkpoint!r}; choose auto, final, best or latest")
    _quiet_transformers()
    if output is None and not RunDir.at(agent).is_run():
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(agent).name or agent)
        output = Path("evaluations") / slug

    def on_test(test: Any, position: int, total: int) -> None:
        console.print(
            f"[dim]test {position + 1}/{total}: {test.name} ({test.level})[/]",
            highlight=False,
        )

    def on_test_failed(test: Any, error: str) -> None:
        console.print(
            Text.assemble((f"test {test.name!r} failed: ", "bold red"), error), soft_wrap=True
        )

    report, written = run_evaluation(
        agent,
        suite=suite,
        level=level,
        episodes=episodes,
        seed=seed,
        greedy=greedy,
        num_envs=num_envs,
        seeds=seeds,
        protocol=protocol,
        checkpoint=checkpoint,
        device=device,
        output_dir=output,
        env_overrides=env_set or (),
        policy_overrides=policy_set or (),
        on_test=on_test,
        on_test_failed=on_test_failed,
        trust_remote_code=trust_remote_code,
    )
    out.print(rich_table(report))
    skipped = report.metadata.get("not_applicable")
    if skipped:
        console.print(
            f"not played: {', '.join(skipped)} ({report.metadata['not_applicable_reason']})",
            highlight=False,
            soft_wrap=True,
        )
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    if report.failures:
        names = ", ".join(repr(failure.name) for failure in report.failures)
        kept = f"; the other tests' results are in {written[0]}" if written else ""
        raise UserError(
            f"{len(report.failures)} test(s) failed: {names} (errors above and in the report){kept}"
        )


# ---------------------------------------------------------------------- play


@app.command()
def play(
    level: Annotated[str, typer.Argument(help="Level name (e.g. GoToLocal, MixedTrainLocal).")],
    seed: Annotated[int, typer.Option(help="Seed of the first episode (then +1, +2...).")] = 0,
    variant: Annotated[
        str | None,
        typer.Option(help="Generalization preset: renamed_nouns, invented_words, french, ..."),
    ] = None,
) -> None:
    """Play a text level yourself: type an action's number or name, 'hint', or 'q'."""
    from glam_apps.play import PlaySession

    session = PlaySession(level, seed=seed, variant=variant)
    played = won = 0
    out.print(
        f"[bold]{session.config.level}[/] (variant {session.config.variant.name}). "
        "Type a number or an action, 'hint' (or '?') for the bot's suggestion, "
        "'r' to restart, 'q' to quit.",
        highlight=False,
    )
    try:
        turn = session.new_episode()
        _show_turn(turn)
        while True:
            out.print("> ", end="")
            line = sys.stdin.readline()
            if not line:  # end of input
                out.print()
                break
            command = session.parse(line)
            if command.kind == "quit":
                break
            if command.kind == "empty":
                continue
            if command.kind == "help":
                out.print("commands: a number (1..n), an action's name, hint or ?, r, q")
                continue
            if command.kind == "invalid":
                out.print(command.message, style="yellow", highlight=False, markup=False)
                continue
            if command.kind == "hint":
                try:
                    index, name = session.hint()
                    out.print(f"hint: {index + 1}. {name}", highlight=False)
                except UserError as error:
                    out.print(str(error), style="yellow", highlight=False, markup=False)
                continue
            if command.kind == "restart":
                session.episode -= 1  # same seed again
                turn = session.new_episode()
                _show_turn(turn)
                continue
            assert command.action is not None
            turn = session.play(command.action)
            out.print(f"you: {turn.last_action}   reward: {turn.reward:.2f}", highlight=False)
            if turn.done:
                played += 1
                won += int(turn.success)
                if turn.success:
                    out.print(
                        f"[bold green]success[/] in {turn.step} steps, return "
                        f"{turn.total_return:.2f}",
                        highlight=False,
                    )
                else:
                    reason = "time is up" if turn.truncated else "episode over"
                    out.print(f"[bold red]{reason}[/] after {turn.step} steps", highlight=False)
                turn = session.new_episode()
            _show_turn(turn)
    finally:
        session.close()
    out.print(f"played {played} episode(s), {won} success(es)", highlight=False)


def _show_turn(turn: Any) -> None:
    from rich.markup import escape

    if turn.step == 0:
        out.print(f"\n[bold]episode {turn.episode + 1}[/] (seed {turn.seed})", highlight=False)
        out.print(f"[bold]goal:[/] {escape(turn.goal)}", highlight=False)
    out.print(
        f"[bold]step {turn.step}:[/] {escape(turn.observation or '(nothing in view)')}",
        highlight=False,
    )
    out.print("  ".join(f"{i + 1}. {name}" for i, name in enumerate(turn.actions)), highlight=False)


# ---------------------------------------------------------------------- plot


@app.command()
def plot(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="One or more run directories.", show_default=False)
    ],
    output: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path(
        "curves.png"
    ),
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="Legend name of each run, in order (default: dir name)."),
    ] = None,
    smooth: Annotated[
        int, typer.Option(help="Moving-average window over training updates.", min=1)
    ] = 1,
    title: Annotated[str | None, typer.Option(help="Figure title.")] = None,
) -> None:
    """Success rate and return against env steps for one or several runs, as a PNG."""
    from glam_apps.plot import plot_runs

    path = plot_runs(run_dirs, output, labels=label or None, smooth=smooth, title=title)
    console.print(f"wrote {path}")


def _error_line(message: object) -> None:
    """One red ``error:`` line on stderr (text, not markup: messages may hold brackets)."""
    text = " ".join(str(message).split())
    where = f"rank {launch_rank()}: " if "WORLD_SIZE" in os.environ else ""
    console.print(Text.assemble((f"{where}error: ", "bold red"), text), soft_wrap=True)


def _unreadable_file(error: BaseException) -> bool:
    """Whether ``error`` is a library's "this file is missing or corrupt" error.

    Looked up in ``sys.modules``: an error of a package never imported cannot
    have been raised, and the CLI stays quick to start.
    """
    for module, name in (("glam_ppo.errors", "CheckpointError"),):
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(error, cls):
            return True
    return False


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one red line and exit code 2 (traceback with --debug).

    Typer (standalone mode) already reports usage errors such as an unknown command
    or option as one line with exit code 2; library errors we expect reach here.
    Exit codes: 2 bad input (a :class:`UserError`, or a checkpoint file that is
    missing or corrupt), 3 training diverged (a NaN loss: the run is ``failed``),
    130 interrupted.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args)
    except KeyboardInterrupt:
        if "--debug" in args:
            raise
        console.print("interrupted", style="bold red")
        sys.exit(130)
    except UserError as error:
        if "--debug" in args:
            raise
        if isinstance(error, RankAgreedError):
            # Rank 0 reports this one. torchrun ends every rank once one exits: leave
            # rank 0 the moment it needs to print before this exit makes it stop.
            time.sleep(_AGREED_ERROR_GRACE_SECONDS)
            sys.exit(2)
        _error_line(error)
        sys.exit(2)
    except TrainingDivergedError as error:
        if "--debug" in args:
            raise
        if launch_rank() != 0:
            # glam_ppo detects a non-finite loss or gradient over all ranks, so every
            # rank raises this at the same update: rank 0 alone reports it.
            time.sleep(_AGREED_ERROR_GRACE_SECONDS)
        else:
            _error_line(error)
        sys.exit(TrainingDivergedError.EXIT_CODE)
    except Exception as error:
        if "--debug" in args or not _unreadable_file(error):
            raise
        _error_line(error)
        sys.exit(2)


if __name__ == "__main__":
    main()
