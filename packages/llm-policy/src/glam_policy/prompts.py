"""Prompt templates: the paper's text, its goal-phrasing variants, French, compact ones, user ones.

A prompt is a sequence of parts joined by ``line_separator``::

    {header}                     Possible action of the agent: turn left, turn right, ...
    {goal_line}                  Goal of the agent: go to the red ball
    {observation} / {action}     Observation 0: ... / Action 0: turn left  (per step)
    {query}                      Action 2:

Each part is a ``str.format`` string. Fields every part may use: ``{goal}`` (the
mission) and ``{actions}`` (the admissible actions joined by ``action_separator``).
``observation``, ``action`` and ``query`` may also use ``{index}`` (the step number,
0 for the oldest observation shown); ``observation`` uses ``{observation}`` (its text,
followed by ``observation_suffix`` when it is not empty) and ``action`` uses
``{action}`` (the action taken after it). An empty ``header`` or ``goal_line`` leaves
that part out. Any other field is an error at construction.

Two families of named templates (:data:`TEMPLATES`):

``paper``, ``i_would_like``, ``you_have_to``, ``french``
    The reference code's text, character for character (its ``generate_prompt`` in
    ``experiments/agents/base_agent.py`` of flowersteam/Grounding_LLMs_with_online_RL):
    ``"Possible action of the agent: a, b, c"``, then ``" \\n Goal of the agent: "``
    and the goal, then per observation ``" \\n Observation {i}: "``, every sentence
    followed by ``", "`` (the last one too), ``"\\n Action {i}: "`` and the action
    taken, nothing after the last one, so the prompt ends with ``"Action 2: "``.
    The parts carry these irregular separators themselves (``line_separator`` is
    empty) so that the text is the reference's exactly. The goal variants are the
    paper's generalisation test, which replaced the words "Goal of the agent" in the
    whole prompt and kept the colon (``" \\n I would like the agent to: go to ..."``);
    ``french`` is the reference's ``generate_prompt_french`` (``Actions possibles pour
    l'agent:`` and ``But de l'agent:``; ``Observation``/``Action`` stay as they are).
``compact``, ``compact_i_would_like``, ``compact_you_have_to``, ``compact_french``
    The same words one part per line, the sentences joined by ``", "`` with nothing
    after the last one, ending with ``"Action 2:"``. glam's ``paper`` template before
    it followed the reference exactly; the offline runs and their published figures
    were made with these, and a :class:`PromptTemplate` built from a dict starts from
    their values.

Over-long prompts are cut at the token level by the encoder, which knows where the
model's positions end, with :func:`truncate_left`: it keeps the most recent tokens
and logs a warning, never silently.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from glam_policy.inputs import PolicyInput

logger = logging.getLogger(__name__)

_GLOBAL_FIELDS = frozenset({"goal", "actions"})
#: The fields each template part may use.
ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    "header": _GLOBAL_FIELDS,
    "goal_line": _GLOBAL_FIELDS,
    "observation": _GLOBAL_FIELDS | {"index", "observation"},
    "action": _GLOBAL_FIELDS | {"index", "action"},
    "query": _GLOBAL_FIELDS | {"index"},
}


def _fields_of(pattern: str, part: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as error:
        raise ValueError(f"template part {part!r} is not a valid format string: {error}") from None
    fields: set[str] = set()
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if field == "" or not field.isidentifier():
            raise ValueError(
                f"template part {part!r} uses field {{{field}}}; only named fields are "
                f"allowed: {', '.join(sorted(ALLOWED_FIELDS[part]))}"
            )
        fields.add(field)
    return fields


class PromptTemplate(BaseModel):
    """How a :class:`~glam_policy.inputs.PolicyInput` becomes prompt text.

    Load from a dict/YAML/JSON with ``PromptTemplate.model_validate``; the named
    templates are in :data:`TEMPLATES`. See the module docstring for the fields.
    The defaults are the ``compact`` template's, so a dict naming a few fields
    changes only those.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    header: str = "Possible action of the agent: {actions}"
    goal_line: str = "Goal of the agent: {goal}"
    observation: str = "Observation {index}: {observation}"
    #: Written after each non-empty observation text (the paper's ``", "``).
    observation_suffix: str = ""
    action: str = "Action {index}: {action}"
    query: str = "Action {index}:"
    action_separator: str = ", "
    line_separator: str = "\n"

    @field_validator("query")
    @classmethod
    def _query_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("query must not be empty: the action is scored right after it")
        return value

    @model_validator(mode="after")
    def _check_fields(self) -> PromptTemplate:
        for part, allowed in ALLOWED_FIELDS.items():
            unknown = _fields_of(getattr(self, part), part) - allowed
            if unknown:
                raise ValueError(
                    f"template part {part!r} uses unknown field(s) "
                    f"{', '.join('{' + f + '}' for f in sorted(unknown))}; "
                    f"allowed: {', '.join('{' + f + '}' for f in sorted(allowed))}"
                )
        return self

    @property
    def ends_with_whitespace(self) -> bool:
        """Whether every prompt ends with a space or newline (the paper's ``"Action 2: "``).

        Known from the query's literal end; a query ending with a field is taken not
        to. Decoder-only models then score the action without a leading space (see
        :class:`~glam_policy.encoding.PolicyEncoder`).
        """
        return self.query[-1:].isspace()

    def render(self, policy_input: PolicyInput | Mapping[str, Any]) -> str:
        """The prompt text for one input (a :class:`PolicyInput` or an observation dict)."""
        data = PolicyInput.from_any(policy_input)
        common = {
            "goal": data.goal,
            "actions": self.action_separator.join(data.admissible_actions),
        }
        lines: list[str] = []
        if self.header:
            lines.append(self.header.format(**common))
        if self.goal_line:
            lines.append(self.goal_line.format(**common))
        n_obs = len(data.observations)
        # Past actions are aligned to the most recent observations: the last one led to
        # the current observation.
        first_with_action = n_obs - 1 - len(data.actions)
        for index, text in enumerate(data.observations):
            if text:
                text += self.observation_suffix
            lines.append(self.observation.format(index=index, observation=text, **common))
            if index == n_obs - 1:
                break
            if index >= first_with_action:
                taken = data.actions[index - first_with_action]
                lines.append(self.action.format(index=index, action=taken, **common))
        lines.append(self.query.format(index=n_obs - 1, **common))
        return self.line_separator.join(lines)


def _variant(template: PromptTemplate, **changes: str) -> PromptTemplate:
    """``template`` with some fields changed, validated again."""
    return PromptTemplate.model_validate({**template.model_dump(), **changes})


#: The reference's construction (see the module docstring): the parts carry the
#: reference's separators, so that the prompt is its text character for character.
_PAPER = PromptTemplate(
    name="paper",
    header="Possible action of the agent: {actions}",
    goal_line=" \n Goal of the agent: {goal}",
    observation=" \n Observation {index}: {observation}",
    observation_suffix=", ",
    action="\n Action {index}: {action}",
    query="\n Action {index}: ",
    line_separator="",
)
_COMPACT = PromptTemplate(name="compact")

TEMPLATES: dict[str, PromptTemplate] = {
    template.name: template
    for template in (
        _PAPER,
        _variant(_PAPER, name="i_would_like", goal_line=" \n I would like the agent to: {goal}"),
        _variant(_PAPER, name="you_have_to", goal_line=" \n You have to: {goal}"),
        _variant(
            _PAPER,
            name="french",
            header="Actions possibles pour l'agent: {actions}",
            goal_line=" \n But de l'agent: {goal}",
        ),
        _COMPACT,
        _variant(
            _COMPACT, name="compact_i_would_like", goal_line="I would like the agent to: {goal}"
        ),
        _variant(_COMPACT, name="compact_you_have_to", goal_line="You have to: {goal}"),
        _variant(
            _COMPACT,
            name="compact_french",
            header="Actions possibles pour l'agent: {actions}",
            goal_line="But de l'agent: {goal}",
        ),
    )
}


def get_template(name: str) -> PromptTemplate:
    """A named template; a clear error listing the names otherwise."""
    try:
        return TEMPLATES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown prompt template {name!r}; named templates: {', '.join(TEMPLATES)} "
            "(or give a PromptTemplate / a dict of its fields)"
        ) from None


#: Goal phrasings of the paper's generalization tests, each named in both families.
PHRASINGS = ("i_would_like", "you_have_to", "french")
_COMPACT_PREFIX = "compact"


def phrasing_variant(base: str, phrasing: str) -> str:
    """The template saying ``phrasing`` in the layout of the named template ``base``.

    The generalization tests change the goal's wording, not the prompt's layout: an
    agent trained on ``compact`` is tested on ``compact_i_would_like``, one trained on
    ``paper`` on ``i_would_like``. Any other ``phrasing`` (a template named outright)
    is returned as it is.
    """
    family_phrasing = phrasing.removeprefix(f"{_COMPACT_PREFIX}_")
    if family_phrasing not in PHRASINGS:
        return phrasing
    if base == _COMPACT_PREFIX or base.startswith(f"{_COMPACT_PREFIX}_"):
        return f"{_COMPACT_PREFIX}_{family_phrasing}"
    return family_phrasing


def resolve_template(spec: str | Mapping[str, Any] | PromptTemplate) -> PromptTemplate:
    """A template from a name, a dict of fields (e.g. from a config file) or itself."""
    if isinstance(spec, PromptTemplate):
        return spec
    if isinstance(spec, str):
        return get_template(spec)
    if isinstance(spec, Mapping):
        return PromptTemplate.model_validate(dict(spec))
    raise ValueError(
        f"a prompt template is a name, a mapping of fields or a PromptTemplate, "
        f"got {type(spec).__name__}"
    )


def build_prompt(
    template: str | Mapping[str, Any] | PromptTemplate,
    policy_input: PolicyInput | Mapping[str, Any],
) -> str:
    """The prompt text of ``policy_input`` under ``template`` (a name, dict or template)."""
    return resolve_template(template).render(policy_input)


def build_prompts(
    template: str | Mapping[str, Any] | PromptTemplate,
    policy_inputs: Sequence[PolicyInput | Mapping[str, Any]],
) -> list[str]:
    """:func:`build_prompt` over a batch, resolving the template once."""
    resolved = resolve_template(template)
    return [resolved.render(item) for item in policy_inputs]


def truncate_left(ids: list[int], max_length: int) -> tuple[list[int], bool]:
    """Keep the last ``max_length`` token ids; warn when anything is cut.

    The start of a prompt (action list, goal, oldest observation) is what goes: the
    end, with the current observation and the query the action follows, is kept.
    Returns the ids and whether they were truncated.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    if len(ids) <= max_length:
        return list(ids), False
    logger.warning(
        "prompt of %d tokens exceeds the limit of %d: its first %d tokens are cut",
        len(ids),
        max_length,
        len(ids) - max_length,
    )
    return list(ids[-max_length:]), True
