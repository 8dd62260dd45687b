"""Value and action heads on their own."""

from __future__ import annotations

import logging

import pytest
import torch

from glam_policy import ActionHead, LLMPolicy, PolicyInputError, ValueHead, build_mlp


def test_build_mlp_layout() -> None:
    mlp = build_mlp(8, [1024, 1024], 1, "sigmoid")
    kinds = [type(m).__name__ for m in mlp]
    assert kinds == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"]
    assert mlp[0].in_features == 8 and mlp[-1].out_features == 1
    assert [type(m).__name__ for m in build_mlp(8, [], 3, "relu")] == ["Linear"]
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        build_mlp(8, [4], 1, "swish")


def test_value_head_is_float32_and_one_value_per_row() -> None:
    head = ValueHead(8, [16], "tanh")
    values = head(torch.randn(5, 8, dtype=torch.bfloat16))
    assert values.shape == (5,) and values.dtype == torch.float32


def test_action_head_selects_admissible_actions_in_their_order() -> None:
    head = ActionHead(4, ["a", "b", "c", "d"], [8], "relu")
    hidden = torch.randn(2, 4)
    full = head(hidden)
    assert full.shape == (2, 4)
    picked = head.select(full, [["c", "a"], ["d", "b", "a"]])
    assert picked.shape == (2, 3)
    assert torch.equal(picked[0, :2], full[0, [2, 0]]) and picked[0, 2] == float("-inf")
    assert torch.equal(picked[1], full[1, [3, 1, 0]])


def test_action_head_errors() -> None:
    head = ActionHead(4, ["a", "b", "c"], [8], "relu")
    # Unknown name, and too few actions to read them by position.
    with pytest.raises(
        PolicyInputError,
        match=r"observation 1: action\(s\) 'z' are not in the action heads' fixed list "
        r"\(a, b, c\), and .* by position either: there are 2 of them for the heads' 3 outputs",
    ):
        head.select(head(torch.randn(2, 4)), [["a"], ["a", "z"]])
    # Unknown name, and a known one out of its place: not a renaming by position.
    with pytest.raises(PolicyInputError, match="'a' is admissible action 1 but output 0"):
        head.select(head(torch.randn(1, 4)), [["z", "a", "c"]])
    with pytest.raises(ValueError, match="non-empty"):
        ActionHead(4, [], [8], "relu")
    with pytest.raises(ValueError, match="duplicates"):
        ActionHead(4, ["a", "a"], [8], "relu")


PAPER = ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"]
SYNONYMS = ["rotate left", "rotate right", "move ahead", "take", "release", "switch"]
FRENCH = [
    "tourner à gauche",
    "tourner à droite",
    "aller tout droit",
    "attraper",
    "lâcher",
    "basculer",
]


def test_renamed_actions_are_read_by_position() -> None:
    """Output j is the env's action j, whatever it is called (the paper's action heads)."""
    head = ActionHead(4, PAPER, [8], "relu")
    full = head(torch.randn(3, 4))
    picked = head.select(full, [SYNONYMS, FRENCH, PAPER[::-1]])
    assert torch.equal(picked[0], full[0]) and torch.equal(picked[1], full[1])
    assert torch.equal(picked[2], full[2].flip(0))  # known names: by name, in their order
    assert head.outputs_for(SYNONYMS) == list(range(6))


def test_partly_renamed_lists_keep_their_known_names_in_place() -> None:
    # The 9-action set under the synonym variant: six renamed, the three no-ops not.
    nine = [*PAPER, "sleep", "do nothing", "think"]
    head = ActionHead(4, nine, [8], "relu")
    assert head.outputs_for([*SYNONYMS, "sleep", "do nothing", "think"]) == list(range(9))
    with pytest.raises(PolicyInputError, match="'think' is admissible action 6 but output 8"):
        head.outputs_for([*SYNONYMS, "think", "do nothing", "sleep"])


def test_reading_by_position_is_logged_once_per_list(caplog: pytest.LogCaptureFixture) -> None:
    head = ActionHead(4, PAPER, [8], "relu")
    with caplog.at_level(logging.INFO, logger="glam_policy.heads"):
        for _ in range(3):
            head.select(head(torch.randn(2, 4)), [SYNONYMS, SYNONYMS])
        head.select(head(torch.randn(1, 4)), [PAPER])
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "rotate left" in messages[0] and "by position" in messages[0]


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_npae_policy_plays_renamed_actions(
    kind, tiny_decoder_dir, tiny_encoder_decoder_dir
) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    policy = LLMPolicy.from_config(
        {
            "model": str(directory),
            "pretrained": False,
            "head": "action_heads",
            "actions": PAPER,
            "action_head_hidden_sizes": [16],
            "value_hidden_sizes": [16],
        }
    )
    observations = [
        {
            "mission": "go to the red ball",
            "observation": "You see a red ball",
            "admissible_actions": names,
        }
        for names in (SYNONYMS, FRENCH, PAPER)
    ]
    logits, values = policy(observations)
    assert logits.shape == (3, 6) and values.shape == (3,)
    encoded = policy.encoder.encode(observations, with_actions=False)
    full = policy.action_head(policy.scorer(encoded.prompt_ids, encoded.action_ids).hidden)
    torch.testing.assert_close(logits, full)  # all three lists: output j is action j
    scores = policy.score(observations[:1])
    torch.testing.assert_close(scores[0], full[0])
    wrong = dict(observations[0], admissible_actions=SYNONYMS[:5])
    with pytest.raises(PolicyInputError, match="5 of them for the heads' 6 outputs"):
        policy([wrong])
