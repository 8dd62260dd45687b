"""Value and action heads on their own."""

from __future__ import annotations

import pytest
import torch

from glam_policy import ActionHead, PolicyInputError, ValueHead, build_mlp


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
    head = ActionHead(4, ["a", "b"], [8], "relu")
    with pytest.raises(PolicyInputError, match="observation 1: action\\(s\\) 'z' are not in"):
        head.select(head(torch.randn(2, 4)), [["a"], ["a", "z"]])
    with pytest.raises(ValueError, match="non-empty"):
        ActionHead(4, [], [8], "relu")
    with pytest.raises(ValueError, match="duplicates"):
        ActionHead(4, ["a", "a"], [8], "relu")
