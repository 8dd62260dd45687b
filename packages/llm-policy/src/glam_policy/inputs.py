"""What the policy reads for one decision: goal, recent history, admissible actions.

:class:`PolicyInput` is the single input type of prompt building and scoring. Its
:meth:`PolicyInput.from_any` accepts the observation dict of the text games (keys
``mission``, ``observation`` / ``observation_history``, ``action_history``,
``admissible_actions``) so that the environment's output feeds the policy directly,
without this package importing the environment package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Sentences of one observation given as a list are joined with this, as in the paper.
SENTENCE_SEPARATOR = ", "

GOAL_KEYS = ("goal", "mission")
OBSERVATIONS_KEYS = ("observation_history", "observations")
SINGLE_OBSERVATION_KEY = "observation"
ACTIONS_KEYS = ("action_history", "actions")
ADMISSIBLE_KEY = "admissible_actions"


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _observation_text(value: Any, position: int) -> str:
    """One observation as text: a string as is, a list of sentences joined by ", "."""
    if isinstance(value, str):
        return value
    if _is_sequence(value) and all(isinstance(s, str) for s in value):
        return SENTENCE_SEPARATOR.join(value)
    raise ValueError(
        f"observation {position} must be a string or a sequence of sentence strings, "
        f"got {type(value).__name__}"
    )


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not _is_sequence(value):
        raise ValueError(f"{what} must be a sequence of strings, got {type(value).__name__}")
    bad = [i for i, item in enumerate(value) if not isinstance(item, str)]
    if bad:
        raise ValueError(f"{what} must contain only strings; item {bad[0]} is not")
    return tuple(value)


@dataclass(frozen=True)
class PolicyInput:
    """One decision's input, validated and normalised to tuples of strings.

    ``observations`` are the recent observation texts, oldest first, the current one
    last (an observation may be given as a list of sentences: they are joined with
    ``", "``). ``actions`` are the actions taken between them: at most
    ``len(observations) - 1``, the last one being the action that led to the current
    observation. ``admissible_actions`` are the candidates to score (non-empty).
    """

    goal: str
    observations: tuple[str, ...]
    actions: tuple[str, ...]
    admissible_actions: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.goal, str):
            raise ValueError(f"goal must be a string, got {type(self.goal).__name__}")
        observations = self.observations
        if isinstance(observations, str):
            observations = (observations,)
        if not _is_sequence(observations):
            raise ValueError(
                f"observations must be a sequence of strings, got {type(observations).__name__}"
            )
        observations = tuple(_observation_text(o, i) for i, o in enumerate(observations))
        if not observations:
            raise ValueError("observations must contain at least the current observation")
        actions = _strings(self.actions, "actions")
        if len(actions) > len(observations) - 1:
            raise ValueError(
                f"got {len(actions)} past actions for {len(observations)} observations; "
                f"at most {len(observations) - 1} actions can lie between them"
            )
        admissible = _strings(self.admissible_actions, "admissible_actions")
        if not admissible:
            raise ValueError("admissible_actions is empty: the policy needs at least one action")
        object.__setattr__(self, "observations", observations)
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "admissible_actions", admissible)

    @classmethod
    def from_any(cls, obj: PolicyInput | Mapping[str, Any]) -> PolicyInput:
        """A :class:`PolicyInput` from itself or from a text-game observation mapping.

        Accepted keys: ``goal`` or ``mission``; ``observation_history`` or
        ``observations`` (else a single ``observation``); ``action_history`` or
        ``actions`` (optional, default none); ``admissible_actions``.
        """
        if isinstance(obj, PolicyInput):
            return obj
        if not isinstance(obj, Mapping):
            raise ValueError(
                f"expected a PolicyInput or a mapping (text-game observation), "
                f"got {type(obj).__name__}"
            )
        goal = _first(obj, GOAL_KEYS, "the goal")
        if any(key in obj for key in OBSERVATIONS_KEYS):
            observations = _first(obj, OBSERVATIONS_KEYS, "the observations")
        elif SINGLE_OBSERVATION_KEY in obj:
            observations = (obj[SINGLE_OBSERVATION_KEY],)
        else:
            raise ValueError(
                "missing key for the observations: expected one of "
                f"{', '.join((*OBSERVATIONS_KEYS, SINGLE_OBSERVATION_KEY))}; "
                f"got keys {', '.join(map(str, obj))}"
            )
        actions = _first(obj, ACTIONS_KEYS, "the past actions", default=())
        admissible = _first(obj, (ADMISSIBLE_KEY,), "the admissible actions")
        return cls(
            goal=goal,
            observations=observations,
            actions=actions,
            admissible_actions=admissible,
        )


_MISSING = object()


def _first(obj: Mapping[str, Any], keys: Sequence[str], what: str, default: Any = _MISSING) -> Any:
    for key in keys:
        if key in obj:
            return obj[key]
    if default is not _MISSING:
        return default
    raise ValueError(
        f"missing key for {what}: expected one of {', '.join(keys)}; "
        f"got keys {', '.join(map(str, obj))}"
    )
