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
        str | None,
        typer.Option(
            help="paper (all generalization tests), quick, or level "
            "(default: a run's final evaluation's, level; else quick).",
            show_default=False,
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            help="Base level (default: the run's evaluation level, else MixedTrainLocal)."
        ),
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(
            help="Episodes per test and seed (default: a run's run.eval_episodes, else 50; "
            "paper protocol: 1000).",
            min=1,
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the first episode, then +1, +2... (default: a run's "
            "run.eval_seed, else 0).",
            show_default=False,
        ),
    ] = None,
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
        bool | None,
        typer.Option(
            "--greedy/--sampled",
            help="Most likely action, or sampled as in the paper (default: a run's "
            "run.eval_greedy, else sampled).",
            show_default=False,
        ),
    ] = None,
    num_envs: Annotated[
        int | None,
        typer.Option(
            help="Episodes played side by side (default: a run's run.eval_num_envs, else 8; "
            "paper protocol: 32).",
            min=1,
            show_default=False,
        ),
    ] = None,
    baselines: Annotated[
        list[str] | None,
        typer.Option(
            "--baselines",
            help="Also play these agents on the same tests and seeds, as extra columns: "
            "random, bot, keyword (comma-separated or repeated).",
            show_default=False,
        ),
    ] = None,
    record: Annotated[
        int,
        typer.Option(
            "--record",
            help="Keep this many episodes' transcripts per test (JSONL: prompt, actions, "
            "probabilities, value, reward), in a transcripts folder beside the reports.",
            min=0,
        ),
    ] = 0,
    checkpoint: Annotated[
        str, typer.Option(help="For a run: auto, final, best or latest.")
    ] = "auto",
    device: Annotated[str | None, typer.Option(help="Torch device for the policy.")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the JSON and Markdown reports (default: a run's eval "
            "folder, else the agent's folder in runs/evaluations).",
            show_default=False,
        ),
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

    A run directory is played as its final evaluation was (suite, level, seed,
    episodes, actions, environments), so its numbers match eval/final.json; each
    option given replaces one of those. A test that fails is reported and the
    others still run; the reports are rewritten after every test, and the command
    exits with an error naming the failed tests.
    """
    from glam_apps.evaluation.evaluate import default_output_dir
    from glam_apps.evaluation.evaluate import evaluate as run_evaluation
    from glam_apps.evaluation.report import rich_table

    _quiet_transformers()
    if output is None:
        output = default_output_dir(agent)

    def on_test(test: Any, position: int, total: int) -> None:
        console.print(
            f"[dim]test {position + 1}/{total}: {test.name} ({test.level})[/]",
            highlight=False,
        )

    def on_test_failed(test: Any, error: str) -> None:
        console.print(
            Text.assemble((f"test {test.name!r} failed: ", "bold red"), error), soft_wrap=True
        )

    def on_baseline(name: str) -> None:
        console.print(f"[dim]baseline {name}, on the same tests and seeds:[/]", highlight=False)

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
        baselines=baselines or (),
        record=record,
        on_test=on_test,
        on_test_failed=on_test_failed,
        on_baseline=on_baseline,
        trust_remote_code=trust_remote_code,
    )
    from_run = report.metadata.get("defaults_from_run")
    if from_run:
        chosen = ", ".join(f"{key} {value}" for key, value in from_run["settings"].items())
        console.print(
            f"as the run's final evaluation ({from_run['source']}): {chosen}",
            highlight=False,
            soft_wrap=True,
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
    if report.metadata.get("transcripts"):
        console.print(f"transcripts in {report.metadata['transcripts']}", highlight=False)
    if report.baselines and written:
        console.print(
            f"paired differences: glam compare {written[0]}", highlight=False, soft_wrap=True
        )
    failures = report.all_failures
    if failures:
        names = ", ".join(
            repr(failure.name) + ("" if who == report.agent else f" ({who})")
            for who, failure in failures
        )
        kept = f"; the other tests' results are in {written[0]}" if written else ""
        raise UserError(
            f"{len(failures)} test(s) failed: {names} (errors above and in the report){kept}"
        )
