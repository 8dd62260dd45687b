"""``glam evaluate``: an agent on a suite of tests over fixed seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from glam_apps.cli.app import _TRUST_HELP, _quiet_transformers, app, console, out
from glam_apps.errors import UserError

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
    from glam_apps.evaluation.evaluate import evaluate as run_evaluation
    from glam_apps.evaluation.report import rich_table
    from glam_apps.runs.rundir import RunDir

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
