"""N agents, each in its own copy of a single-agent text game, as a PettingZoo ``ParallelEnv``.

Multi-agent libraries step many agents at once through PettingZoo; this env
gives each agent a private copy of any text game of this package (a
BabyAI-Text level, a TextWorld game, a board game against its opponent) and
steps the copies side by side. Agents do not interact: it is the multi-agent
face of a batch of independent episodes, e.g. for population-based or
independent-learner training. Each agent leaves ``agents`` when its episode
ends (PettingZoo's rule); the env is done when all have.

Observations are the text game's protocol dict plus PettingZoo's
``action_mask`` over the admissible actions, and the observation text is a
:class:`~glam_env.board_games.shared.PettingZooText`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from glam_env.board_games.shared import ACTION_MASK, PettingZooText, action_mask
from glam_env.protocol import ADMISSIBLE_ACTIONS, OBSERVATION

__all__ = ["TextGamesParallelEnv"]


class TextGamesParallelEnv(ParallelEnv):
    """``num_agents`` agents (``agent_0`` ...), each playing its own copy of one text game.

    ``env`` is a Gymnasium id (made with ``gymnasium.make(env, **env_kwargs)``) or
    a callable returning a fresh env. ``reset(seed=s)`` seeds the copies with
    distinct seeds drawn from ``numpy.random.SeedSequence(s)``, so same seed,
    same episodes; ``reset()`` lets each copy continue its own random stream.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "glam_text_games_parallel_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        env: str | Callable[[], gym.Env],
        num_agents: int = 2,
        *,
        env_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if isinstance(num_agents, bool) or not isinstance(num_agents, int) or num_agents < 1:
            raise ValueError(f"num_agents must be an integer >= 1, got {num_agents!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        make = self._factory(env, dict(env_kwargs or {}), render_mode)
        self._envs: dict[str, gym.Env] = {f"agent_{i}": make() for i in range(num_agents)}
        self.possible_agents = list(self._envs)
        self.agents: list[str] = []
        self._observation_spaces = {}
        self._action_spaces = {}
        for agent, game in self._envs.items():
            action_space = game.action_space
            if not isinstance(action_space, spaces.Discrete):
                raise TypeError(
                    f"the text game's action space must be Discrete (an index into the "
                    f"admissible actions), got {action_space}"
                )
            if not isinstance(game.observation_space, spaces.Dict):
                raise TypeError(
                    "the text game's observation space must be a Dict (see glam_env.protocol), "
                    f"got {game.observation_space}"
                )
            self._action_spaces[agent] = action_space
            self._observation_spaces[agent] = spaces.Dict(
                {
                    **game.observation_space.spaces,
                    ACTION_MASK: spaces.Box(0, 1, shape=(int(action_space.n),), dtype=np.int8),
                }
            )
        self._last_observations: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _factory(
        env: str | Callable[[], gym.Env], kwargs: dict[str, Any], render_mode: str | None
    ) -> Callable[[], gym.Env]:
        if isinstance(env, str):
            if render_mode is not None:
                kwargs.setdefault("render_mode", render_mode)
            return lambda: gym.make(env, **kwargs)
        if not callable(env):
            raise TypeError(f"env must be a Gymnasium id or a callable, got {type(env).__name__}")
        if kwargs:
            raise ValueError("env_kwargs only apply to a Gymnasium id; bind them in the callable")
        return env

    # ---- spaces ---------------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    # ---- API --------------------------------------------------------------------------------

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        if seed is None:
            seeds: list[int | None] = [None] * len(self._envs)
        else:
            seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(len(self._envs))]
        self.agents = list(self.possible_agents)
        observations, infos = {}, {}
        for (agent, game), agent_seed in zip(self._envs.items(), seeds, strict=True):
            obs, info = game.reset(seed=agent_seed, options=options)
            observations[agent] = self._with_mask(agent, obs, info)
            infos[agent] = info
        self._last_observations = observations
        return observations, infos

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, dict[str, Any]],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        missing = [agent for agent in self.agents if agent not in actions]
        extra = [agent for agent in actions if agent not in self.agents]
        if missing or extra:
            raise ValueError(
                f"step() needs exactly one action per live agent {self.agents}: "
                f"missing {missing}, not live {extra}"
            )
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for agent in self.agents:
            obs, reward, terminated, truncated, info = self._envs[agent].step(actions[agent])
            observations[agent] = self._with_mask(agent, obs, info)
            rewards[agent] = float(reward)
            terminations[agent] = bool(terminated)
            truncations[agent] = bool(truncated)
            infos[agent] = info
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        self._last_observations.update(observations)
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        texts = []
        for agent, game in self._envs.items():
            frame = game.render()
            if frame is not None:
                texts.append(f"{agent}:\n{frame}")
        return "\n\n".join(texts) if texts else None

    def observe(self, agent: str) -> dict[str, Any]:
        """The last observation of ``agent`` (PettingZoo's AEC converters use it)."""
        return self._last_observations[agent]

    def close(self) -> None:
        for game in self._envs.values():
            game.close()

    @property
    def envs(self) -> dict[str, gym.Env]:
        """Each agent's text game."""
        return dict(self._envs)

    # ---- internals ----------------------------------------------------------------------

    def _with_mask(self, agent: str, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        n = int(self._action_spaces[agent].n)
        mask = info.get(ACTION_MASK)
        if mask is None:
            mask = action_mask(len(obs[ADMISSIBLE_ACTIONS]), n)
        return {
            **obs,
            OBSERVATION: PettingZooText(obs[OBSERVATION]),
            ACTION_MASK: np.array(mask, dtype=np.int8, copy=True),
        }
