"""PolicyEncoder: the space before an action, and where prompts are cut (position tables)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from transformers import BartConfig, GPT2Config, LlamaConfig, T5Config

from glam_policy import build_prompt, get_template, hard_position_limit, has_relative_positions
from glam_policy.encoding import PolicyEncoder

ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
OBSERVATION = {
    "mission": "go to the red ball",
    "observation_history": (
        "You see a wall 2 steps forward",
        "You see a red ball 1 step left and 2 steps forward",
        "You see a red ball 1 step left",
    ),
    "action_history": ("go forward", "turn left"),
    "admissible_actions": ACTIONS,
}


def decoded_text(encoder: PolicyEncoder, action: str) -> str:
    """The text the decoder-only model reads: prompt ids then the action's ids."""
    encoded = encoder.encode([OBSERVATION])
    index = ACTIONS.index(action)
    ids = encoded.prompt_ids[0] + encoded.action_ids[0][index]
    return encoder.tokenizer.decode(ids)


@pytest.mark.parametrize(
    ("template", "prefix", "tail"),
    [
        ("paper", "", ", \n Action 2: go forward"),
        ("compact", " ", "\nAction 2: go forward"),
    ],
)
def test_decoder_action_follows_the_prompt_with_one_space(tiny_tokenizer, template, prefix, tail):
    """The paper's prompt ends with "Action 2: ": no second space before the action."""
    encoder = PolicyEncoder(tiny_tokenizer, template, "decoder")
    assert encoder.action_prefix == prefix
    assert (
        encoder.action_ids("go forward")
        == tiny_tokenizer(prefix + "go forward", add_special_tokens=False)["input_ids"]
    )
    text = decoded_text(encoder, "go forward")
    assert text == build_prompt(template, OBSERVATION) + prefix + "go forward"
    assert text.endswith(tail)


@pytest.mark.parametrize("template", ["paper", "compact"])
def test_encoder_decoder_actions_have_no_prefix(tiny_tokenizer, template):
    encoder = PolicyEncoder(tiny_tokenizer, template, "encoder-decoder")
    assert encoder.action_prefix == ""


def test_explicit_action_prefix_wins(tiny_tokenizer):
    encoder = PolicyEncoder(tiny_tokenizer, "paper", "decoder", action_prefix=" ")
    assert encoder.action_prefix == " "
    assert (
        encoder.action_ids("drop") == tiny_tokenizer(" drop", add_special_tokens=False)["input_ids"]
    )


def test_swapping_the_template_takes_the_prefix_along(tiny_tokenizer):
    """An evaluation with another template (agents swap ``encoder.template``) re-tokenizes."""
    encoder = PolicyEncoder(tiny_tokenizer, "compact", "decoder")
    spaced = encoder.action_ids("pick up")
    encoder.template = get_template("paper")
    assert encoder.action_prefix == ""
    bare = encoder.action_ids("pick up")
    assert bare == tiny_tokenizer("pick up", add_special_tokens=False)["input_ids"]
    assert bare != spaced
    encoder.template = get_template("compact")
    assert encoder.action_ids("pick up") == spaced


@pytest.mark.parametrize(
    ("architecture", "position_limit", "max_prompt_tokens", "expected"),
    [
        ("decoder", 24, None, 21),  # prompt and a 3-token action share GPT-2's table
        ("decoder", 24, 10, 10),
        ("decoder", None, None, None),
        ("encoder-decoder", 24, None, 24),  # BART's encoder table is the prompt's alone
        ("encoder-decoder", None, None, None),  # T5: no table, no cut
        ("encoder-decoder", None, 30, 30),
    ],
)
def test_prompt_limit(tiny_tokenizer, architecture, position_limit, max_prompt_tokens, expected):
    encoder = PolicyEncoder(
        tiny_tokenizer,
        "paper",
        architecture,
        position_limit=position_limit,
        max_prompt_tokens=max_prompt_tokens,
    )
    assert encoder.prompt_limit(3) == expected


def test_an_encoder_decoder_prompt_past_its_table_is_cut(tiny_tokenizer, caplog):
    encoder = PolicyEncoder(tiny_tokenizer, "paper", "encoder-decoder", position_limit=16)
    encoded = encoder.encode([OBSERVATION])
    assert encoded.truncated == [True] and len(encoded.prompt_ids[0]) == 16
    assert "exceeds the limit of 16" in caplog.text


@pytest.mark.parametrize(
    ("config", "limit", "relative"),
    [
        (GPT2Config(n_positions=24), 24, False),  # learned table: a real limit
        (BartConfig(max_position_embeddings=64), 64, False),
        (LlamaConfig(max_position_embeddings=128), 128, False),
        (T5Config(), None, True),  # relative positions: no limit
        (T5Config(n_positions=512), None, True),  # as the hub's T5 configs say: still none
        (SimpleNamespace(), None, False),  # no table named: nothing to cut at
    ],
)
def test_hard_position_limit(config, limit, relative):
    model = SimpleNamespace(config=config)
    assert hard_position_limit(model) == limit  # type: ignore[arg-type]
    assert has_relative_positions(config) is relative  # type: ignore[arg-type]
