"""The evaluation suites, and the environment each of their tests is played in.

A test is a level, a text variant of the game (``glam_env`` presets) and a prompt
template of the agent (``glam_policy`` templates). Suites are described in
:mod:`glam_apps.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass

from glam_apps.errors import UserError
from glam_env import PAPER_LEVELS, BabyAITextConfig

SUITES: tuple[str, ...] = ("paper", "quick", "level")
DEFAULT_BASE_LEVEL = "MixedTrainLocal"


@dataclass(frozen=True)
class TestSpec:
    """One test: a level, a text variant of the game, a prompt template of the agent."""

    name: str
    level: str
    variant: str | None = None
    template: str | None = None

    __test__ = False  # not a pytest class


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
            TestSpec("French", base_level, variant="french", template="french"),
        ]
    raise UserError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")


def env_config_for_test(base: BabyAITextConfig, test: TestSpec) -> BabyAITextConfig:
    """The base environment settings moved to the test's level and variant.

    History, actions and episode length carry over. Distractor count carries over
    between the paper's levels; family weights too when the test level has those
    families (a "go to" run is tested on "go to" missions of MixedTestLocal);
    level-specific keyword arguments only on the same level.
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
    except ValueError as error:
        raise UserError(f"test {test.name!r}: {error}") from error
