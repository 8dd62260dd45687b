"""The evaluation suites, and the environment each of their tests is played in.

A test is a level, a text variant of the game (``glam_env`` presets) and a prompt
template of the agent (``glam_policy`` templates), plus, for one test, keyword
arguments of its level. Suites are described in :mod:`glam_apps.evaluation.evaluate`.

The paper's French test (its appendix H4) played GoToFrench, BabyAI's GoToLocal
with French text, with an agent trained on GoToLocal, French goals and the French
prompt. The paper suite's "French" test does the same whatever the base level: a
go-to test is comparable across runs, and go to is one of MixedTrainLocal's
families. When the base level is a paper level that holds color-noun pairs out
(split "train", such as MixedTrainLocal), GoToFrench keeps those pairs out too
(``split="train"``), so that "French" measures the language, not new objects;
otherwise it names any pair, as the reference's GoToFrench does. An agent trained
on a level without go-to missions meets a new task there as well as a new
language: "French (all families)" (the base level's own missions, in French)
is the test that isolates the language for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from glam_apps.config.loading import format_validation_error
from glam_apps.errors import UserError
from glam_env import PAPER_LEVELS, BabyAITextConfig
from glam_env.levels import resolve_level_name

SUITES: tuple[str, ...] = ("paper", "quick", "level")
DEFAULT_BASE_LEVEL = "MixedTrainLocal"


@dataclass(frozen=True)
class TestSpec:
    """One test: a level, a text variant of the game, a prompt template of the agent.

    ``level_kwargs`` (pairs, so that a test stays hashable) are added to the
    level's keyword arguments; the French test uses them to choose GoToFrench's
    color-noun pairs.
    """

    name: str
    level: str
    variant: str | None = None
    template: str | None = None
    level_kwargs: tuple[tuple[str, Any], ...] = ()

    __test__ = False  # not a pytest class


def french_test(base_level: str) -> TestSpec:
    """The paper's French test for an agent trained on ``base_level`` (module doc)."""
    try:
        base = PAPER_LEVELS.get(resolve_level_name(base_level))
    except ValueError:  # an unknown level fails later, naming it, where it is played
        base = None
    split = (("split", "train"),) if base is not None and base.split == "train" else ()
    return TestSpec("French", "GoToFrench", variant="french", template="french", level_kwargs=split)


def suite_tests(suite: str, base_level: str = DEFAULT_BASE_LEVEL) -> list[TestSpec]:
    """The tests of a named suite on ``base_level``."""
    no_change = TestSpec("no change", base_level)
    new_objects = TestSpec("new objects", "MixedTestLocal")
    if suite == "level":
        return [no_change]
    if suite == "quick":
        return [
            no_change,
            TestSpec("invented words", base_level, variant="invented_words"),
            TestSpec("synonym actions", base_level, variant="synonym_actions"),
            new_objects,
        ]
    if suite == "paper":
        return [
            no_change,
            TestSpec("renamed nouns", base_level, variant="renamed_nouns"),
            TestSpec("adjective synonyms", base_level, variant="adjective_synonyms"),
            TestSpec("invented nouns", base_level, variant="invented_nouns"),
            TestSpec("invented adjectives", base_level, variant="invented_adjectives"),
            TestSpec("invented words", base_level, variant="invented_words"),
            TestSpec("goal: I would like", base_level, template="i_would_like"),
            TestSpec("goal: you have to", base_level, template="you_have_to"),
            new_objects,
            TestSpec("new composition", "PickUpSeqPickUpLocal"),
            TestSpec("synonym actions", base_level, variant="synonym_actions"),
            TestSpec("synonym actions 2", base_level, variant="synonym_actions_2"),
            french_test(base_level),
            TestSpec("French (all families)", base_level, variant="french", template="french"),
        ]
    raise UserError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")


def env_config_for_test(base: BabyAITextConfig, test: TestSpec) -> BabyAITextConfig:
    """The base environment settings moved to the test's level and variant.

    History, actions and episode length carry over. Distractor count carries over
    between the paper's levels; family weights too when the test level has those
    families (a "go to" run is tested on "go to" missions of MixedTestLocal);
    level-specific keyword arguments only on the same level. The test's own
    ``level_kwargs`` come last (they win).
    """
    data = base.model_dump()
    data.pop("variant")
    data["level"] = test.level
    data["variant"] = test.variant or "none"
    if test.variant == "french":
        data["language"] = None
    same_level = test.level == base.level
    if not same_level:
        data["level_kwargs"] = {}
    data["level_kwargs"] = {**data["level_kwargs"], **dict(test.level_kwargs)}
    paper = test.level in PAPER_LEVELS
    if not paper:
        data["num_distractors"] = None
    weights = base.family_weights
    if weights is not None and not same_level:
        families = set(PAPER_LEVELS[test.level].families) if paper else set()
        if not set(weights) <= families:
            data["family_weights"] = None
    try:
        return BabyAITextConfig.model_validate(data)
    except ValidationError as error:
        raise UserError(f"test {test.name!r}: {format_validation_error(error)}") from error
    except ValueError as error:
        raise UserError(f"test {test.name!r}: {error}") from error
