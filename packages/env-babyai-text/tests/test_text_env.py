"""BabyAITextEnv: the protocol, rewards, action sets, languages and variants."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from glam_env import (
    ADMISSIBLE_ACTIONS,
    FRENCH_ACTION_NAMES,
    MISSION,
    OBSERVATION,
    PAPER_ACTIONS,
    VARIANT_NAMES,
    BabyAITextEnv,
    ExpertAgent,
    TextGame,
    describe,
    get_variant,
    make_env,
    translate_mission,
)


def test_observation_follows_the_protocol() -> None:
    env = BabyAITextEnv("MixedTrainLocal")
    obs, info = env.reset(seed=3)
    assert set(obs) == {MISSION, OBSERVATION, ADMISSIBLE_ACTIONS}
    assert obs[ADMISSIBLE_ACTIONS] == PAPER_ACTIONS == env.admissible_actions
    assert info[ADMISSIBLE_ACTIONS] == list(PAPER_ACTIONS)
    assert obs[MISSION] == env.minigrid_env.mission == env.mission
    assert obs in env.observation_space
    assert env.action_space == gym.spaces.Discrete(6)
    assert isinstance(env, TextGame)
    for action in (2, 1, 2, 0, 3, 2):
        obs, _, _, _, info = env.step(action)
        # The text is described from MiniGrid's own observation, exactly as describe() sees it.
        assert info["sentences"] == describe(env.minigrid_env)
        assert obs[OBSERVATION] == ", ".join(info["sentences"])
        assert info["family"] == env.family
        assert obs in env.observation_space


def test_success_reward_is_one_minus_point_nine_t_over_t_max() -> None:
    env = BabyAITextEnv("GoToLocal")
    expert = ExpertAgent(env)
    episode = expert.play_episode(seed=5)
    assert episode.success and episode.failure is None
    max_steps = env.minigrid_env.max_steps
    assert max_steps == 64
    assert episode.reward == pytest.approx(1 - 0.9 * episode.steps / max_steps)


def test_time_limit_truncates_without_success() -> None:
    env = BabyAITextEnv("MixedTrainLocal", max_steps=5)
    env.reset(seed=0)
    for _ in range(4):
        assert env.step(0)[2:4] == (False, False)
    _, reward, terminated, truncated, info = env.step(0)
    assert (reward, terminated, truncated, info["success"]) == (0.0, False, True, False)
    # the override survives the next reset (MiniGrid would recompute it)
    env.reset(seed=1)
    assert env.minigrid_env.max_steps == 5


def test_move3_and_extended9_presets() -> None:
    small = BabyAITextEnv("GoToLocal", actions="move3")
    assert small.admissible_actions == ("turn left", "turn right", "go forward")
    assert small.action_space.n == 3
    big = BabyAITextEnv("GoToLocal", actions="extended9")
    assert big.admissible_actions[6:] == ("sleep", "do nothing", "think")
    big.reset(seed=0)
    before = (tuple(big.minigrid_env.agent_pos), big.minigrid_env.agent_dir)
    for index in (6, 7, 8):
        big.step(index)  # no-ops: nothing moves, the step still counts
    assert (tuple(big.minigrid_env.agent_pos), big.minigrid_env.agent_dir) == before
    assert big.minigrid_env.step_count == 3


def test_explicit_action_list() -> None:
    env = BabyAITextEnv("GoToLocal", actions=["go forward", "turn left"])
    env.reset(seed=0)
    env.step(1)
    assert env.last_minigrid_action == 0  # "turn left" is MiniGrid's action 0


def test_french_language_translates_all_three_texts() -> None:
    english, french = (
        BabyAITextEnv("MixedTrainLocal"),
        BabyAITextEnv("MixedTrainLocal", language="fr"),
    )
    obs_en, _ = english.reset(seed=4)
    obs_fr, info_fr = french.reset(seed=4)
    assert obs_fr[MISSION] == translate_mission(obs_en[MISSION])
    assert obs_fr[ADMISSIBLE_ACTIONS] == FRENCH_ACTION_NAMES
    assert info_fr["sentences"] == describe(french.minigrid_env, language="fr")
    assert obs_fr[OBSERVATION].startswith("Tu ")
    nine = BabyAITextEnv("GoToLocal", language="fr", actions="extended9")
    assert nine.admissible_actions[6:] == ("dormir", "ne rien faire", "réfléchir")


def test_go_to_french_speaks_french_unless_told_otherwise() -> None:
    obs, _ = BabyAITextEnv("GoToFrench").reset(seed=0)
    assert obs[MISSION].startswith("va à ")
    assert obs[ADMISSIBLE_ACTIONS] == FRENCH_ACTION_NAMES
    obs, _ = BabyAITextEnv("GoToFrench", language="en").reset(seed=0)
    assert obs[MISSION].startswith("go to ")


@pytest.mark.parametrize("name", [name for name in VARIANT_NAMES if name != "none"])
def test_each_preset_transforms_mission_observation_and_actions(name: str) -> None:
    plain, varied = BabyAITextEnv("MixedTrainLocal"), BabyAITextEnv("MixedTrainLocal", variant=name)
    variant = get_variant(name)
    observations_changed = 0
    for seed in range(3):
        obs, info = plain.reset(seed=seed)
        vobs, vinfo = varied.reset(seed=seed)
        for action in (2, 1, 2):
            if name == "french":
                assert vobs[MISSION] == translate_mission(obs[MISSION])
                assert vinfo["sentences"] == describe(varied.minigrid_env, language="fr")
            else:
                assert vobs[MISSION] == variant.apply(obs[MISSION])
                assert vinfo["sentences"] == [variant.apply(s) for s in info["sentences"]]
            assert vobs[OBSERVATION] == ", ".join(vinfo["sentences"])
            assert vobs in varied.observation_space
            words = set(obs[MISSION].replace(",", "").split())
            should_change = name == "french" or bool(words & set(variant.substitutions))
            assert (vobs[MISSION] != obs[MISSION]) == should_change
            observations_changed += vobs[OBSERVATION] != obs[OBSERVATION]
            obs, *_, info = plain.step(action)
            vobs, *_, vinfo = varied.step(action)
    changed_actions = varied.admissible_actions != plain.admissible_actions
    assert changed_actions == (variant.action_names is not None)
    if variant.substitutions:
        assert observations_changed > 0  # objects come into view at some point


def test_custom_substitutions_reach_every_text() -> None:
    env = make_env(
        level="GoToLocal",
        history_length=1,
        substitutions={"ball": "sphere", "box": "crate", "key": "token", "toggle": "activate"},
    )
    obs, _ = env.reset(seed=2)
    assert "activate" in obs[ADMISSIBLE_ACTIONS]
    assert any(word in obs[MISSION] for word in ("sphere", "crate", "token"))
    for word in (" ball", " box", " key"):
        assert word not in obs[MISSION] and word not in obs[OBSERVATION]


def test_wraps_a_minigrid_instance_and_silences_it(capsys: pytest.CaptureFixture[str]) -> None:
    env = BabyAITextEnv(gym.make("BabyAI-PutNextLocal-v0"))
    assert env.level_name == "PutNextLocal"
    for seed in range(60):
        obs, _ = env.reset(seed=seed)
        assert obs[MISSION].startswith("put ")
    env.step(2)
    assert capsys.readouterr().out == ""


def test_render_modes() -> None:
    env = BabyAITextEnv("GoToLocal", render_mode="ansi")
    obs, _ = env.reset(seed=0)
    assert env.render() == f"{obs[MISSION]}\n{obs[OBSERVATION]}"
    frame = BabyAITextEnv("GoToLocal", render_mode="rgb_array")
    frame.reset(seed=0)
    image = frame.render()
    assert isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
    assert BabyAITextEnv("GoToLocal").render() is None


def test_numpy_integer_actions_are_accepted() -> None:
    env = BabyAITextEnv("GoToLocal")
    env.reset(seed=0)
    env.step(np.int64(1))
    env.step(np.array(2))
    assert env.minigrid_env.step_count == 2
