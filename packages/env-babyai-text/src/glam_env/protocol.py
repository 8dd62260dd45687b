"""The text-game protocol shared by every game in this package.

Every text game (BabyAI-Text, TextWorld, board games) speaks the same small
contract, so that one agent plays them all unchanged:

* ``reset()`` / ``step(index)`` follow Gymnasium's meaning of ``reward``,
  ``terminated`` (the game ended: win or loss, do not bootstrap) and
  ``truncated`` (time limit: the episode was cut, bootstrap from its value).
* The observation is a ``dict`` with at least:

  ``"mission"``
      the goal, as text (``"go to the red ball"``);
  ``"observation"``
      what the agent perceives now, as text (BabyAI: the sentences of the
      describer joined by ``", "``);
  ``"admissible_actions"``
      the tuple of action strings the agent may choose from now. Fixed for
      BabyAI, variable from step to step for TextWorld or board games.

  The history wrapper adds ``"observation_history"`` (the last K observation
  texts, oldest first, the current one last) and ``"action_history"`` (the
  K-1 action strings taken between them), cleared at every reset.
* The action is the integer index of one admissible action. The action space is
  ``Discrete(max_actions)``; an index at or past ``len(admissible_actions)`` is
  an error, never silently mapped to something else.
* ``info`` carries ``"admissible_actions"`` too (a list), and ``"success"``
  (bool) on the step that ends an episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypedDict, runtime_checkable

MISSION = "mission"
OBSERVATION = "observation"
ADMISSIBLE_ACTIONS = "admissible_actions"
OBSERVATION_HISTORY = "observation_history"
ACTION_HISTORY = "action_history"
SUCCESS = "success"

#: Longest text a Gymnasium ``Text`` space of this package accepts.
MAX_TEXT_LENGTH = 4096


class TextObservation(TypedDict):
    """The observation every text game returns."""

    mission: str
    observation: str
    admissible_actions: tuple[str, ...]


class TextObservationWithHistory(TextObservation, total=False):
    """The observation once the history wrapper has added the recent past."""

    observation_history: tuple[str, ...]
    action_history: tuple[str, ...]


@runtime_checkable
class TextGame(Protocol):
    """What an agent may rely on from any text game of this package."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]: ...

    @property
    def admissible_actions(self) -> Sequence[str]:
        """The action strings admissible in the current state."""
        ...
