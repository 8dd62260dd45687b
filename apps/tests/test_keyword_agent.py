"""The scripted keyword rule: the floor a learner must beat on BabyAI-Text's easy levels."""

from __future__ import annotations

from glam_apps.evaluation.agents import KeywordAgent
from glam_apps.evaluation.evaluate import load_agent, run_episodes
from glam_env import BabyAITextConfig

ACTIONS = KeywordAgent.ACTIONS


def _obs(mission: str, observation: str) -> dict[str, object]:
    return {"mission": mission, "observation": observation, "admissible_actions": ACTIONS}


def test_it_walks_to_what_the_mission_names() -> None:
    agent = KeywordAgent()
    ahead = "You see a blue key 1 step left, You see a red ball 3 steps forward"
    beside = "You see a red ball 2 steps right"
    close = "You see a red ball 1 step forward"
    cases = [
        ("go to the red ball", ahead, "go forward"),
        ("go to the red ball", beside, "turn right"),
        ("go to the blue key", ahead, "turn left"),
        ("pick up a red ball", close, "pick up"),
        ("go to the green box", ahead, "turn left"),  # nothing matching in sight
    ]
    for mission, observation, expected in cases:
        (action,) = agent.act([0], [_obs(mission, observation)])
        assert ACTIONS[action] == expected, (mission, observation)


def test_a_mission_it_cannot_read_gets_seeded_random_actions() -> None:
    observations = [_obs("put the red ball next to the key", "You see a wall 1 step forward")] * 20
    first = KeywordAgent(seed=3).act(list(range(20)), observations)
    assert first == KeywordAgent(seed=3).act(list(range(20)), observations)
    assert len(set(first)) > 1


def test_it_solves_the_quickstart_level() -> None:
    loaded = load_agent("keyword")
    config = BabyAITextConfig(level="GoToRedBallNoDists", max_steps=20)
    outcomes = run_episodes(config, loaded.agent, list(range(1000, 1030)), num_envs=4)
    assert sum(o.success for o in outcomes) == 30
