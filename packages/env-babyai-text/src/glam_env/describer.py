"""Turn a MiniGrid agent's partial view into the paper's sentences.

The text environment calls :func:`describe_image` on every step, on the
encoded view the raw MiniGrid env already computed, so describing must cost
little next to a MiniGrid step. Hence the design: the image is read once as
bytes, and every sentence is a string looked up in per-(language, view size)
tables built the first time they are needed; nothing is formatted per step.

Rules (see the reference facts, section 1), in the agent's view frame where
the agent stands at the bottom middle cell looking "up":

1. ``You carry a {color} {type}`` when the agent's own cell holds an object;
2. walls on three straight lines, forward then left then right: walk outward,
   skip unseen and empty cells, stop at the first other cell, and say
   ``You see a wall {d} step(s) {direction}`` only if that cell is a wall;
3. every other seen object or door, column by column from left to right and,
   within a column, from the farthest row to the nearest:
   ``You see a red ball 1 step left and 2 steps forward``,
   ``You see an open red door 2 steps forward``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, STATE_TO_IDX
from minigrid.minigrid_env import MiniGridEnv

from glam_env.describer_lexicon import EMPTY, WALL, Lexicon, get_lexicon

__all__ = ["describe", "describe_image"]

_IDX_TO_STATE = {index: name for name, index in STATE_TO_IDX.items()}
_NUM_COLORS = max(IDX_TO_COLOR) + 1
_NUM_STATES = max(_IDX_TO_STATE) + 1
_NUM_TYPES = max(IDX_TO_OBJECT) + 1
_NUM_CODES = _NUM_TYPES * _NUM_COLORS * _NUM_STATES


class _Tables:
    """Precomputed sentences for one language and one view size.

    Cells are numbered as in ``image.tobytes()`` of a ``(width, height, 3)``
    array: cell ``(i, j)`` is ``i * height + j``, which is exactly the
    describer's listing order (columns left to right, farthest row first).
    Object sentences are filled lazily in a flat list indexed by
    ``cell * _NUM_CODES + code`` so that an episode only pays for the
    (cell, object) pairs it actually meets.
    """

    def __init__(self, lexicon: Lexicon, width: int, height: int) -> None:
        self.lexicon = lexicon
        self.width = width
        self.height = height
        self.agent_x = width // 2
        self.agent_y = height - 1
        self.agent_cell = self.agent_x * height + self.agent_y
        # Straight lines from the agent, each a list of (cell index, wall sentence).
        forward = [
            (self.agent_x * height + y, lexicon.wall(self.agent_y - y, "forward"))
            for y in range(self.agent_y - 1, -1, -1)
        ]
        left = [
            (x * height + self.agent_y, lexicon.wall(self.agent_x - x, "left"))
            for x in range(self.agent_x - 1, -1, -1)
        ]
        right = [
            (x * height + self.agent_y, lexicon.wall(x - self.agent_x, "right"))
            for x in range(self.agent_x + 1, width)
        ]
        self.wall_lines: tuple[tuple[tuple[int, str], ...], ...] = (
            tuple(forward),
            tuple(left),
            tuple(right),
        )
        self.distances = [
            lexicon.distance(i - self.agent_x, self.agent_y - j)
            for i in range(width)
            for j in range(height)
        ]
        self.seen: list[str | None] = [None] * (width * height * _NUM_CODES)
        self.carried: list[str | None] = [None] * _NUM_CODES

    def _phrase(self, type_idx: int, color_idx: int, state_idx: int) -> str:
        try:
            type_name = IDX_TO_OBJECT[type_idx]
            color_name = IDX_TO_COLOR[color_idx]
            state_name = _IDX_TO_STATE[state_idx]
        except KeyError:
            raise ValueError(
                f"cannot describe cell encoding (type={type_idx}, color={color_idx}, "
                f"state={state_idx}): not a MiniGrid object/color/state index"
            ) from None
        return self.lexicon.noun_phrase(type_name, color_name, state_name)

    def seen_sentence(self, cell: int, type_idx: int, color_idx: int, state_idx: int) -> str:
        """The sentence for an object at ``cell`` (built once, then looked up)."""
        if color_idx >= _NUM_COLORS or state_idx >= _NUM_STATES or type_idx >= _NUM_TYPES:
            self._phrase(type_idx, color_idx, state_idx)  # raises the clear error
        key = cell * _NUM_CODES + (type_idx * _NUM_COLORS + color_idx) * _NUM_STATES + state_idx
        sentence = self.seen[key]
        if sentence is None:
            phrase = self._phrase(type_idx, color_idx, state_idx)
            sentence = f"{self.lexicon.see_prefix}{phrase} {self.distances[cell]}"
            self.seen[key] = sentence
        return sentence

    def carried_sentence(self, type_idx: int, color_idx: int, state_idx: int) -> str:
        """``You carry a red key`` (built once, then looked up)."""
        if color_idx >= _NUM_COLORS or state_idx >= _NUM_STATES or type_idx >= _NUM_TYPES:
            self._phrase(type_idx, color_idx, state_idx)
        key = (type_idx * _NUM_COLORS + color_idx) * _NUM_STATES + state_idx
        sentence = self.carried[key]
        if sentence is None:
            phrase = self._phrase(type_idx, color_idx, state_idx)
            sentence = f"{self.lexicon.carry_prefix}{phrase}"
            self.carried[key] = sentence
        return sentence


_TABLES: dict[tuple[str, int, int], _Tables] = {}


def _tables(language: str, width: int, height: int) -> _Tables:
    tables = _TABLES.get((language, width, height))
    if tables is None:
        tables = _Tables(get_lexicon(language), width, height)
        _TABLES[(language, width, height)] = tables
    return tables


def describe_image(image: np.ndarray, language: str = "en") -> list[str]:
    """Sentences for an encoded egocentric view (MiniGrid's ``obs["image"]``).

    ``image`` has shape ``(width, height, 3)`` (7x7x3 by default), indexed
    ``image[column, row]``, with unseen cells encoded as type 0 and the
    agent's own cell (bottom middle) holding the carried object, as MiniGrid's
    ``gen_obs`` produces it. Returns a new list of shared, immutable strings.
    """
    shape = getattr(image, "shape", None)
    if shape is None or len(shape) != 3 or shape[2] != 3 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(
            "describe_image expects an encoded MiniGrid view of shape (width, height, 3), "
            f"got shape {shape}"
        )
    tables = _TABLES.get((language, shape[0], shape[1])) or _tables(language, shape[0], shape[1])
    if image.dtype != np.uint8:
        image = image.astype(np.uint8)
    data = image.tobytes()
    types = data[0::3]
    sentences: list[str] = []

    agent = tables.agent_cell
    carried = types[agent]
    if carried > EMPTY:
        base = 3 * agent
        sentences.append(tables.carried_sentence(carried, data[base + 1], data[base + 2]))

    for line in tables.wall_lines:
        for cell, wall_sentence in line:
            kind = types[cell]
            if kind <= EMPTY:
                continue
            if kind == WALL:
                sentences.append(wall_sentence)
            break

    seen_sentence = tables.seen_sentence
    for cell, kind in enumerate(types):
        if kind > WALL and cell != agent:
            base = 3 * cell
            sentences.append(seen_sentence(cell, kind, data[base + 1], data[base + 2]))
    return sentences


def describe(env: Any, language: str = "en") -> list[str]:
    """Sentences for the current partial view of any MiniGrid env (wrappers unwrapped).

    Uses the env's own observation generation (``gen_obs``), so the agent's
    view size, visibility (walls block sight) and carried object are exactly
    those the agent gets.
    """
    base = getattr(env, "unwrapped", env)
    # A text env (BabyAITextEnv) is not a MiniGridEnv itself: describe the one it wraps.
    base = getattr(base, "minigrid_env", base)
    base = getattr(base, "unwrapped", base)
    if not isinstance(base, MiniGridEnv):
        raise TypeError(
            f"describe expects a MiniGridEnv or a wrapper of one, got {type(base).__name__}"
        )
    if getattr(base, "grid", None) is None or getattr(base, "agent_pos", None) is None:
        raise RuntimeError("describe needs a reset environment: call env.reset() first")
    return describe_image(base.gen_obs()["image"], language)
