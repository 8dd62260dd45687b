"""Collecting rollouts from a Gymnasium 1.x vector environment.

Gymnasium 1.x vector environments reset finished sub-environments themselves.
Two autoreset modes are supported:

* ``NEXT_STEP`` (Gymnasium's default): the step that ends an episode returns the
  episode's final observation; the *next* step ignores the action, resets, and
  returns the new first observation with reward 0. That row is not a transition:
  it is stored with ``valid = False`` and never learned from. The final
  observation is the policy input of that next row, so its value (needed to
  bootstrap a truncated episode) comes for free: ``next_values[t] = values[t+1]``.
* ``SAME_STEP``: the step that ends an episode already returns the reset
  observation; the final one is in ``info["final_obs"]``. The collector evaluates
  the value of the final observations of truncated episodes from there.

``DISABLED`` would need the learner to reset environments by hand; it is refused.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from glam_ppo import distributions as dist
from glam_ppo.buffer import RolloutBuffer
from glam_ppo.episode_replay import episodes_snapshot, restore_episodes_snapshot, supports_replay
from glam_ppo.episodes import EpisodeRecord, EpisodeTracker
from glam_ppo.errors import EnvironmentSpecError, PolicyOutputError
from glam_ppo.observations import policy_input, stack_observations
from glam_ppo.policy import ActorCriticPolicy, check_output, predict_values
from glam_ppo.reward_scaling import RewardScaler

logger = logging.getLogger(__name__)


def autoreset_mode(env: VectorEnv) -> AutoresetMode:
    """The env's autoreset mode; NEXT_STEP if it does not say (Gymnasium's default)."""
    mode = env.metadata.get("autoreset_mode")
    if mode is None:
        logger.warning("vector env metadata has no 'autoreset_mode'; assuming NEXT_STEP")
        return AutoresetMode.NEXT_STEP
    mode = AutoresetMode(mode)
    if mode is AutoresetMode.DISABLED:
        raise EnvironmentSpecError(
            "autoreset_mode DISABLED is not supported: use NEXT_STEP (default) or SAME_STEP"
        )
    return mode


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    """A CPU numpy view of a tensor computed without gradients."""
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    return tensor.numpy()


class RolloutCollector:
    """Steps the vector env with the policy and fills a :class:`RolloutBuffer`."""

    def __init__(
        self,
        env: VectorEnv,
        policy: ActorCriticPolicy,
        reward_scaler: RewardScaler,
        generator: torch.Generator,
        eval_mode: bool = True,
    ) -> None:
        action_space = env.single_action_space
        if not isinstance(action_space, spaces.Discrete):
            raise EnvironmentSpecError(
                f"the single action space must be Discrete, got {action_space}"
            )
        self.env = env
        self.policy = policy
        self.reward_scaler = reward_scaler
        self.generator = generator
        self.eval_mode = eval_mode
        self.num_envs = env.num_envs
        self.action_offset = int(action_space.start)
        self.mode = autoreset_mode(env)
        self.tracker = EpisodeTracker(self.num_envs)
        self._single_space = env.single_observation_space
        self._batched_space = env.observation_space
        self._obs: np.ndarray | list[Any] | None = None
        # NEXT_STEP: True where the env's next step is a reset step (not a transition).
        self._pending_reset = np.zeros(self.num_envs, dtype=bool)
        #: Whether the running episodes can be saved (sub-envs wrapped in EpisodeReplay).
        self.can_save_episodes = supports_replay(env)

    def reset(self, seeds: list[int]) -> None:
        """Reset every environment with its own seed; running episodes are forgotten."""
        obs, _ = self.env.reset(seed=seeds)
        self._obs = policy_input(self._single_space, self._batched_space, obs)
        self._pending_reset[:] = False
        self.tracker.reset()
        self.reward_scaler.reset_episodes()

    @property
    def needs_reset(self) -> bool:
        return self._obs is None

    def invalidate(self) -> None:
        """Forget the current observations: the next rollout must start with a reset."""
        self._obs = None

    def episode_state(self) -> dict[str, Any] | None:
        """The running episodes as JSON data, or ``None`` if they cannot be saved."""
        if self._obs is None or not self.can_save_episodes:
            return None
        snapshot = episodes_snapshot(self.env, self.tracker)
        if snapshot is None:
            return None
        return {**snapshot, "pending_reset": self._pending_reset.tolist()}

    def restore_episodes(self, state: dict[str, Any]) -> None:
        """Continue the episodes of :meth:`episode_state` (raises ``EpisodeReplayError``)."""
        observations = restore_episodes_snapshot(self.env, state, self.tracker)
        self._obs = stack_observations(self._single_space, observations)
        self._pending_reset = np.asarray(state["pending_reset"], dtype=bool)

    def _act(self, obs: np.ndarray | list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        logits, values = self.policy(obs)
        check_output(logits, values, self.num_envs)
        log_p = dist.log_probs(logits)
        try:
            actions = dist.sample(log_p, self.generator)
        except RuntimeError as error:
            raise PolicyOutputError(
                "cannot sample an action: some observation has no action with a finite "
                f"logit (all masked) or the logits are NaN ({error})"
            ) from error
        if actions.device != log_p.device:
            actions = actions.to(log_p.device)
        logprobs = dist.gather(log_p, actions)
        if values.dtype != torch.float32:
            values = values.float()
        return _numpy(actions), _numpy(logprobs), _numpy(values)

    def collect(self, buffer: RolloutBuffer) -> list[EpisodeRecord]:
        """Fill ``buffer`` with ``buffer.num_steps`` vector steps; return finished episodes."""
        if self._obs is None:
            raise RuntimeError("call reset(seeds) before collect()")
        same_step = self.mode is AutoresetMode.SAME_STEP
        episodes: list[EpisodeRecord] = []
        final_values: list[tuple[int, np.ndarray, np.ndarray]] = []
        was_training = bool(getattr(self.policy, "training", True))
        if self.eval_mode:
            self.policy.train(False)
        try:
            with torch.no_grad():
                for t in range(buffer.num_steps):
                    obs = self._obs
                    buffer.observations.put(t, obs)
                    actions, logprobs, values = self._act(obs)
                    next_obs, rewards, terminated, truncated, info = self.env.step(
                        actions + self.action_offset if self.action_offset else actions
                    )
                    valid = ~self._pending_reset
                    terminated = np.asarray(terminated, dtype=bool) & valid
                    truncated = np.asarray(truncated, dtype=bool) & valid
                    ended = terminated | truncated
                    rewards = np.asarray(rewards, dtype=np.float32)
                    buffer.actions[t] = actions
                    buffer.logprobs[t] = logprobs
                    buffer.values[t] = values
                    buffer.terminated[t] = terminated
                    buffer.truncated[t] = truncated
                    buffer.valid[t] = valid
                    buffer.rewards[t] = self.reward_scaler(rewards, ended, valid)
                    episodes += self.tracker.step(
                        rewards, terminated, truncated, valid, info, same_step
                    )
                    if same_step:
                        if truncated.any():
                            final_values.append(self._final_values(t, truncated, info))
                    else:
                        self._pending_reset = ended
                    self._obs = policy_input(self._single_space, self._batched_space, next_obs)
                last_values = predict_values(self.policy, self._obs).detach().float().cpu()
        finally:
            self.policy.train(was_training)
        buffer.next_values[:-1] = buffer.values[1:]
        buffer.next_values[-1] = last_values.numpy()
        for t, env_indices, values in final_values:
            buffer.next_values[t, env_indices] = values
        return episodes

    def _final_values(
        self, t: int, truncated: np.ndarray, info: dict[str, Any]
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """SAME_STEP: values of the final observations of episodes truncated at step t."""
        env_indices = np.flatnonzero(truncated)
        finals = [info["final_obs"][i] for i in env_indices]
        values = predict_values(self.policy, stack_observations(self._single_space, finals))
        return t, env_indices, values.detach().float().cpu().numpy()
