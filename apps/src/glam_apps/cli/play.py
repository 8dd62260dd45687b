"""``glam play``: a text game played by a person at the terminal."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from glam_apps.cli.app import app, out
from glam_apps.errors import UserError

# ---------------------------------------------------------------------- play


@app.command()
def play(
    level: Annotated[
        str,
        typer.Argument(
            help="A BabyAI-Text level (GoToLocal, MixedTrainLocal, ...) or another text game: "
            "tictactoe, connect_four, coin_collector, treasure_hunter, or a Gymnasium id "
            "such as BoardGame-Text/TicTacToe-v0.",
            show_default=False,
        ),
    ],
    seed: Annotated[int, typer.Option(help="Seed of the first episode (then +1, +2...).")] = 0,
    variant: Annotated[
        str | None,
        typer.Option(
            help="BabyAI-Text generalization preset: renamed_nouns, invented_words, french, ..."
        ),
    ] = None,
) -> None:
    """Play a text game yourself: type an action's number or name, 'hint', or 'q'."""
    from glam_apps.games.play import PlaySession

    session = PlaySession(level, seed=seed, variant=variant)
    played = won = 0
    from rich.markup import escape

    out.print(
        f"[bold]{escape(session.title)}[/]. "
        "Type a number or an action, 'hint' (or '?') for the expert's suggestion, "
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
            out.print(
                f"you: {turn.last_action}   reward: {turn.reward:.2f}",
                highlight=False,
                markup=False,
            )
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
                    outcome = turn.extra.get("outcome")
                    reason = "time is up" if turn.truncated else (outcome or "episode over")
                    out.print(f"[bold red]{reason}[/] after {turn.step} steps", highlight=False)
                turn = session.new_episode()
            _show_turn(turn)
    finally:
        session.close()
    out.print(f"played {played} episode(s), {won} success(es)", highlight=False)


#: Width the action list is laid out in (one line when it fits, else one per line).
ACTIONS_WIDTH = 80


def _show_turn(turn: Any) -> None:
    from rich.markup import escape

    if turn.step == 0:
        out.print(f"\n[bold]episode {turn.episode + 1}[/] (seed {turn.seed})", highlight=False)
        out.print(f"[bold]goal:[/] {escape(turn.goal)}", highlight=False)
    out.print(
        f"[bold]step {turn.step}:[/] {escape(turn.observation or '(nothing in view)')}",
        highlight=False,
    )
    numbered = [f"{i + 1}. {name}" for i, name in enumerate(turn.actions)]
    line = "  ".join(numbered)
    if len(line) <= ACTIONS_WIDTH:
        out.print(line, highlight=False, markup=False)
    else:
        for item in numbered:
            out.print(item, highlight=False, markup=False)
