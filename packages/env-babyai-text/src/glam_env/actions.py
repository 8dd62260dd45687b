"""Action-name presets of BabyAI-Text and their mapping onto MiniGrid actions.

The paper's agent chooses among action *strings*; the environment maps the chosen
index back onto a MiniGrid action. Presets follow the paper: the six MiniGrid
actions (default), the three moves only, and nine actions adding three that do
nothing ("sleep", "do nothing", "think"). Those three are played as MiniGrid's
``done`` action, which changes nothing in the grid but still counts a step (so a
policy that stalls still runs into the time limit, as in the paper).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from minigrid.core.actions import Actions

#: Every action name this package knows, in English, with its MiniGrid action.
CANONICAL_ACTIONS: dict[str, int] = {
    "turn left": int(Actions.left),
    "turn right": int(Actions.right),
    "go forward": int(Actions.forward),
    "pick up": int(Actions.pickup),
    "drop": int(Actions.drop),
    "toggle": int(Actions.toggle),
    "sleep": int(Actions.done),
    "do nothing": int(Actions.done),
    "think": int(Actions.done),
}

#: The paper's six actions, in MiniGrid's order (index i is MiniGrid action i).
PAPER_ACTIONS: tuple[str, ...] = (
    "turn left",
    "turn right",
    "go forward",
    "pick up",
    "drop",
    "toggle",
)

#: Actions that leave the grid unchanged (played as MiniGrid ``done``).
NO_OP_ACTIONS: tuple[str, ...] = ("sleep", "do nothing", "think")

ACTION_PRESETS: dict[str, tuple[str, ...]] = {
    "paper6": PAPER_ACTIONS,
    "move3": PAPER_ACTIONS[:3],
    "extended9": PAPER_ACTIONS + NO_OP_ACTIONS,
}

#: The paper's first synonym-action test: each of the six actions under another name.
SYNONYM_ACTIONS: dict[str, str] = {
    "turn left": "rotate left",
    "turn right": "rotate right",
    "go forward": "move ahead",
    "pick up": "take",
    "drop": "release",
    "toggle": "switch",
}

#: The reference's second synonym-action set (its test code names the result
#: ``shift_left_shift_right_go_ahead_take_release_turn``). "turn" now means toggle,
#: so a policy that grounded the word "turn" in rotating is misled on purpose.
SYNONYM_ACTIONS_2: dict[str, str] = {
    "turn left": "shift left",
    "turn right": "shift right",
    "go forward": "go ahead",
    "pick up": "take",
    "drop": "release",
    "toggle": "turn",
}

#: French names of the no-op actions (the six others come from ``glam_env.french``).
FRENCH_NO_OP_NAMES: dict[str, str] = {
    "sleep": "dormir",
    "do nothing": "ne rien faire",
    "think": "réfléchir",
}


def resolve_action_names(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Turn a preset name or an explicit list of canonical names into canonical names.

    Raises ``ValueError`` naming the bad entry and what is allowed: an unknown
    preset, an unknown or repeated action name, or an empty list.
    """
    if isinstance(spec, str):
        if spec in ACTION_PRESETS:
            return ACTION_PRESETS[spec]
        close = difflib.get_close_matches(spec, list(ACTION_PRESETS), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"unknown action preset {spec!r}{hint}; presets: {', '.join(ACTION_PRESETS)}, "
            f"or give a list of action names among: {', '.join(CANONICAL_ACTIONS)}"
        )
    if not isinstance(spec, Sequence) or not all(isinstance(name, str) for name in spec):
        raise ValueError(
            f"actions must be a preset name ({', '.join(ACTION_PRESETS)}) or a list of action "
            f"names, got {spec!r}"
        )
    names = tuple(spec)
    if not names:
        raise ValueError("the action list is empty; give at least one action name")
    for name in names:
        if name not in CANONICAL_ACTIONS:
            close = difflib.get_close_matches(str(name), list(CANONICAL_ACTIONS), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"unknown action name {name!r}{hint}; valid names: {', '.join(CANONICAL_ACTIONS)}"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"action names repeated: {', '.join(duplicates)}")
    return names


def minigrid_actions(names: Sequence[str]) -> tuple[int, ...]:
    """The MiniGrid action played for each canonical action name."""
    return tuple(CANONICAL_ACTIONS[name] for name in names)
