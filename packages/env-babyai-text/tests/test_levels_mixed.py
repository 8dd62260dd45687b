"""The paper's levels: families, held-out pairs, door colors, seeding, weights, silence."""

from __future__ import annotations

import collections
import re
from typing import Any

import pytest
from minigrid.envs.babyai.core.verifier import ObjDesc

from glam_env import BabyAITextEnv
from glam_env.levels import DOOR_COLORS, HELD_OUT_PAIRS, MIXED_FAMILIES, build_level
from glam_env.levels.local import SPLITS, described_pairs

NUM_RESETS = 2000
HELD_OUT_TEXT = ("yellow box", "red key", "red door", "green ball", "grey door")


def _objects(env: Any) -> list[Any]:
    return [
        cell for cell in env.grid.grid if cell is not None and cell.type in ("key", "ball", "box")
    ]


def _sample(level: str, resets: int = NUM_RESETS) -> list[dict[str, Any]]:
    env = build_level(level)
    episodes = []
    for seed in range(resets):
        env.reset(seed=seed)
        descs = []

        def collect(instr: Any, descs: list[ObjDesc] = descs) -> None:
            for attr in ("instr_a", "instr_b"):
                if hasattr(instr, attr):
                    collect(getattr(instr, attr))
            for attr in ("desc", "desc_move", "desc_fixed"):
                if hasattr(instr, attr):
                    descs.append(getattr(instr, attr))

        collect(env.instrs)
        door = next(
            (cell for cell in env.grid.grid if cell is not None and cell.type == "door"), None
        )
        episodes.append(
            {
                "family": env.family,
                "mission": env.mission,
                "pairs": described_pairs(env.instrs),
                # (text said "the", number of matching objects) for every description
                "determiners": [
                    (
                        f"the {d.color + ' ' if d.color else ''}{d.type}" in env.mission,
                        len(d.obj_set),
                    )
                    for d in descs
                ],
                "objects": len(_objects(env)),
                "width": env.width,
                "max_steps": env.max_steps,
                "door": (door.color, door.is_locked) if door is not None else None,
            }
        )
    return episodes


@pytest.fixture(scope="module")
def train() -> list[dict[str, Any]]:
    return _sample("MixedTrainLocal")


@pytest.fixture(scope="module")
def test_split() -> list[dict[str, Any]]:
    return _sample("MixedTestLocal")


def test_train_never_names_a_held_out_pair(train: list[dict[str, Any]]) -> None:
    for episode in train:
        assert not any(text in episode["mission"] for text in HELD_OUT_TEXT), episode["mission"]
        assert not set(episode["pairs"]) & HELD_OUT_PAIRS


def test_test_names_only_held_out_pairs(test_split: list[dict[str, Any]]) -> None:
    for episode in test_split:
        assert any(text in episode["mission"] for text in HELD_OUT_TEXT), episode["mission"]
        assert all(pair in HELD_OUT_PAIRS for pair in episode["pairs"]), episode["mission"]


@pytest.mark.parametrize("split", ["train", "test_split"])
def test_every_family_appears_uniformly(split: str, request: pytest.FixtureRequest) -> None:
    episodes = request.getfixturevalue(split)
    counts = collections.Counter(episode["family"] for episode in episodes)
    assert set(counts) == set(MIXED_FAMILIES)
    expected = NUM_RESETS / len(MIXED_FAMILIES)  # 400, binomial sd ~18
    for family, count in counts.items():
        assert abs(count - expected) < 80, (family, count)


@pytest.mark.parametrize("split", ["train", "test_split"])
def test_rooms_distractors_and_max_steps(split: str, request: pytest.FixtureRequest) -> None:
    for episode in request.getfixturevalue(split):
        family = episode["family"]
        if family == "open":
            assert episode["width"] == 15  # two 8x8 rooms sharing a wall
            assert episode["objects"] == 9  # the key and 8 distractors
            assert episode["max_steps"] == 128
        else:
            assert episode["width"] == 8
            extra = 1 if family in ("go_to", "pick_up") else 2
            assert episode["objects"] == 8 + extra
            assert episode["max_steps"] == (64 if extra == 1 else 128)


@pytest.mark.parametrize("split", ["train", "test_split"])
def test_determiner_says_whether_the_object_is_unique(
    split: str, request: pytest.FixtureRequest
) -> None:
    for episode in request.getfixturevalue(split):
        for said_the, matches in episode["determiners"]:
            assert matches >= 1
            assert said_the == (matches == 1), episode["mission"]


def test_locked_door_colors(train: list[dict[str, Any]], test_split: list[dict[str, Any]]) -> None:
    unnamed = 0
    for split, episodes in (("train", train), ("test", test_split)):
        for episode in episodes:
            if episode["family"] != "open":
                assert episode["door"] is None
                continue
            color, locked = episode["door"]
            assert locked and color in DOOR_COLORS[split]
            named = f"open the {color} door" == episode["mission"]
            assert named or episode["mission"] == "open the door"
            if split == "test":
                assert named
            unnamed += not named
    assert unnamed > 50  # train omits the color about half of the time


def test_sequences_come_in_both_phrasings(train: list[dict[str, Any]]) -> None:
    missions = [e["mission"] for e in train if e["family"] == "pick_up_seq_go_to"]
    then = [m for m in missions if re.fullmatch(r"pick up .+, then go to .+", m)]
    after = [m for m in missions if re.fullmatch(r"go to .+ after you pick up .+", m)]
    assert then and after and len(then) + len(after) == len(missions)


def test_same_seed_same_episode_through_the_text_env() -> None:
    first, second = BabyAITextEnv("MixedTrainLocal"), BabyAITextEnv("MixedTrainLocal")
    second.reset(seed=12345)  # a different history must not matter
    for seed in range(40):
        obs_a, info_a = first.reset(seed=seed)
        obs_b, info_b = second.reset(seed=seed)
        assert obs_a == obs_b
        assert info_a == info_b
        assert info_a["family"] in MIXED_FAMILIES


def test_family_weights_and_subsets() -> None:
    env = build_level("MixedTrainLocal", family_weights={"go_to": 3.0, "open": 1.0})
    counts = collections.Counter()
    for seed in range(400):
        env.reset(seed=seed)
        counts[env.family] += 1
    assert set(counts) == {"go_to", "open"}
    assert 0.68 < counts["go_to"] / 400 < 0.82
    only = build_level("MixedTestLocal", family_weights={"put_next": 1.0, "go_to": 0.0})
    for seed in range(20):
        only.reset(seed=seed)
        assert only.family == "put_next" and only.mission.startswith("put ")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"goto": 1.0}, "did you mean go_to"),
        ({"go_to": -1.0}, ">= 0"),
        ({"go_to": 0.0}, "positive weight"),
        ({}, "empty"),
        ({"pick_up_seq_pick_up": 1.0}, "this level's families"),
    ],
)
def test_bad_family_weights(weights: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_level("MixedTrainLocal", family_weights=weights)


@pytest.mark.parametrize(
    ("level", "pattern"),
    [
        ("PickUpSeqPickUpLocal", r"pick up .+, then pick up .+|pick up .+ after you pick up .+"),
        ("PickUpSeqGoToLocal", r"pick up .+, then go to .+|go to .+ after you pick up .+"),
        ("PickUpThenGoToLocal", r"pick up .+, then go to .+"),
        ("GoToAfterPickUpLocal", r"go to .+ after you pick up .+"),
    ],
)
def test_extra_test_levels(level: str, pattern: str) -> None:
    env = build_level(level)
    for seed in range(60):
        env.reset(seed=seed)
        assert re.fullmatch(pattern, env.mission), env.mission
        pairs = described_pairs(env.instrs)
        assert not set(pairs) & HELD_OUT_PAIRS
        assert len(set(pairs)) == len(pairs)  # the two objects always differ


@pytest.fixture(scope="module")
def go_to_french() -> list[dict[str, Any]]:
    return _sample("GoToFrench", 600)


def test_go_to_french_is_the_references_go_to_local(go_to_french: list[dict[str, Any]]) -> None:
    """One 8x8 room, 8 objects with the target among them (not 9), 64 steps, go to only."""
    for episode in go_to_french:
        assert episode["family"] == "go_to"
        assert episode["objects"] == 8
        assert episode["width"] == 8 and episode["max_steps"] == 64
        assert episode["door"] is None
        assert re.fullmatch(r"go to (the|a) \w+ (key|ball|box)", episode["mission"])


def test_go_to_french_may_name_any_pair(go_to_french: list[dict[str, Any]]) -> None:
    """Nothing is held out (as in GoToLocal): every kind is named, held-out ones ~1 in 6."""
    named = collections.Counter(episode["pairs"][0] for episode in go_to_french)
    assert len(named) == 18  # 6 colors x 3 types
    held_out = sum(count for pair, count in named.items() if pair in HELD_OUT_PAIRS)
    assert 60 < held_out < 140, held_out  # 3 of 18 kinds: expected 100 of 600


def test_go_to_french_same_seed_same_episode() -> None:
    first, second = build_level("GoToFrench"), build_level("GoToFrench")
    second.reset(seed=99)
    for seed in range(20):
        first.reset(seed=seed)
        second.reset(seed=seed)
        assert first.mission == second.mission
        assert first.grid.encode().tolist() == second.grid.encode().tolist()


def test_go_to_french_counts_the_target_among_num_distractors() -> None:
    env = build_level("GoToFrench", num_distractors=3)
    for seed in range(20):
        env.reset(seed=seed)
        assert len(_objects(env)) == 3
    mixed = build_level("MixedTrainLocal", num_distractors=3, family_weights={"go_to": 1.0})
    mixed.reset(seed=0)
    assert len(_objects(mixed)) == 4  # the Mixed levels add the target
    with pytest.raises(ValueError, match=r"num_dists >= 1"):
        build_level("GoToFrench", num_distractors=0)


def test_split_keyword_overrides_the_levels_split() -> None:
    train = build_level("GoToFrench", split="train")
    for seed in range(150):
        train.reset(seed=seed)
        assert not set(described_pairs(train.instrs)) & HELD_OUT_PAIRS, train.mission
    assert build_level("GoToFrench").split == "any"  # the instance override stays local
    anything = build_level("MixedTrainLocal", split="any", family_weights={"open": 1.0})
    colors = set()
    for seed in range(120):
        anything.reset(seed=seed)
        door = next(cell for cell in anything.grid.grid if cell is not None and cell.type == "door")
        colors.add(door.color)
    assert colors == set(DOOR_COLORS["any"])
    with pytest.raises(ValueError, match="split must be one of train, test, any"):
        build_level("MixedTrainLocal", split="validation")
    assert SPLITS == ("train", "test", "any")


def test_generation_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    for level in ("MixedTestLocal", "GoToLocal", "PutNextLocal"):
        env = BabyAITextEnv(level)
        for seed in range(150):
            env.reset(seed=seed)
    captured = capsys.readouterr()
    assert captured.out == ""
