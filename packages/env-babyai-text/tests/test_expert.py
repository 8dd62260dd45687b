"""ExpertAgent: MiniGrid's BabyAI bot as expert action indices of the text env."""

from __future__ import annotations

import gymnasium as gym
import pytest

from glam_env import MIXED_FAMILIES, BabyAITextEnv, ExpertAgent, ExpertFailure, make_env


def test_expert_solves_mixed_train_local() -> None:
    expert = ExpertAgent(BabyAITextEnv("MixedTrainLocal"))
    episodes = [expert.play_episode(seed=seed) for seed in range(40)]
    solved = sum(episode.success for episode in episodes)
    assert solved >= 0.95 * len(episodes), [e.failure for e in episodes if not e.success]
    assert {episode.family for episode in episodes} == set(MIXED_FAMILIES)
    for episode in episodes:
        if episode.success:
            assert episode.reward > 0.1 and episode.failure is None


@pytest.mark.parametrize(
    "level", ["MixedTestLocal", "PickUpSeqPickUpLocal", "GoToAfterPickUpLocal", "PutNextLocal"]
)
def test_expert_on_other_levels(level: str) -> None:
    expert = ExpertAgent(BabyAITextEnv(level))
    assert all(expert.play_episode(seed=seed).success for seed in range(5))


def test_expert_indices_follow_renamed_actions_through_wrappers() -> None:
    env = make_env(level="GoToLocal", variant="synonym_actions", history_length=3)
    expert = ExpertAgent(env)
    episode = expert.play_episode(seed=3)
    assert episode.success
    assert env.unwrapped.admissible_actions[0] == "rotate left"


def test_expert_replans_after_the_agent_deviates() -> None:
    env = BabyAITextEnv("MixedTrainLocal", family_weights={"pick_up": 1.0})
    expert = ExpertAgent(env)
    env.reset(seed=11)
    for action in (1, 1, 2, 0):  # the agent ignores the expert for a while
        expert.act()
        env.step(action)
    while True:
        _, _, terminated, truncated, info = env.step(expert.act())
        if terminated or truncated:
            break
    assert info["success"]


def test_expert_reports_what_it_cannot_do() -> None:
    move3 = BabyAITextEnv("MixedTrainLocal", actions="move3", family_weights={"pick_up": 1})
    episode = ExpertAgent(move3).play_episode(seed=0)
    assert not episode.success and "'pickup'" in (episode.failure or "")

    env = BabyAITextEnv("GoToLocal")
    expert = ExpertAgent(env)
    with pytest.raises(ExpertFailure, match="reset"):
        expert.act()
    env.reset(seed=0)
    expert.act()
    env.step(0)
    env.step(0)
    with pytest.raises(ExpertFailure, match="missed 1 step"):
        expert.act()

    empty = BabyAITextEnv(gym.make("MiniGrid-Empty-5x5-v0"))
    empty.reset(seed=0)
    with pytest.raises(ExpertFailure, match="needs a BabyAI level"):
        ExpertAgent(empty).act()
