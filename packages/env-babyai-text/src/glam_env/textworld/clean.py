"""Turn TextWorld's raw feedback into the observation text an agent reads.

The Inform 7 interpreter prints for a terminal: an ASCII-art banner at the
start, a ``>`` prompt followed by a padded status bar (``-= Kitchen =-0/3``)
after every turn, the "RESTART, RESTORE ... or UNDO" question at the end and
many blank lines. None of it is information for the agent, and the objective
is already the mission, so all of it goes; what is left keeps its lines.
"""

from __future__ import annotations

import re

__all__ = ["clean_feedback"]

# A banner line: only the characters TextWorld's ASCII-art logo is drawn with.
_BANNER_LINE = re.compile(r"^[\s_|\\/$<>]*[_|\\/$][\s_|\\/$<>]*$")
# The prompt and the status bar after it: "> ... -= Room =-score/moves" (or a bare ">").
_PROMPT = re.compile(r"^\s*>\s*(-=.*?=-\s*-?\d+/\d+)?\s*$")
_END_QUESTION = re.compile(
    r"Would you like to RESTART, RESTORE a saved game, QUIT or UNDO the last command\?"
)
_SPACES = re.compile(r"[ \t]+")


def clean_feedback(text: str, objective: str | None = None) -> str:
    """Feedback without banner, prompts, status bar, end question or blank lines.

    ``objective``, when given, is removed where the game prints it (the intro),
    since the agent receives it as the mission. Runs of spaces become one; lines
    are kept, joined by ``"\\n"``.
    """
    text = _END_QUESTION.sub("", text)
    if objective:
        text = text.replace(objective.strip(), "")
    lines = []
    for raw in text.splitlines():
        if _BANNER_LINE.match(raw) or _PROMPT.match(raw):
            continue
        line = _SPACES.sub(" ", raw).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)
