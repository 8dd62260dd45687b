"""``TextWorldEnv``: TextWorld games behind the text-game protocol.

* mission: the game's objective;
* observation: TextWorld's feedback, cleaned (:func:`~glam_env.textworld.clean.clean_feedback`);
* admissible actions: TextWorld's admissible commands of the current state, a
  different number at every step (sorted, as TextWorld gives them);
* reward: the change of the game's score; ``terminated`` when the game is won or
  lost; ``truncated`` after ``max_episode_steps`` steps.

Games come from :func:`~glam_env.textworld.generate.ensure_games` (generated
once, cached on disk). The action space is ``Discrete(max_actions)``; ``info``
carries ``admissible_actions``, ``action_mask``, ``score``, ``max_score``,
``won``, ``lost`` and ``game_index``, and ``success`` on the last step.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym

from glam_env.board_games.shared import (
    ACTION_MASK,
    AdmissibleDiscrete,
    action_mask,
    check_action_index,
    sanitize_text,
    text_observation_space,
)
from glam_env.errors import EpisodeEndedError, GlamEnvError, ResetNeededError
from glam_env.protocol import ADMISSIBLE_ACTIONS, MISSION, OBSERVATION, SUCCESS
from glam_env.textworld.clean import clean_feedback
from glam_env.textworld.config import TextWorldConfig, resolve_textworld_config
from glam_env.textworld.generate import ensure_games, import_textworld

__all__ = ["TextWorldEnv", "TooManyActionsError"]

#: Offered when TextWorld lists no command (never seen in its challenges; "look" always works),
#: so that a policy always has an action to score.
_FALLBACK_COMMAND = "look"


class TooManyActionsError(GlamEnvError, RuntimeError):
    """A state has more admissible commands than the action space (``max_actions``) holds."""


class _Phase(enum.Enum):
    NEEDS_RESET = "needs reset"
    RUNNING = "running"
    ENDED = "ended"


class TextWorldEnv(gym.Env[dict[str, Any], int]):
    """Locally generated TextWorld games (coin collector, treasure hunter, simple, cooking).

    ``TextWorldEnv({"game": "coin_collector", "difficulty": {"level": 5}})`` or
    ``gymnasium.make("TextWorld/CoinCollector-v0", config={...})``. Each reset
    picks one game of the pool with the env's random generator, or the game
    ``options={"game_index": i}`` names.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        config: TextWorldConfig | Mapping[str, Any] | None = None,
        *,
        render_mode: str | None = None,
        game: str | None = None,
    ) -> None:
        self.config = resolve_textworld_config(config, game)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self._textworld = import_textworld()
        self._game_files: list[Path] = ensure_games(self.config)
        self._max_actions = self.config.max_actions
        self.observation_space = text_observation_space(self._max_actions)
        self.action_space = AdmissibleDiscrete(self._max_actions)
        self._request = self._textworld.EnvInfos(
            admissible_commands=True,
            objective=True,
            score=True,
            max_score=True,
            won=True,
            lost=True,
            policy_commands=True,
            extras=["walkthrough"],
        )
        self._env: Any = None
        self._loaded: int | None = None
        self._game_index = 0
        self._state: Any = None
        self._admissible: tuple[str, ...] = ()
        self._observation = ""
        self._mission = ""
        self._score = 0
        self._steps = 0
        self._phase = _Phase.NEEDS_RESET

    # ---- Gymnasium API --------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self._game_index = self._choose_game(options)
        if self._loaded != self._game_index:
            if self._env is not None:
                self._env.close()
            self._env = self._start(self._game_files[self._game_index])
            self._loaded = self._game_index
        state = self._env.reset()
        self._mission = sanitize_text(" ".join(str(state["objective"] or "").split()))
        self._score = int(state["score"] or 0)
        self._steps = 0
        self._update(state, clean_feedback(state.feedback, state["objective"]))
        self._phase = _Phase.RUNNING
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._phase is _Phase.NEEDS_RESET:
            raise ResetNeededError("call reset() before step()")
        if self._phase is _Phase.ENDED:
            raise EpisodeEndedError("the episode has ended: call reset() before step()")
        index = check_action_index(action, self._admissible)
        state, _, done = self._env.step(self._admissible[index])
        score = int(state["score"] or 0)
        reward = float(score - self._score)
        self._score = score
        self._steps += 1
        self._update(state, clean_feedback(state.feedback))
        terminated = bool(done or state["won"] or state["lost"])
        truncated = not terminated and self._steps >= self.config.max_episode_steps
        info = self._info()
        if terminated or truncated:
            self._phase = _Phase.ENDED
            info[SUCCESS] = bool(state["won"])
        return self._obs(), reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._phase is _Phase.NEEDS_RESET:
            return None
        return f"{self._mission}\n{self._observation}"

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
            self._loaded = None

    # ---- protocol extras ----------------------------------------------------------------

    @property
    def admissible_actions(self) -> tuple[str, ...]:
        """TextWorld's admissible commands in the current state."""
        return self._admissible

    @property
    def game_files(self) -> tuple[Path, ...]:
        """The compiled games of the pool (``.z8``, with their ``.json`` beside)."""
        return tuple(self._game_files)

    @property
    def walkthrough(self) -> tuple[str, ...]:
        """The generator's winning command sequence of the current game, from its start."""
        if self._state is None:
            raise ResetNeededError("call reset() before reading the walkthrough")
        return tuple(self._state["extra.walkthrough"] or ())

    def expert_action(self) -> int:
        """Index of the next command of TextWorld's winning policy from the current state.

        TextWorld re-plans from the current state, so this works after detours
        too. Raises ``RuntimeError`` when no winning command is admissible (game
        over or lost).
        """
        if self._phase is not _Phase.RUNNING:
            raise ResetNeededError("the expert needs a running episode: call reset()")
        plan = self._state["policy_commands"] or []
        if not plan or plan[0] not in self._admissible:
            raise RuntimeError(
                f"TextWorld's policy has no admissible next command (plan: {plan[:3]})"
            )
        return self._admissible.index(plan[0])

    # ---- internals ----------------------------------------------------------------------

    def _start(self, game_file: Path) -> Any:
        # Jericho warns that it cannot track the score of TextWorld's games; TextWorld
        # tracks it itself (and silences that warning globally, which pytest undoes).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is not fully supported.*")
            return self._textworld.start(str(game_file), request_infos=self._request)

    def _choose_game(self, options: dict[str, Any] | None) -> int:
        count = len(self._game_files)
        if options and "game_index" in options:
            index = options["game_index"]
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
                raise ValueError(
                    f"options['game_index'] must be an integer in [0, {count - 1}] "
                    f"(the pool has num_games={count}), got {index!r}"
                )
            return index
        return 0 if count == 1 else int(self.np_random.integers(count))

    def _update(self, state: Any, observation: str) -> None:
        self._state = state
        commands = tuple(sanitize_text(c) for c in (state["admissible_commands"] or ()))
        if len(commands) > self._max_actions:
            raise TooManyActionsError(
                f"this state of {self.config.game} has {len(commands)} admissible commands but "
                f"max_actions={self._max_actions}: raise max_actions in the config to at least "
                f"{len(commands)}"
            )
        self._admissible = commands or (_FALLBACK_COMMAND,)
        self._observation = sanitize_text(observation)
        self.action_space.set_num_admissible(len(self._admissible))

    def _obs(self) -> dict[str, Any]:
        return {
            MISSION: self._mission,
            OBSERVATION: self._observation,
            ADMISSIBLE_ACTIONS: self._admissible,
        }

    def _info(self) -> dict[str, Any]:
        state = self._state
        return {
            ADMISSIBLE_ACTIONS: list(self._admissible),
            ACTION_MASK: action_mask(len(self._admissible), self._max_actions),
            "score": self._score,
            "max_score": int(state["max_score"] or 0),
            "won": bool(state["won"]),
            "lost": bool(state["lost"]),
            "game_index": self._game_index,
        }
