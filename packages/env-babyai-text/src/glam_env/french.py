"""French missions and action names (the paper's French generalization test).

The reference code's French evaluation crashed; here every mission BabyAI's
verifier can write (``surface()`` of GoTo, PickUp, Open, PutNext, And, Before
and After instructions, with "the"/"a", optional colour, "object", and
location phrases) is parsed and rebuilt in French, so French works for every
Mixed family and every BabyAI level, not only GoTo.

Choices (documented because they are ours, not the paper's):

* verbs mirror the French action names so that a policy can ground them the
  way it grounds "pick up" in English: ``pick up`` -> ``attrape`` (action
  ``attraper``), ``go to`` -> ``va à``, ``open`` -> ``ouvre``,
  ``put X next to Y`` -> ``pose X à côté de Y``;
* sequences: ``A, then B`` -> ``A, puis B``; ``A after you B`` ->
  ``A après avoir <participle> B`` (``après être allé à`` for go to);
  ``A and B`` -> ``A et B``;
* nouns and colours are the describer's (clef, balle, boîte, porte; feminine
  colours), articles agree (``la``/``une``, ``l'objet``/``un objet``) and
  contract after ``à``/``de`` (``à l'objet``, ``d'une balle``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from glam_env.describer_lexicon import FRENCH

__all__ = ["FRENCH_ACTION_NAMES", "translate_mission"]

#: The paper's six actions in French, in MiniGrid's order.
FRENCH_ACTION_NAMES: tuple[str, ...] = (
    "tourner à gauche",
    "tourner à droite",
    "aller tout droit",
    "attraper",
    "lâcher",
    "basculer",
)

_COLORS = "red|green|blue|purple|yellow|grey"
_TYPES = "key|ball|box|door|object"
_LOCATIONS = {
    "in front of you": "devant toi",
    "behind you": "derrière toi",
    "on your left": "à ta gauche",
    "on your right": "à ta droite",
}
_DESC = (
    rf"(?P<det{{n}}>the|a) (?:(?P<color{{n}}>{_COLORS}) )?(?P<type{{n}}>{_TYPES})"
    rf"(?: (?P<loc{{n}}>{'|'.join(_LOCATIONS)}))?"
)
_ACTIONS = {
    "go to": re.compile(rf"go to {_DESC.format(n=1)}"),
    "pick up": re.compile(rf"pick up {_DESC.format(n=1)}"),
    "open": re.compile(rf"open {_DESC.format(n=1)}"),
    "put": re.compile(rf"put {_DESC.format(n=1)} next to {_DESC.format(n=2)}"),
}
# Imperative and past forms (after "après") of each action's verb.
_VERBS = {
    "go to": ("va", "être allé", "à"),
    "pick up": ("attrape", "avoir attrapé", ""),
    "open": ("ouvre", "avoir ouvert", ""),
    "put": ("pose", "avoir posé", ""),
}
_FEMININE_NOUNS = {"key", "ball", "box", "door"}
_FORMS = (
    "go to/pick up/open DESC, put DESC next to DESC, joined by ' and ', "
    "', then ' or ' after you ', where DESC is 'the|a [color] key|ball|box|door|object "
    "[in front of you|behind you|on your left|on your right]'"
)


def _noun_phrase(det: str, color: str | None, kind: str, loc: str | None) -> str:
    """``the red ball`` -> ``la balle rouge``; ``a object`` -> ``un objet``."""
    feminine = kind in _FEMININE_NOUNS
    noun = FRENCH.types[kind] if kind != "object" else "objet"
    if det == "the":
        article = "l'" if noun[0] in "aeiouy" else ("la " if feminine else "le ")
    else:
        article = "une " if feminine else "un "
    words = [article + noun]
    if color is not None:
        words.append(FRENCH.colors[color] if feminine else FRENCH.masculine_colors[color])
    if loc is not None:
        words.append(_LOCATIONS[loc])
    return " ".join(words)


def _with_preposition(preposition: str, phrase: str) -> str:
    """Contract ``de``/``à`` with the article: ``d'une``, ``du``, ``au``, ``à l'``."""
    if preposition == "de":
        if phrase.startswith(("une ", "un ")):
            return "d'" + phrase
        if phrase.startswith("le "):
            return "du " + phrase[3:]
        return "de " + phrase
    if phrase.startswith("le "):
        return "au " + phrase[3:]
    return "à " + phrase


def _description(match: re.Match[str], n: int) -> str:
    return _noun_phrase(
        match.group(f"det{n}"),
        match.group(f"color{n}"),
        match.group(f"type{n}"),
        match.group(f"loc{n}"),
    )


def _action(text: str, past: bool, mission: str) -> str:
    """One action clause, as an imperative or (after ``après``) a past infinitive."""
    for name, pattern in _ACTIONS.items():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        imperative, past_form, preposition = _VERBS[name]
        verb = past_form if past else imperative
        obj = _description(match, 1)
        if preposition:
            obj = _with_preposition(preposition, obj)
        if name == "put":
            return f"{verb} {obj} à côté {_with_preposition('de', _description(match, 2))}"
        return f"{verb} {obj}"
    raise ValueError(
        f"cannot translate mission {mission!r}: unknown form {text!r}; known forms: {_FORMS}"
    )


def _conjunction(text: str, past: bool, mission: str) -> str:
    """``A and B`` (BabyAI's AndInstr) -> ``A et B``."""
    return " et ".join(_action(part, past, mission) for part in text.split(" and "))


@lru_cache(maxsize=4096)
def translate_mission(mission: str) -> str:
    """Translate any BabyAI/Mixed mission into French.

    ``"go to the red ball"`` -> ``"va à la balle rouge"``;
    ``"pick up a blue key, then go to the grey box"`` ->
    ``"attrape une clef bleue, puis va à la boîte grise"``;
    ``"go to the grey box after you pick up a blue key"`` ->
    ``"va à la boîte grise après avoir attrapé une clef bleue"``.
    A mission of any other form raises ``ValueError`` naming it.
    """
    text = " ".join(mission.strip().split())
    if ", then " in text:
        first, _, second = text.partition(", then ")
        return f"{_conjunction(first, False, mission)}, puis {_conjunction(second, False, mission)}"
    if " after you " in text:
        first, _, second = text.partition(" after you ")
        return f"{_conjunction(first, False, mission)} après {_conjunction(second, True, mission)}"
    return _conjunction(text, False, mission)
