"""The describer on hand-built grids: every template, rule and ordering of the paper."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import minigrid  # noqa: F401  (registers the BabyAI levels)
import numpy as np
import pytest
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Ball, Box, Door, Key, Wall, WorldObj
from minigrid.minigrid_env import MiniGridEnv

from glam_env.describer import describe, describe_image

AGENT = (7, 10)


class HandBuiltEnv(MiniGridEnv):
    """A 15x15 grid with no outer walls, the agent at (7, 10) looking up.

    Objects are placed by their position relative to the agent: ``dx`` columns
    to the right (negative: left) and ``dy`` rows ahead, so each test reads like
    the sentence it expects.
    """

    def __init__(
        self,
        objects: dict[tuple[int, int], WorldObj],
        agent_dir: int = 3,
        view_size: int = 7,
    ) -> None:
        self._objects = objects
        self._dir = agent_dir
        super().__init__(
            mission_space=MissionSpace(mission_func=lambda: "test"),
            grid_size=15,
            max_steps=10,
            agent_view_size=view_size,
        )

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        for (dx, dy), obj in self._objects.items():
            self.grid.set(AGENT[0] + dx, AGENT[1] - dy, obj)
        self.agent_pos = AGENT
        self.agent_dir = self._dir
        self.mission = "test"


def sentences(
    objects: dict[tuple[int, int], WorldObj],
    language: str = "en",
    carrying: WorldObj | None = None,
) -> list[str]:
    env = HandBuiltEnv(objects)
    obs, _ = env.reset(seed=0)
    if carrying is not None:  # reset() empties the hands after _gen_grid
        env.carrying = carrying
        obs = env.gen_obs()
    result = describe(env, language)
    assert result == describe_image(obs["image"], language)
    return result


def test_empty_view_gives_no_sentence() -> None:
    assert sentences({}) == []


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        ((0, 1), "You see a wall 1 step forward"),
        ((0, 4), "You see a wall 4 steps forward"),
        ((0, 6), "You see a wall 6 steps forward"),
        ((-1, 0), "You see a wall 1 step left"),
        ((-3, 0), "You see a wall 3 steps left"),
        ((1, 0), "You see a wall 1 step right"),
        ((2, 0), "You see a wall 2 steps right"),
    ],
)
def test_wall_templates(position: tuple[int, int], expected: str) -> None:
    assert sentences({position: Wall()}) == [expected]


def test_walls_in_forward_left_right_order_and_only_the_nearest() -> None:
    walls: dict[tuple[int, int], WorldObj] = {
        (2, 0): Wall(),
        (3, 0): Wall(),
        (-2, 0): Wall(),
        (0, 3): Wall(),
    }
    assert sentences(walls) == [
        "You see a wall 3 steps forward",
        "You see a wall 2 steps left",
        "You see a wall 2 steps right",
    ]


def test_walls_off_the_three_lines_are_not_described() -> None:
    assert sentences({(1, 1): Wall(), (-2, 3): Wall(), (3, 6): Wall()}) == []


def test_wall_behind_an_object_is_not_described() -> None:
    ball = Ball("red")
    assert sentences({(0, 1): ball, (0, 3): Wall()}) == ["You see a red ball 1 step forward"]
    key = Key("blue")
    assert sentences({(-1, 0): key, (-2, 0): Wall()}) == ["You see a blue key 1 step left"]
    box = Box("grey")
    assert sentences({(2, 0): box, (3, 0): Wall()}) == ["You see a grey box 2 steps right"]


def test_wall_behind_an_open_door_is_not_described() -> None:
    door = Door("yellow", is_open=True)
    assert sentences({(0, 2): door, (0, 4): Wall()}) == [
        "You see an open yellow door 2 steps forward"
    ]


@pytest.mark.parametrize(
    ("door", "expected"),
    [
        (Door("red", is_open=True), "You see an open red door 2 steps forward"),
        (Door("green"), "You see a closed green door 2 steps forward"),
        (Door("purple", is_locked=True), "You see a locked purple door 2 steps forward"),
    ],
)
def test_doors_in_three_states(door: Door, expected: str) -> None:
    assert sentences({(0, 2): door}) == [expected]


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        ((0, 1), "You see a red ball 1 step forward"),
        ((0, 2), "You see a red ball 2 steps forward"),
        ((-1, 0), "You see a red ball 1 step left"),
        ((-3, 0), "You see a red ball 3 steps left"),
        ((1, 0), "You see a red ball 1 step right"),
        ((3, 0), "You see a red ball 3 steps right"),
        ((-1, 1), "You see a red ball 1 step left and 1 step forward"),
        ((-2, 1), "You see a red ball 2 steps left and 1 step forward"),
        ((-1, 5), "You see a red ball 1 step left and 5 steps forward"),
        ((1, 1), "You see a red ball 1 step right and 1 step forward"),
        ((3, 6), "You see a red ball 3 steps right and 6 steps forward"),
    ],
)
def test_object_positions_singular_and_plural(position: tuple[int, int], expected: str) -> None:
    assert sentences({position: Ball("red")}) == [expected]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (Key("yellow"), "You see a yellow key 1 step forward"),
        (Ball("purple"), "You see a purple ball 1 step forward"),
        (Box("grey"), "You see a grey box 1 step forward"),
    ],
)
def test_object_templates(obj: WorldObj, expected: str) -> None:
    assert sentences({(0, 1): obj}) == [expected]


def test_objects_listed_column_by_column_farthest_row_first() -> None:
    objects: dict[tuple[int, int], WorldObj] = {
        (1, 1): Key("red"),
        (-2, 1): Ball("green"),
        (-2, 4): Box("blue"),
        (0, 3): Door("grey", is_locked=True),
        (1, 5): Ball("yellow"),
        (-3, 0): Key("purple"),
    }
    assert sentences(objects) == [
        "You see a purple key 3 steps left",
        "You see a blue box 2 steps left and 4 steps forward",
        "You see a green ball 2 steps left and 1 step forward",
        "You see a locked grey door 3 steps forward",
        "You see a yellow ball 1 step right and 5 steps forward",
        "You see a red key 1 step right and 1 step forward",
    ]


def test_carried_object_comes_first_and_is_not_seen() -> None:
    objects: dict[tuple[int, int], WorldObj] = {(0, 2): Wall(), (1, 1): Ball("blue")}
    assert sentences(objects, carrying=Key("red")) == [
        "You carry a red key",
        "You see a wall 2 steps forward",
        "You see a blue ball 1 step right and 1 step forward",
    ]
    assert sentences({}, carrying=Box("green")) == ["You carry a green box"]


def test_full_ordering_carry_walls_objects() -> None:
    objects: dict[tuple[int, int], WorldObj] = {
        (0, 5): Wall(),
        (-1, 0): Wall(),
        (3, 0): Wall(),
        (-1, 2): Ball("red"),
        (2, 2): Door("blue", is_open=True),
    }
    assert sentences(objects, carrying=Ball("grey")) == [
        "You carry a grey ball",
        "You see a wall 5 steps forward",
        "You see a wall 1 step left",
        "You see a wall 3 steps right",
        "You see a red ball 1 step left and 2 steps forward",
        "You see an open blue door 2 steps right and 2 steps forward",
    ]


def test_objects_hidden_behind_a_wall_are_not_seen() -> None:
    # A wall row across the view, one gap-less line: nothing beyond it is visible.
    objects: dict[tuple[int, int], WorldObj] = {(dx, 2): Wall() for dx in range(-3, 4)}
    objects[(0, 4)] = Ball("red")
    assert sentences(objects) == ["You see a wall 2 steps forward"]


def test_french_templates() -> None:
    objects: dict[tuple[int, int], WorldObj] = {
        (0, 3): Wall(),
        (-1, 0): Wall(),
        (2, 0): Wall(),
        (-1, 1): Ball("red"),
        (-2, 2): Box("purple"),
        (1, 2): Door("green", is_locked=True),
        (1, 1): Door("grey"),
        (2, 1): Door("yellow", is_open=True),
    }
    assert sentences(objects, language="fr", carrying=Key("blue")) == [
        "Tu portes une clef bleue",
        "Tu vois un mur à 3 pas devant",
        "Tu vois un mur à 1 pas à gauche",
        "Tu vois un mur à 2 pas à droite",
        "Tu vois une boîte violette 2 pas à gauche et 2 pas devant",
        "Tu vois une balle rouge 1 pas à gauche et 1 pas devant",
        "Tu vois une porte verte fermée à clef 1 pas à droite et 2 pas devant",
        "Tu vois une porte grise fermée 1 pas à droite et 1 pas devant",
        "Tu vois une porte jaune ouverte 2 pas à droite et 1 pas devant",
    ]


def test_french_single_axis_positions() -> None:
    assert sentences({(0, 2): Key("yellow")}, language="fr") == [
        "Tu vois une clef jaune 2 pas devant"
    ]
    assert sentences({(-3, 0): Ball("grey")}, language="fr") == [
        "Tu vois une balle grise 3 pas à gauche"
    ]


@pytest.mark.parametrize("agent_dir", [0, 1, 2, 3])
def test_describe_matches_image_for_every_direction(agent_dir: int) -> None:
    objects: dict[tuple[int, int], WorldObj] = {
        (dx, dy): Ball("red") for dx, dy in [(1, 1), (-2, 3), (3, -2), (-1, -1)]
    }
    env = HandBuiltEnv(objects, agent_dir=agent_dir)
    obs, _ = env.reset(seed=0)
    assert describe(env) == describe_image(obs["image"])
    assert len(describe(env)) >= 1


def test_describe_matches_image_on_babyai_episodes() -> None:
    env = gym.make("BabyAI-PutNextLocal-v0")
    rng = np.random.default_rng(0)
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        for _ in range(20):
            for language in ("en", "fr"):
                assert describe(env, language) == describe_image(obs["image"], language)
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(0, 6)))
            if terminated or truncated:
                break
    env.close()


def test_smaller_view_size() -> None:
    env = HandBuiltEnv({(0, 4): Wall(), (-2, 0): Ball("red")}, view_size=5)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (5, 5, 3)
    assert describe(env) == ["You see a wall 4 steps forward", "You see a red ball 2 steps left"]


def test_non_uint8_images_are_accepted() -> None:
    env = HandBuiltEnv({(0, 1): Key("red")})
    obs, _ = env.reset(seed=0)
    assert describe_image(obs["image"].astype(np.int64)) == ["You see a red key 1 step forward"]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: describe_image(np.zeros((7, 7))), ValueError, "shape"),
        (lambda: describe_image(np.zeros((7, 7, 4), dtype=np.uint8)), ValueError, "shape"),
        (lambda: describe_image(np.zeros((7, 7, 3), dtype=np.uint8), "de"), ValueError, "en, fr"),
        (lambda: describe(gym.make("CartPole-v1")), TypeError, "MiniGridEnv"),
        (lambda: describe(HandBuiltEnv({})), RuntimeError, "reset"),
    ],
)
def test_bad_inputs_fail_clearly(call: Callable[[], object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_unknown_cell_encoding_fails_clearly() -> None:
    image = np.ones((7, 7, 3), dtype=np.uint8)
    image[3, 2] = (6, 42, 0)  # a ball of colour index 42
    with pytest.raises(ValueError, match="color=42"):
        describe_image(image)


def test_returns_a_fresh_list_each_call() -> None:
    image = np.ones((7, 7, 3), dtype=np.uint8)
    image[3, 5] = (2, 5, 0)
    first = describe_image(image)
    first.append("mutated")
    assert describe_image(image) == ["You see a wall 1 step forward"]


def test_describe_accepts_a_text_env_and_matches_its_observation() -> None:
    import glam_env

    env = glam_env.BabyAITextEnv("GoToLocal")
    obs, _ = env.reset(seed=3)
    assert ", ".join(glam_env.describe(env)) == obs["observation"]
