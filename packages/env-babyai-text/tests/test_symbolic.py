"""Symbolic observations: MiniGrid's own grid, the same episodes, a vocabulary for every mission."""

from __future__ import annotations

import logging

import gymnasium as gym
import numpy as np
import pydantic
import pytest
from gymnasium import spaces
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from glam_env import (
    MAX_MISSION_WORDS,
    MISSION_VOCABULARY,
    PAD_ID,
    UNK_ID,
    VARIANT_NAMES,
    BabyAITextConfig,
    ExpertAgent,
    SymbolicObservationWrapper,
    decode_mission,
    encode_mission,
    env_id,
    get_variant,
    list_levels,
    make_env,
    make_vector_env,
    tokenize_mission,
    translate_mission,
)
from glam_env.describer_lexicon import FRENCH
from glam_env.levels import PAPER_LEVELS, build_level, minigrid_level_ids
from glam_env.symbolic import DIRECTION, IMAGE, IMAGE_HISTORY, MISSION_IDS, WORD_IDS

SYMBOLIC_KEYS = {IMAGE, DIRECTION, MISSION_IDS}


def _reference_env(level: str) -> gym.Env:
    """The plain MiniGrid env of a level: MiniGrid's registered id, or our level class."""
    if level in PAPER_LEVELS:
        return build_level(level)
    return gym.make(minigrid_level_ids()[level])


@pytest.mark.parametrize("level", ["GoToLocal", "MixedTrainLocal", "PutNextLocal", "BossLevel"])
def test_grid_equals_minigrids_own_observation(level: str) -> None:
    env = make_env(level=level, observation="symbolic", history_length=1)
    to_minigrid = env.unwrapped.minigrid_actions
    rng = np.random.default_rng(0)
    for seed in range(3):
        reference = _reference_env(level)
        obs, _ = env.reset(seed=seed)
        expected, _ = reference.reset(seed=seed)
        for _ in range(40):
            assert obs[IMAGE].dtype == np.uint8 and obs[IMAGE].shape == (7, 7, 3)
            np.testing.assert_array_equal(obs[IMAGE], expected["image"])
            assert obs[DIRECTION] == expected["direction"]
            assert obs in env.observation_space
            action = int(rng.integers(env.action_space.n))
            obs, reward, terminated, truncated, _ = env.step(action)
            expected, ref_reward, ref_terminated, ref_truncated, _ = reference.step(
                to_minigrid[action]
            )
            assert (reward, terminated, truncated) == (ref_reward, ref_terminated, ref_truncated)
            if terminated or truncated:
                break


def test_same_episodes_as_the_text_env() -> None:
    """Same seeds and actions: same rewards, ends and success; the expert still works."""
    text = make_env(level="MixedTrainLocal", history_length=1)
    symbolic = make_env(level="MixedTrainLocal", observation="symbolic", history_length=1)
    assert symbolic.action_space == text.action_space
    for seed in range(3):
        text_obs, _ = text.reset(seed=seed)
        obs, info = symbolic.reset(seed=seed)
        assert info["mission"] == text_obs["mission"]
        assert decode_mission(obs[MISSION_IDS]) == " ".join(tokenize_mission(info["mission"]))
        expert, done = ExpertAgent(symbolic), False
        while not done:
            action = expert.act()
            _, text_reward, text_term, text_trunc, text_info = text.step(action)
            obs, reward, terminated, truncated, info = symbolic.step(action)
            assert (reward, terminated, truncated) == (text_reward, text_term, text_trunc)
            done = terminated or truncated
        assert info["success"] is text_info["success"] is True


def test_symbolic_space_is_a_dict_of_box_and_discrete() -> None:
    env = make_env(level="GoToLocal", observation="symbolic", history_length=1)
    space = env.observation_space
    assert isinstance(space, spaces.Dict) and set(space.spaces) == SYMBOLIC_KEYS
    assert isinstance(space[DIRECTION], spaces.Discrete) and space[DIRECTION].n == 4
    assert isinstance(space[IMAGE], spaces.Box) and space[IMAGE].shape == (7, 7, 3)
    # Bounded by MiniGrid's index ranges: categorical codes, not pixels.
    assert space[IMAGE].high.max() == 10
    assert isinstance(space[MISSION_IDS], spaces.Box)
    assert space[MISSION_IDS].shape == (MAX_MISSION_WORDS,)
    assert space[MISSION_IDS].high.max() == len(MISSION_VOCABULARY) - 1


def test_history_stacks_the_last_grids_oldest_first() -> None:
    env = make_env(level="GoToLocal", observation="symbolic", history_length=3)
    assert env.observation_space[IMAGE_HISTORY].shape == (3, 7, 7, 3)
    first, _ = env.reset(seed=1)
    assert not first[IMAGE_HISTORY][:2].any()  # missing frames are zeros
    np.testing.assert_array_equal(first[IMAGE_HISTORY][-1], first[IMAGE])
    images = [first[IMAGE]]
    for action in (0, 0, 1):
        obs, *_ = env.step(action)
        images.append(obs[IMAGE])
        assert obs in env.observation_space
    np.testing.assert_array_equal(obs[IMAGE_HISTORY], np.stack(images[-3:]))
    again, _ = env.reset(seed=2)
    assert not again[IMAGE_HISTORY][:2].any()  # cleared at reset


def test_both_keeps_the_text_observation_and_its_history() -> None:
    env = make_env(level="GoToLocal", observation="both", history_length=2)
    obs, info = env.reset(seed=0)
    assert SYMBOLIC_KEYS | {IMAGE_HISTORY, "mission", "observation_history"} <= set(obs)
    assert isinstance(obs["mission"], str) and "mission" not in info
    assert decode_mission(obs[MISSION_IDS]) == obs["mission"]
    assert obs in env.observation_space


def test_default_observation_is_text_unchanged() -> None:
    assert BabyAITextConfig().observation == "text"
    obs, _ = make_env(level="GoToLocal").reset(seed=0)
    assert not SYMBOLIC_KEYS & set(obs)


def test_bad_observation_value_names_the_field_and_the_choices() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        BabyAITextConfig(observation="pixels")
    message = str(caught.value)
    assert "observation" in message
    assert "'text', 'symbolic' or 'both'" in message
    assert BabyAITextConfig.from_dict({"observation": "symbolic"}).observation == "symbolic"


def test_registered_ids_accept_the_option() -> None:
    env = gym.make(env_id("GoToLocal"), observation="symbolic", history_length=1)
    obs, _ = env.reset(seed=0)
    assert set(obs) == SYMBOLIC_KEYS


# ---------------------------------------------------------------- vocabulary


def test_vocabulary_layout() -> None:
    assert MISSION_VOCABULARY[PAD_ID] == "<pad>" and MISSION_VOCABULARY[UNK_ID] == "<unk>"
    assert len(set(MISSION_VOCABULARY)) == len(MISSION_VOCABULARY)
    assert all(word == word.lower() for word in MISSION_VOCABULARY)


def _unknown(mission: str) -> set[str]:
    return {word for word in tokenize_mission(mission) if word not in WORD_IDS}


def test_vocabulary_covers_every_level() -> None:
    """A sample of missions of every registered level, in English and in French."""
    levels = list_levels()
    assert len(levels) > 50
    for level in levels:
        env = make_env(level=level, history_length=1)
        for seed in range(3):
            obs, _ = env.reset(seed=seed)
            mission = obs["mission"]
            assert not _unknown(mission), (level, mission)
            if env.unwrapped.language == "en":
                french = translate_mission(mission)
                assert not _unknown(french), (level, french)
            assert len(tokenize_mission(mission)) <= MAX_MISSION_WORDS


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_vocabulary_covers_every_variant(variant: str) -> None:
    env = make_env(level="MixedTrainLocal", variant=variant, history_length=1)
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        assert not _unknown(obs["mission"]), (variant, obs["mission"])
    for target in get_variant(variant).substitutions.values():
        if variant != "french":  # its substitutions rename no-op actions, never in a mission
            assert not _unknown(target), (variant, target)


def test_vocabulary_covers_every_word_french_missions_use() -> None:
    words = [
        *(FRENCH.types[kind] for kind in ("key", "ball", "box", "door")),
        *FRENCH.colors.values(),
        *FRENCH.masculine_colors.values(),
    ]
    assert not _unknown(" ".join(words))
    assert not _unknown(translate_mission("go to a blue object behind you"))


def test_longest_possible_mission_fits() -> None:
    """Two "and"-joined put-next clauses with locations on both sides of "after you"."""
    put = "put a red ball in front of you next to the green key in front of you"
    clause = f"{put} and {put}"
    mission = f"{clause} after you {clause}"
    for text in (mission, translate_mission(mission)):
        assert len(tokenize_mission(text)) <= MAX_MISSION_WORDS
        assert not _unknown(text)
    assert len(tokenize_mission(mission)) == 72


def test_word_ids_round_trip() -> None:
    mission = "pick up the red key, then go to a blue ball"
    ids = encode_mission(mission)
    assert ids.dtype == np.int64 and ids.shape == (MAX_MISSION_WORDS,)
    assert (ids[11:] == PAD_ID).all() and (ids[:11] > UNK_ID).all()
    assert decode_mission(ids) == "pick up the red key then go to a blue ball"
    assert decode_mission(encode_mission(decode_mission(ids))) == decode_mission(ids)
    assert tokenize_mission("Va à l'objet, puis") == ["va", "à", "l", "objet", "puis"]
    assert decode_mission(encode_mission("go to the sphere")) == "go to the <unk>"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        decode_mission([len(MISSION_VOCABULARY)])


def test_unknown_words_and_long_missions() -> None:
    env = make_env(level="GoToRedBall", substitutions={"ball": "sphere"}, observation="symbolic")
    obs, info = env.reset(seed=3)
    assert info["mission"] == "go to the red sphere"
    assert decode_mission(obs[MISSION_IDS]) == "go to the red <unk>"
    with pytest.raises(ValueError, match="more than max_words=4"):
        encode_mission("go to the red ball", 4, truncate=False)
    np.testing.assert_array_equal(
        encode_mission("go to the red ball", 2), encode_mission("go to", 2)
    )


def test_long_mission_is_truncated_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    env = SymbolicObservationWrapper(make_env(level="GoToRedBall", history_length=1), max_words=3)
    with caplog.at_level(logging.WARNING, logger="glam_env.symbolic"):
        obs, _ = env.reset(seed=0)
    assert decode_mission(obs[MISSION_IDS]) == "go to the"
    assert "truncated to max_words=3" in caplog.text


def test_wrapper_refuses_other_envs() -> None:
    with pytest.raises(TypeError, match="needs a BabyAI-Text env"):
        SymbolicObservationWrapper(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="mode must be"):
        SymbolicObservationWrapper(make_env(level="GoToLocal"), mode="text")  # type: ignore[arg-type]


# ---------------------------------------------------------------- vector envs


@pytest.mark.parametrize("asynchronous", [False, True])
def test_vector_env(asynchronous: bool) -> None:
    config = BabyAITextConfig(level="GoToLocal", observation="symbolic", history_length=2)
    envs = make_vector_env(config, 2, asynchronous=asynchronous)
    try:
        assert isinstance(envs, AsyncVectorEnv if asynchronous else SyncVectorEnv)
        obs, _ = envs.reset(seed=5)
        assert obs[IMAGE].shape == (2, 7, 7, 3) and obs[IMAGE].dtype == np.uint8
        assert obs[IMAGE_HISTORY].shape == (2, 2, 7, 7, 3)
        assert obs[DIRECTION].shape == (2,) and obs[MISSION_IDS].shape == (2, MAX_MISSION_WORDS)
        for i in range(2):
            single, _ = make_env(config).reset(seed=5 + i)
            np.testing.assert_array_equal(obs[IMAGE][i], single[IMAGE])
            np.testing.assert_array_equal(obs[MISSION_IDS][i], single[MISSION_IDS])
        obs, reward, *_ = envs.step(np.array([2, 1]))
        assert reward.shape == (2,) and obs in envs.observation_space
    finally:
        envs.close()


def test_same_step_autoreset_gives_symbolic_final_observations() -> None:
    envs = make_vector_env(
        BabyAITextConfig(level="GoToLocal", observation="symbolic", history_length=1, max_steps=2),
        2,
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    envs.reset(seed=0)
    envs.step(np.array([0, 1]))
    _, _, _, truncated, info = envs.step(np.array([0, 1]))
    assert truncated.all()
    assert set(info["final_obs"][0]) == SYMBOLIC_KEYS
    assert not info["final_info"]["success"].any()
    envs.close()
