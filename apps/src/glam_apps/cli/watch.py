"""``glam watch``: an agent playing, step by step in the terminal, optionally recorded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from glam_apps.cli.app import _TRUST_HELP, _quiet_transformers, app, console, out

#: Pause between steps in a terminal when --delay is not given (none in a file or pipe).
TERMINAL_DELAY = 0.5


@app.command()
def watch(
    agent: Annotated[
        str,
        typer.Argument(
            help="A run directory, a saved policy, a model (hub name or directory), "
            "'bot', 'keyword' (a scripted rule) or 'random'.",
            show_default=False,
        ),
    ],
    level: Annotated[
        str | None,
        typer.Option(help="BabyAI-Text level (default: the run's, else MixedTrainLocal)."),
    ] = None,
    game: Annotated[
        str | None,
        typer.Option(
            help="Another text game: tictactoe, connect_four, coin_collector, ... "
            "or a Gymnasium id.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the first episode (then +1, +2...).")] = 0,
    episodes: Annotated[int, typer.Option(help="Episodes to play.", min=1)] = 1,
    greedy: Annotated[
        bool, typer.Option("--greedy", help="Most likely action instead of sampling.")
    ] = False,
    top: Annotated[int, typer.Option(help="Likeliest actions shown at each step.", min=1)] = 5,
    delay: Annotated[
        float | None,
        typer.Option(
            help=f"Seconds between steps (default {TERMINAL_DELAY} in a terminal, 0 otherwise).",
            min=0.0,
            show_default=False,
        ),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(
            help="New or empty folder: each episode as JSONL and as a GIF.", show_default=False
        ),
    ] = None,
    env_set: Annotated[
        list[str] | None,
        typer.Option("--env-set", help="Environment setting: --env-set num_distractors=2."),
    ] = None,
    checkpoint: Annotated[
        str, typer.Option(help="For a run: auto, final, best or latest.")
    ] = "auto",
    device: Annotated[str | None, typer.Option(help="Torch device for the policy.")] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help=_TRUST_HELP)
    ] = False,
) -> None:
    """Watch an agent play: the grid, goal, observation, action probabilities, value, reward."""
    from glam_apps.watching.render import episode_end, episode_start, step_lines
    from glam_apps.watching.session import watch as run_watch

    _quiet_transformers()
    pause = (TERMINAL_DELAY if out.is_terminal else 0.0) if delay is None else delay
    shown: dict[str, Any] = {}

    def on_start(target: Any) -> None:
        shown["game"] = target.game_label
        console.print(f"[dim]{target.label} on {target.game_label}[/]", highlight=False)

    def on_step(record: Any) -> None:
        if record.step == 0:
            out.print(episode_start(record, episodes, shown["game"]))
        out.print(step_lines(record, top))
        if record.done:
            out.print(episode_end(record))
        if pause > 0:
            time.sleep(pause)

    result = run_watch(
        agent,
        level=level,
        game=game,
        episodes=episodes,
        seed=seed,
        greedy=greedy,
        env_overrides=env_set or (),
        checkpoint=checkpoint,
        device=device,
        record=record,
        top=top,
        trust_remote_code=trust_remote_code,
        on_start=on_start,
        on_step=on_step,
    )
    won = sum(episode.success for episode in result.episodes)
    mean = sum(e.episode_return for e in result.episodes) / max(len(result.episodes), 1)
    out.print(
        f"\n{len(result.episodes)} episode(s), {won} success(es), mean return {mean:.2f}",
        highlight=False,
    )
    if record is not None:
        console.print(f"recorded in {record}: {len(result.written)} files", highlight=False)
