"""Saving the episodes in progress of a vector environment, by deterministic replay.

A Gymnasium environment's state cannot be saved in general (a MiniGrid grid with
its objects, a TextWorld interpreter, an opponent's generator...), and pickling it
would make every checkpoint a program. What can be saved safely is how the episode
came about: the environment's random state just before its reset (or the reset's
seed), the reset's options, and the actions taken since. For an environment whose
dynamics depend on nothing else (every Gymnasium environment that draws from its
own ``np_random`` only: classic control, MiniGrid, glam's text games), replaying
them in a fresh environment rebuilds the same state. The replay is checked, not
trusted: the state records a digest of the last observation and the generator's
current state, and a replay that does not reproduce both raises
:class:`EpisodeReplayError` (the trainer then falls back to seeded resets and says
so).

Wrap each sub-environment (outermost, so the replay runs through every wrapper)
with :class:`EpisodeReplay`; a vector env of such environments is what
:func:`vector_replay_states` and :func:`restore_vector_replay` work on, in
Gymnasium's sync and async vector envs alike (through ``call``/``set_attr``).

With the NEXT_STEP autoreset mode an episode may have ended at the last step and
the vector env resets it at the next one. A fresh vector env does not know that,
so a restored ended episode resets itself at its next ``step`` and answers as the
vector env would (the reset observation, reward 0, not done).
"""

from __future__ import annotations

import hashlib
import json
import logging
import numbers
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import VectorEnv

from glam_ppo.errors import PPOError

logger = logging.getLogger(__name__)

#: Attribute through which a vector env reads (``get_attr``) or restores
#: (``set_attr``) each sub-environment's episode.
STATE_ATTRIBUTE = "episode_replay_state"
#: Attribute holding each sub-environment's last observation (after a restore).
OBSERVATION_ATTRIBUTE = "episode_replay_observation"
#: Attribute holding why the last restore failed (``None`` if it succeeded). A
#: restore never raises inside the sub-environment: an exception there would shut
#: an async vector env's worker down, leaving no env to fall back to.
ERROR_ATTRIBUTE = "episode_replay_error"
FORMAT = 1


class EpisodeReplayError(PPOError, RuntimeError):
    """An episode cannot be saved or replayed exactly."""


def _digest_into(hasher: Any, value: Any) -> None:
    """Feed a canonical encoding of an observation (dicts, sequences, arrays, scalars)."""
    if isinstance(value, dict):
        hasher.update(b"{")
        for key in sorted(value, key=str):
            hasher.update(repr(key).encode())
            _digest_into(hasher, value[key])
        hasher.update(b"}")
    elif isinstance(value, np.ndarray):
        hasher.update(f"a{value.dtype.str}{value.shape}".encode())
        hasher.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, list | tuple):
        hasher.update(b"[")
        for item in value:
            _digest_into(hasher, item)
        hasher.update(b"]")
    elif isinstance(value, str | bytes | numbers.Number | np.generic | None):
        hasher.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise EpisodeReplayError(
            f"cannot fingerprint an observation of type {type(value).__name__}: "
            "episode replay supports arrays, strings, numbers, dicts and sequences"
        )


def observation_digest(observation: Any) -> str:
    """SHA-256 of an observation's canonical encoding (what a replay must reproduce)."""
    hasher = hashlib.sha256()
    _digest_into(hasher, observation)
    return hasher.hexdigest()


def _rng_state(env: gymnasium.Env[Any, Any]) -> dict[str, Any]:
    return env.np_random.bit_generator.state  # type: ignore[no-any-return]


def _json_action(action: Any) -> int:
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, bool | np.bool_) or not isinstance(action, numbers.Integral):
        raise EpisodeReplayError(
            f"episode replay records discrete actions only, got {action!r} "
            f"({type(action).__name__})"
        )
    return int(action)


def _json_options(options: dict[str, Any] | None) -> dict[str, Any] | None:
    if options is None:
        return None
    try:
        return json.loads(json.dumps(options))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as error:
        raise EpisodeReplayError(
            f"reset options must be JSON data to be replayed, got {options!r}: {error}"
        ) from error


class EpisodeReplay(gymnasium.Wrapper[Any, Any, Any, Any]):
    """Records how the running episode came about, and replays it into a fresh env.

    ``env.episode_replay_state`` is a JSON-able dict (``None`` before the first
    reset); assigning such a dict to it rebuilds that episode by replay and checks
    the result. The wrapped environment must draw every random choice from its
    ``np_random`` and be deterministic given it and the actions.
    """

    def __init__(self, env: gymnasium.Env[Any, Any]) -> None:
        super().__init__(env)
        self._start: dict[str, Any] | None = None
        self._actions: list[int] = []
        self._ended = False
        self._last_observation: Any = None
        self._reset_at_next_step = False
        self._replay_error: str | None = None

    # --- recording -------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        rng = None if seed is not None else _rng_state(self.env)
        observation, info = self.env.reset(seed=seed, options=options)
        self._start = {
            "seed": None if seed is None else int(seed),
            "rng": rng,
            "options": _json_options(options),
        }
        self._actions = []
        self._ended = False
        self._reset_at_next_step = False
        self._last_observation = observation
        return observation, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        if self._reset_at_next_step:  # a restored ended episode, under NEXT_STEP
            observation, info = self.reset()
            return observation, 0.0, False, False, info
        recorded = _json_action(action)
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._actions.append(recorded)
        self._ended = bool(terminated or truncated)
        self._last_observation = observation
        return observation, reward, terminated, truncated, info

    # --- the state ---------------------------------------------------------------------

    @property
    def episode_replay_observation(self) -> Any:
        """The last observation this env returned (the policy's next input)."""
        return self._last_observation

    @property
    def episode_replay_state(self) -> dict[str, Any] | None:
        if self._start is None:
            return None
        return {
            "format": FORMAT,
            "start": dict(self._start),
            "actions": list(self._actions),
            "ended": self._ended,
            "observation_sha256": observation_digest(self._last_observation),
            "rng": _rng_state(self.env),
        }

    @episode_replay_state.setter
    def episode_replay_state(self, state: dict[str, Any]) -> None:
        self._replay_error = None
        try:
            self.replay(state)
        except Exception as error:  # reported through episode_replay_error
            self._replay_error = str(error) or type(error).__name__

    @property
    def episode_replay_error(self) -> str | None:
        """Why the last restore through ``episode_replay_state`` failed, or ``None``."""
        return self._replay_error

    def replay(self, state: dict[str, Any]) -> None:
        """Rebuild the episode ``state`` describes; raise if the result differs."""
        try:
            if state.get("format") != FORMAT:
                raise EpisodeReplayError(f"unknown episode state format {state.get('format')!r}")
            start = state["start"]
            actions = [int(a) for a in state["actions"]]
            seed, rng, options = start["seed"], start["rng"], start["options"]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise EpisodeReplayError(f"malformed episode state: {error!r}") from error
        if seed is None:
            if rng is None:
                raise EpisodeReplayError("an episode state needs a reset seed or a random state")
            self.env.reset(seed=0)  # makes the env own the generator it draws from
            try:
                self.env.np_random.bit_generator.state = rng
            except (TypeError, ValueError, KeyError) as error:
                raise EpisodeReplayError(f"cannot restore the random state: {error}") from error
        self.reset(seed=seed, options=options)
        self._start = dict(start)  # the recorded start, not the restored one
        for index, action in enumerate(actions):
            if self._ended:
                raise EpisodeReplayError(f"the replayed episode ended early, at action {index}")
            self.step(action)
        if self._ended != bool(state.get("ended")):
            raise EpisodeReplayError("the replayed episode did not end where the recorded one did")
        if observation_digest(self._last_observation) != state.get("observation_sha256"):
            raise EpisodeReplayError(
                f"replaying {len(actions)} actions gave another observation: the environment "
                "is not deterministic given its random state and the actions"
            )
        if _rng_state(self.env) != state.get("rng"):
            raise EpisodeReplayError(
                "replaying the episode left the random generator in another state: the "
                "environment draws randomness from somewhere else than its np_random"
            )
        self._reset_at_next_step = self._ended


def supports_replay(env: VectorEnv) -> bool:
    """Whether every sub-environment of ``env`` is wrapped in :class:`EpisodeReplay`."""
    try:
        return all(env.call("has_wrapper_attr", STATE_ATTRIBUTE))
    except (AttributeError, NotImplementedError):
        return False


def vector_replay_states(env: VectorEnv) -> list[dict[str, Any]] | None:
    """Each sub-environment's episode state; ``None`` if one has not been reset."""
    states = list(env.get_attr(STATE_ATTRIBUTE))
    return None if any(state is None for state in states) else states


def restore_vector_replay(env: VectorEnv, states: Sequence[dict[str, Any]]) -> list[Any]:
    """Replay ``states`` into ``env``'s sub-environments; return their last observations."""
    if len(states) != env.num_envs:
        raise EpisodeReplayError(
            f"the saved episodes are for {len(states)} environments; this vector env has "
            f"{env.num_envs}"
        )
    env.set_attr(STATE_ATTRIBUTE, list(states))
    errors = [(i, e) for i, e in enumerate(env.get_attr(ERROR_ATTRIBUTE)) if e is not None]
    if errors:
        index, reason = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise EpisodeReplayError(f"environment {index}: {reason}{more}")
    return list(env.get_attr(OBSERVATION_ATTRIBUTE))


def episodes_snapshot(env: VectorEnv, tracker: Any) -> dict[str, Any] | None:
    """A trainer's running episodes: every sub-env's replay state and the episode
    tracker's returns and lengths so far; ``None`` if a sub-env has not been reset."""
    envs = vector_replay_states(env)
    return None if envs is None else {"envs": envs, "tracker": tracker.state_dict()}


def restore_episodes_snapshot(env: VectorEnv, snapshot: dict[str, Any], tracker: Any) -> list[Any]:
    """Replay :func:`episodes_snapshot` into ``env`` and ``tracker``; the last observations.

    Anything wrong with the snapshot, malformed or not reproduced, is an
    :class:`EpisodeReplayError` (the caller falls back to seeded resets).
    """
    try:
        observations = restore_vector_replay(env, snapshot["envs"])
        tracker.load_state_dict(snapshot["tracker"])
    except (KeyError, TypeError, ValueError) as error:
        raise EpisodeReplayError(f"malformed saved episodes: {error!r}") from error
    return observations


def warn_not_exact(reason: str) -> None:
    """The one warning of a resume whose saved episodes could not be continued."""
    logger.warning(
        "the episodes in progress could not be restored (%s): the environments restart "
        "from seeded resets, so this resume is not exact",
        reason,
    )
