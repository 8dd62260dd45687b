"""The paper's one-room BabyAI-Text levels (Mixed train/test and the extra test levels).

Every level here is one generator, :class:`LocalTaskLevel`, configured by the
task families it may draw, and by which color-noun pairs its missions may name:

* families: ``go_to`` and ``pick_up`` (an 8x8 room with ``num_dists + 1`` objects),
  ``put_next`` and the two-object sequences (``num_dists + 2`` objects), and
  ``open`` (two 8x8 rooms joined by a locked door, the key and ``num_dists``
  distractors in the agent's room);
* ``split="train"``: no mission names a held-out pair (yellow box, red key, red
  door, green ball, grey door); locked doors are yellow, green, blue or purple
  and half of the time the instruction omits the color ("open the door");
* ``split="test"``: every color-noun pair a mission names is a held-out one;
  locked doors are red or grey and always named;
* ``split="any"``: no restriction (any pair, any door color, named half of the
  time), as in BabyAI's own levels. A level's ``split`` is a class attribute;
  the ``split`` keyword overrides it for one instance.

How many objects a room holds is declared per family by ``extra_objects`` (added
to ``num_dists``). GoToFrench declares 0 for go to: like the reference's
GoToFrench (a copy of BabyAI's GoToLocal), its ``num_dists`` objects include the
target, 8 in all by default.

Missions say "the X" when X is unique in the grid and "a X" otherwise (MiniGrid's
``ObjDesc`` does this). Unlike the reference, which drew the family once per
process from an unseeded generator, the family is drawn from the level's own
seeded ``np_random`` at every reset, before any rejection sampling (so weights
are exact): the same seed gives the same family, layout and mission.

The two objects of a two-object mission always differ in color or type: the
reference allowed "go to a red ball after you pick up a red ball", which
MiniGrid's verifier accepts in a single step.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np
from minigrid.core.constants import COLOR_NAMES
from minigrid.core.world_object import Ball, Box, Key, WorldObj
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling
from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    BeforeInstr,
    GoToInstr,
    Instr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
    SeqInstr,
)

from glam_env.levels.quiet import QuietRoomGridLevel

#: Color-noun pairs never named by a training mission, always by a test mission.
HELD_OUT_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("yellow", "box"), ("red", "key"), ("red", "door"), ("green", "ball"), ("grey", "door")}
)
#: Colors of the locked door of the ``open`` family, by split.
DOOR_COLORS: dict[str, tuple[str, ...]] = {
    "train": ("yellow", "green", "blue", "purple"),
    "test": ("red", "grey"),
    "any": ("red", "green", "blue", "purple", "yellow", "grey"),
}
#: The values ``split`` may take (see the module doc).
SPLITS: tuple[str, ...] = ("train", "test", "any")

#: Every task family a level of this module can draw.
ALL_FAMILIES: tuple[str, ...] = (
    "go_to",
    "pick_up",
    "open",
    "put_next",
    "pick_up_seq_go_to",
    "pick_up_then_go_to",
    "go_to_after_pick_up",
    "pick_up_seq_pick_up",
)
#: The five families of MixedTrainLocal / MixedTestLocal.
MIXED_FAMILIES: tuple[str, ...] = ALL_FAMILIES[:5]

#: Kinds of object a room holds (doors excepted).
OBJ_KINDS: tuple[str, ...] = ("key", "ball", "box")
_OBJECT_CLASSES: dict[str, type[WorldObj]] = {"key": Key, "ball": Ball, "box": Box}
#: Every (type, color) an object may have.
_KINDS: tuple[tuple[str, str], ...] = tuple(
    (kind, color) for kind in OBJ_KINDS for color in COLOR_NAMES
)
#: Draws of objects and mission before one rejection of the whole episode.
_MAX_MISSION_DRAWS = 10_000
#: Attempts drawn at once.
_BATCH = 32
#: Candidate indices drawn for the second target of two-object missions.
_SECOND_CANDIDATES = 8

#: Objects added to the room on top of ``num_dists``, per family (the paper's Mixed
#: levels: the target of one-object missions, both objects of two-object missions).
EXTRA_OBJECTS: Mapping[str, int] = MappingProxyType(
    {"go_to": 1, "pick_up": 1, "open": 0} | {family: 2 for family in ALL_FAMILIES[3:]}
)
#: Objects a family's mission names (the Mixed levels add exactly those; "open" names a door).
_MISSION_OBJECTS: Mapping[str, int] = EXTRA_OBJECTS


def family_probabilities(
    families: tuple[str, ...], weights: Mapping[str, float] | None
) -> tuple[tuple[str, ...], np.ndarray]:
    """Validate family weights for a level and return (families, probabilities).

    ``None`` means uniform over ``families``. A mapping may name any non-empty
    subset of ``families``; families it leaves out are never drawn.
    """
    if weights is None:
        return families, np.full(len(families), 1.0 / len(families))
    if not weights:
        raise ValueError(f"family_weights is empty; name at least one of: {', '.join(families)}")
    for name, weight in weights.items():
        if name not in families:
            close = difflib.get_close_matches(str(name), families, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"unknown task family {name!r}{hint}; this level's families: {', '.join(families)}"
            )
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"family weight of {name!r} must be finite and >= 0, got {weight}")
    chosen = tuple(name for name in families if weights.get(name, 0.0) > 0)
    if not chosen:
        raise ValueError("family_weights must give a positive weight to at least one family")
    raw = np.array([float(weights[name]) for name in chosen])
    return chosen, raw / raw.sum()


def described_pairs(instr: Instr) -> list[tuple[str | None, str]]:
    """The (color, type) of every object description in an instruction tree."""
    if isinstance(instr, SeqInstr):
        return described_pairs(instr.instr_a) + described_pairs(instr.instr_b)
    if isinstance(instr, PutNextInstr):
        return [(d.color, d.type) for d in (instr.desc_move, instr.desc_fixed)]
    descs = [instr.desc]
    return [(desc.color, desc.type) for desc in descs]


def pair_allowed(kind: tuple[str, str], split: str) -> bool:
    """Whether an object of this (type, color) may be named by a mission of ``split``."""
    if split == "any":
        return True
    held_out = (kind[1], kind[0]) in HELD_OUT_PAIRS
    return held_out if split == "test" else not held_out


def pairs_allowed(pairs: list[tuple[str | None, str]], split: str) -> bool:
    """Whether a mission naming ``pairs`` belongs to ``split`` (see the module doc)."""
    if split == "any":
        return True
    named = [pair for pair in pairs if pair[0] is not None]
    if split == "train":
        return not any(pair in HELD_OUT_PAIRS for pair in named)
    return bool(named) and all(pair in HELD_OUT_PAIRS for pair in pairs)


class LocalTaskLevel(QuietRoomGridLevel):
    """One-room (two for ``open``) BabyAI level drawing a task family at every reset."""

    #: Families this level may draw, in a fixed order (weights refer to them by name).
    families: ClassVar[tuple[str, ...]] = MIXED_FAMILIES
    #: Which color-noun pairs missions may name: "train" (no held-out), "test" (only
    #: held-out) or "any" (no restriction).
    split: Literal["train", "test", "any"] = "train"
    #: Objects added to ``num_dists`` in the room, per family.
    extra_objects: ClassVar[Mapping[str, int]] = EXTRA_OBJECTS
    #: Language the text environment uses for this level unless told otherwise.
    default_language: ClassVar[str] = "en"

    def __init__(
        self,
        family_weights: Mapping[str, float] | None = None,
        num_dists: int = 8,
        room_size: int = 8,
        max_steps: int | None = None,
        split: Literal["train", "test", "any"] | None = None,
        **kwargs: Any,
    ) -> None:
        if int(num_dists) != num_dists or num_dists < 0:
            raise ValueError(f"num_dists must be an integer >= 0, got {num_dists!r}")
        if int(room_size) != room_size or room_size < 5:
            raise ValueError(f"room_size must be an integer >= 5, got {room_size!r}")
        if split is not None:
            if split not in SPLITS:
                raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
            self.split = split
        self.family_names, self.family_probs = family_probabilities(self.families, family_weights)
        for family in self.family_names:
            objects = int(num_dists) + self.extra_objects[family]
            if objects < _MISSION_OBJECTS[family]:
                raise ValueError(
                    f"num_dists={num_dists!r} leaves {objects} object(s) in a {family} room of "
                    f"{type(self).__name__}, whose missions need {_MISSION_OBJECTS[family]}; "
                    f"give num_dists >= {_MISSION_OBJECTS[family] - self.extra_objects[family]}"
                )
        self.num_dists = int(num_dists)
        #: Task family of the current episode (set at every reset).
        self.family: str = self.family_names[0]
        super().__init__(
            room_size=int(room_size), num_rows=1, num_cols=1, max_steps=max_steps, **kwargs
        )

    # -- episode generation -------------------------------------------------------------

    def _prepare_generation(self) -> None:
        """Draw this episode's family from the seeded generator and size the grid for it."""
        index = int(self.np_random.choice(len(self.family_names), p=self.family_probs))
        self.family = self.family_names[index]
        self.num_cols = 2 if self.family == "open" else 1
        self.width = (self.room_size - 1) * self.num_cols + 1
        self.height = self.room_size

    def gen_mission(self) -> None:
        if self.family == "open":
            self._gen_open()
            return
        kinds, instrs = self._draw_mission(self.num_dists + self.extra_objects[self.family])
        self.place_agent(0, 0)
        self._place_objects(0, kinds, away_from_agent=True)
        self.instrs = instrs
        self._check_reachable()

    def _draw_mission(self, count: int) -> tuple[list[tuple[str, str]], Instr]:
        """Draw the room's objects and the mission about them, before placing anything.

        Which pairs a mission may name depends only on the objects' colors and types
        and on the targets, never on positions, so this is rejection-sampled on its
        own (cheap) and positions are drawn once it passes; a later rejection (an
        unreachable object, objects already next to each other) restarts from
        scratch, which keeps the distribution of whole-episode rejection sampling.
        """
        # Attempts are drawn in batches (test missions need dozens of attempts); each
        # holds the objects' kinds, the first target's index and candidates for the second's.
        highs = np.array([len(_KINDS)] * count + [count] * (1 + _SECOND_CANDIDATES))
        batch: list[list[int]] = []
        for _ in range(_MAX_MISSION_DRAWS):
            if not batch:
                batch = self.np_random.integers(0, highs, size=(_BATCH, len(highs))).tolist()
            draw = batch.pop()
            kinds = [_KINDS[value] for value in draw[:count]]
            first = kinds[draw[count]]
            if not pair_allowed(first, self.split):
                continue  # early exit: the full check below would reject it anyway
            if self.family == "go_to":
                instrs: Instr = GoToInstr(ObjDesc(*first))
            elif self.family == "pick_up":
                instrs = PickupInstr(ObjDesc(*first))
            else:
                # The second target: uniform among the objects that look different.
                second = next((kinds[i] for i in draw[count + 1 :] if kinds[i] != first), None)
                if second is None or not pair_allowed(second, self.split):
                    continue
                if self.family == "put_next":
                    instrs = PutNextInstr(ObjDesc(*first), ObjDesc(*second))
                else:
                    instrs = self._sequence(ObjDesc(*first), ObjDesc(*second))
            if pairs_allowed(described_pairs(instrs), self.split):
                return kinds, instrs
        raise RejectSampling(f"no {self.split} mission in {_MAX_MISSION_DRAWS} draws")

    def _sequence(self, first: ObjDesc, second: ObjDesc) -> Instr:
        pick_first = PickupInstr(first)
        if self.family == "pick_up_seq_pick_up":
            then = PickupInstr(second)
            if self._rand_bool():
                return BeforeInstr(pick_first, then)
            return AfterInstr(then, pick_first)
        go_second = GoToInstr(second)
        if self.family == "pick_up_then_go_to":
            return BeforeInstr(pick_first, go_second)
        if self.family == "go_to_after_pick_up":
            return AfterInstr(go_second, pick_first)
        if self._rand_bool():
            return BeforeInstr(pick_first, go_second)
        return AfterInstr(go_second, pick_first)

    def _gen_open(self) -> None:
        locked = self._rand_int(0, 2)
        agent_room = 1 - locked
        color = self._rand_elem(DOOR_COLORS[self.split])
        self.add_door(locked, 0, door_idx=0 if locked == 0 else 2, color=color, locked=True)
        distractors = self.np_random.integers(0, len(_KINDS), size=self.num_dists).tolist()
        kinds = [("key", color)] + [_KINDS[value] for value in distractors]
        self._place_objects(agent_room, kinds, away_from_agent=False)
        self.place_agent(agent_room, 0)
        named = color if self.split == "test" else self._rand_elem([None, color])
        self.instrs = OpenInstr(ObjDesc("door", named))
        self._check_reachable()

    def _place_objects(
        self, room_index: int, kinds: list[tuple[str, str]], *, away_from_agent: bool
    ) -> None:
        """Put objects on distinct free cells of a room, uniformly, with one random draw.

        The same distribution as MiniGrid's one-by-one ``add_object`` (uniform over
        the free cells left, not next to the agent when ``away_from_agent``), at a
        fraction of its cost: generation dominates the cost of a reset.
        """
        room = self.get_room(room_index, 0)
        (left, top), (width, height) = room.top, room.size
        grid = self.grid
        ax, ay = (int(v) for v in self.agent_pos) if away_from_agent else (-9, -9)
        cells = [
            (x, y)
            for x in range(left + 1, left + width - 1)
            for y in range(top + 1, top + height - 1)
            if grid.get(x, y) is None and abs(x - ax) + abs(y - ay) >= 2
        ]
        if len(cells) < len(kinds):
            raise RejectSampling(f"{len(kinds)} objects do not fit in {len(cells)} free cells")
        chosen = self.np_random.choice(len(cells), size=len(kinds), replace=False).tolist()
        for (kind, color), index in zip(kinds, chosen, strict=True):
            obj = _OBJECT_CLASSES[kind](color)
            x, y = cells[index]
            grid.set(x, y, obj)
            obj.init_pos = obj.cur_pos = (x, y)
            room.objs.append(obj)

    def _check_reachable(self) -> None:
        """Reject the episode unless the agent can reach every object without moving any.

        MiniGrid's ``check_objs_reachable`` rule (objects and walls block, doors do
        not), written for speed over the grid's flat cell list.
        """
        grid = self.grid
        width, height, cells = grid.width, grid.height, grid.grid
        start = int(self.agent_pos[0]) + width * int(self.agent_pos[1])
        seen = {start}
        stack = [start]
        while stack:
            index = stack.pop()
            cell = cells[index]
            if cell is not None and cell.type != "door" and index != start:
                continue  # reached, but it blocks the way
            x, y = index % width, index // width
            for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                neighbour = nx + width * ny
                if 0 <= nx < width and 0 <= ny < height and neighbour not in seen:
                    seen.add(neighbour)
                    stack.append(neighbour)
        for index, cell in enumerate(cells):
            if cell is not None and cell.type != "wall" and index not in seen:
                raise RejectSampling(f"unreachable object at {(index % width, index // width)}")


class MixedTrainLocal(LocalTaskLevel):
    """The paper's training level: go to, pick up, open, put next, pick-up/go-to sequences."""

    families = MIXED_FAMILIES
    split = "train"


class MixedTestLocal(LocalTaskLevel):
    """The same families, but every mission names held-out color-noun pairs only."""

    families = MIXED_FAMILIES
    split = "test"


class PickUpSeqPickUpLocal(LocalTaskLevel):
    """New composition: "pick up A, then pick up B" / "pick up A after you pick up B"."""

    families = ("pick_up_seq_pick_up",)


class PickUpSeqGoToLocal(LocalTaskLevel):
    """The training sequences alone: pick up A then go to B, in either phrasing."""

    families = ("pick_up_seq_go_to",)


class PickUpThenGoToLocal(LocalTaskLevel):
    """Only "pick up A, then go to B"."""

    families = ("pick_up_then_go_to",)


class GoToAfterPickUpLocal(LocalTaskLevel):
    """Only "go to B after you pick up A"."""

    families = ("go_to_after_pick_up",)


class GoToFrench(LocalTaskLevel):
    """The paper's French test level: BabyAI's GoToLocal, played in French.

    As the reference's ``Level_GoToFrench`` (babyai/levels/iclr19_levels.py of
    the paper's repository): one 8x8 room, ``num_dists`` objects (8) of any color
    and type, the target one of them, ``max_steps`` 64, and any color-noun pair
    may be named (split "any": nothing is held out, as in GoToLocal, on which the
    paper trained the agent it tested here). The text environment speaks French
    on it unless told otherwise.
    """

    families = ("go_to",)
    split = "any"
    extra_objects = MappingProxyType({"go_to": 0})
    default_language = "fr"
