"""Word tables of the describer, one per language.

The describer only assembles phrases; every word it may write lives here so that
a new language is one more :class:`Lexicon`, not a change to the algorithm.

English follows the paper's templates word for word. French follows the
reference facts (``Tu portes une {type} {color}``, ``Tu vois un mur à {d} pas
devant``, ``Tu vois une {type} {color} {d} pas à gauche et {d} pas devant``).
Every BabyAI noun is feminine in French (clef, balle, boîte, porte), so the
reference's feminine colours are always correct for them; the extra MiniGrid
types a non-BabyAI grid may hold get their own gender and colour agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

#: Languages the describer speaks.
LANGUAGES: tuple[str, ...] = ("en", "fr")

#: Cell types that are never described as "seen" objects (walls have their own sentences).
UNSEEN = OBJECT_TO_IDX["unseen"]
EMPTY = OBJECT_TO_IDX["empty"]
WALL = OBJECT_TO_IDX["wall"]
DOOR = OBJECT_TO_IDX["door"]


@dataclass(frozen=True)
class Lexicon:
    """Everything language-specific the describer needs.

    ``noun_phrase(type, color, state)`` gives the phrase after the verb
    (``"a red ball"``, ``"an open red door"``); ``distance(dx, dy)`` the
    position part (``"1 step left and 2 steps forward"``).
    """

    language: str
    carry_prefix: str
    see_prefix: str
    wall_template: str  # with {d} and {direction}
    forward: str
    left: str
    right: str
    types: dict[str, str]
    colors: dict[str, str]
    door_states: dict[str, str]
    feminine: frozenset[str] = field(default_factory=frozenset)
    masculine_colors: dict[str, str] = field(default_factory=dict)

    def steps(self, n: int) -> str:
        """``"1 step"`` / ``"2 steps"`` (English); ``"n pas"`` (French, invariable)."""
        if self.language == "fr":
            return f"{n} pas"
        return f"{n} step" if n == 1 else f"{n} steps"

    def distance(self, dx: int, dy: int) -> str:
        """Position of a cell dx columns right (negative: left) and dy rows ahead."""
        joiner = " et " if self.language == "fr" else " and "
        side = self.right if dx > 0 else self.left
        if dx == 0:
            return f"{self.steps(dy)} {self.forward}"
        if dy == 0:
            return f"{self.steps(abs(dx))} {side}"
        return f"{self.steps(abs(dx))} {side}{joiner}{self.steps(dy)} {self.forward}"

    def wall(self, d: int, direction: str) -> str:
        """The wall sentence for a wall d cells away along one straight line."""
        return self.wall_template.format(
            d=d, steps=self.steps(d), direction=getattr(self, direction)
        )

    def noun_phrase(self, type_name: str, color_name: str, state_name: str) -> str:
        """``a red ball`` / ``an open red door`` / ``une porte rouge ouverte``."""
        noun = self.types[type_name]
        if self.language == "fr":
            feminine = type_name in self.feminine
            color = self.colors[color_name] if feminine else self.masculine_colors[color_name]
            article = "une" if feminine else "un"
            if type_name == "door":
                return f"{article} {noun} {color} {self.door_states[state_name]}"
            return f"{article} {noun} {color}"
        color = self.colors[color_name]
        if type_name == "door":
            state = self.door_states[state_name]
            article = "an" if state[0] in "aeiou" else "a"
            return f"{article} {state} {color} {noun}"
        article = "an" if color[0] in "aeiou" else "a"
        return f"{article} {color} {noun}"


_ENGLISH_TYPES = {name: name for name in OBJECT_TO_IDX}

ENGLISH = Lexicon(
    language="en",
    carry_prefix="You carry ",
    see_prefix="You see ",
    wall_template="You see a wall {steps} {direction}",
    forward="forward",
    left="left",
    right="right",
    types=_ENGLISH_TYPES,
    colors={name: name for name in COLOR_TO_IDX},
    door_states={name: name for name in STATE_TO_IDX},
)

FRENCH = Lexicon(
    language="fr",
    carry_prefix="Tu portes ",
    see_prefix="Tu vois ",
    wall_template="Tu vois un mur à {steps} {direction}",
    forward="devant",
    left="à gauche",
    right="à droite",
    types={
        "key": "clef",
        "ball": "balle",
        "box": "boîte",
        "door": "porte",
        "goal": "cible",
        "lava": "lave",
        "floor": "dalle",
        "agent": "agent",
        "wall": "mur",
        "empty": "case vide",
        "unseen": "case cachée",
    },
    colors={
        "red": "rouge",
        "green": "verte",
        "blue": "bleue",
        "purple": "violette",
        "yellow": "jaune",
        "grey": "grise",
    },
    masculine_colors={
        "red": "rouge",
        "green": "vert",
        "blue": "bleu",
        "purple": "violet",
        "yellow": "jaune",
        "grey": "gris",
    },
    door_states={"open": "ouverte", "closed": "fermée", "locked": "fermée à clef"},
    feminine=frozenset({"key", "ball", "box", "door", "goal", "lava", "floor", "empty", "unseen"}),
)

LEXICONS: dict[str, Lexicon] = {"en": ENGLISH, "fr": FRENCH}


def get_lexicon(language: str) -> Lexicon:
    """The lexicon of ``language``; a clear error for a language the describer lacks."""
    try:
        return LEXICONS[language]
    except KeyError:
        raise ValueError(
            f"unknown describer language {language!r}; allowed: {', '.join(LANGUAGES)}"
        ) from None
