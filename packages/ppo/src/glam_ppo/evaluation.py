"""Evaluating a policy on a vector environment, greedily or by sampling.

Episodes are split evenly between environments before starting (each environment
plays its quota, extra episodes are ignored), so that short episodes are not
over-represented as they would be by taking the first N to finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from glam_ppo import distributions as dist
from glam_ppo.collector import autoreset_mode
from glam_ppo.episodes import EpisodeRecord, EpisodeTracker
from glam_ppo.observations import policy_input
from glam_ppo.policy import ActorCriticPolicy, check_output


@dataclass
class EvaluationResult:
    """The evaluated episodes, in the order they finished."""

    episodes: list[EpisodeRecord] = field(default_factory=list)

    @property
    def returns(self) -> list[float]:
        return [e.episode_return for e in self.episodes]

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns)) if self.episodes else float("nan")

    @property
    def mean_length(self) -> float:
        return float(np.mean([e.length for e in self.episodes])) if self.episodes else float("nan")

    @property
    def success_rate(self) -> float:
        judged = [e.success for e in self.episodes if e.success is not None]
        return float(np.mean(judged)) if judged else float("nan")


def evaluate(
    policy: ActorCriticPolicy,
    env: VectorEnv,
    num_episodes: int,
    *,
    greedy: bool = True,
    seed: int = 0,
) -> EvaluationResult:
    """Play ``num_episodes`` episodes; ``greedy`` takes the most likely action.

    Environment ``i`` is reset with seed ``seed + i``; sampling (``greedy=False``)
    uses a generator seeded with ``seed``. The policy is in eval mode, without
    gradients, and its previous mode is restored.
    """
    if num_episodes <= 0:
        raise ValueError(f"num_episodes must be positive, got {num_episodes}")
    n = env.num_envs
    quotas = np.array([num_episodes // n + (i < num_episodes % n) for i in range(n)])
    done_counts = np.zeros(n, dtype=np.int64)
    same_step = autoreset_mode(env) is AutoresetMode.SAME_STEP
    tracker = EpisodeTracker(n)
    generator = torch.Generator().manual_seed(seed)
    pending_reset = np.zeros(n, dtype=bool)
    result = EvaluationResult()
    obs, _ = env.reset(seed=[seed + i for i in range(n)])
    was_training = bool(getattr(policy, "training", True))
    policy.train(False)
    offset = int(env.single_action_space.start)
    try:
        with torch.no_grad():
            while (done_counts < quotas).any():
                inputs = policy_input(env.single_observation_space, env.observation_space, obs)
                logits, values = policy(inputs)
                check_output(logits, values, n)
                if greedy:
                    actions = dist.greedy(logits)
                else:
                    actions = dist.sample(dist.log_probs(logits), generator)
                obs, rewards, terminated, truncated, info = env.step(actions.cpu().numpy() + offset)
                valid = ~pending_reset
                terminated = np.asarray(terminated, dtype=bool) & valid
                truncated = np.asarray(truncated, dtype=bool) & valid
                for episode in tracker.step(
                    np.asarray(rewards, dtype=np.float64),
                    terminated,
                    truncated,
                    valid,
                    info,
                    same_step,
                ):
                    if done_counts[episode.env_index] < quotas[episode.env_index]:
                        result.episodes.append(episode)
                    done_counts[episode.env_index] += 1
                if not same_step:
                    pending_reset = terminated | truncated
    finally:
        policy.train(was_training)
    return result
