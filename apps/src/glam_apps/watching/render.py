"""A watched step for the terminal, as rich renderables.

Plain lines only (no live display, no cursor movement), so the same output reads
in a terminal, in a file and in a pipe; rich wraps long lines to the console's
width (80 columns when the output is not a terminal) and drops the colours there.
Texts from the game are :class:`~rich.text.Text`, never markup, since they may
hold brackets.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from glam_apps.watching.stepping import StepRecord, View

__all__ = ["episode_end", "episode_start", "step_lines"]


def _sentences(observation: str) -> str:
    """BabyAI's sentences one per line ("You see ..., You see ..." -> lines)."""
    return observation.replace(", You ", "\n  You ")


def _view(view: View) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if view.grid:
        parts.append(Text(view.grid, no_wrap=True, overflow="crop"))
    observation = _sentences(view.observation) or "(nothing in view)"
    parts.append(Text.assemble(("observation: ", "bold"), observation))
    return parts


def episode_start(record: StepRecord, episodes: int, game: str) -> RenderableType:
    """The heading of an episode: its number, seed and game, and the goal."""
    return Group(
        Text(""),
        Text(f"episode {record.episode + 1}/{episodes} (seed {record.seed}) on {game}", "bold"),
        Text.assemble(("goal: ", "bold"), record.view.goal),
    )


def step_lines(record: StepRecord, top: int = 5) -> RenderableType:
    """One step: the state, the likeliest actions (the chosen one marked), value and reward."""
    decision = record.decision
    parts: list[RenderableType] = [Text(f"step {record.step}", "bold cyan")]
    parts += _view(record.view)
    for index, text, probability in decision.top(top):
        chosen = index == decision.action
        line = Text(f"{'>' if chosen else ' '} {probability:4.2f}  ")
        line.append(text, "bold green" if chosen else "")
        parts.append(line)
    value = "-" if decision.value is None else f"{decision.value:.2f}"
    parts.append(
        Text(
            f"value {value}   reward {record.reward:.2f}   return {record.episode_return:.2f}",
            "dim",
        )
    )
    return Group(*parts)


def episode_end(record: StepRecord) -> RenderableType:
    """The final state of an episode and how it ended."""
    steps = record.step + 1
    if record.success:
        outcome = Text(f"success in {steps} steps", "bold green")
    elif record.truncated:
        outcome = Text(f"time is up after {steps} steps", "bold red")
    else:
        outcome = Text(f"episode over after {steps} steps", "bold red")
    outcome.append(f", return {record.episode_return:.2f}", "")
    return Group(Text("end", "bold cyan"), *_view(record.after), outcome)
