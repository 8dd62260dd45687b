"""``normalization: probability_ratio``: the policy the paper's code played."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from glam_policy import LLMPolicy
from glam_policy.policy import probability_ratio_logits

INF = float("inf")


def reference_policy(probabilities: list[float]) -> torch.Tensor:
    """The paper's code (llm_ppo_agent.py, Feb 2023), written out on probabilities."""
    scores = torch.tensor(probabilities, dtype=torch.float64)
    best = scores.max()
    if best < 1e-45:
        return torch.softmax(torch.ones_like(scores), dim=-1)
    return torch.softmax(scores / best, dim=-1)


def test_logits_are_probability_ratios_and_give_the_reference_policy() -> None:
    probabilities = [0.5, 0.25, 0.125]
    logprobs = torch.tensor([[*map(math.log, probabilities), -INF]], dtype=torch.float64)
    logits = probability_ratio_logits(logprobs)
    torch.testing.assert_close(logits[0, :3], torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64))
    assert logits[0, 3] == -INF  # padding stays out of the softmax
    policy = torch.softmax(logits, dim=-1)[0, :3]
    torch.testing.assert_close(policy, reference_policy(probabilities))
    # Far flatter than the softmax of log-likelihoods (glam's default, the paper's text).
    assert policy.max() < torch.softmax(logprobs[0, :3], dim=-1).max()


def test_uniform_when_every_action_is_below_float32_underflow() -> None:
    logprobs = torch.tensor([[-200.0, -230.0, -INF], [-1.0, -300.0, -2.0]])
    logits = probability_ratio_logits(logprobs)
    assert logits[0, :2].tolist() == [1.0, 1.0] and logits[0, 2] == -INF
    probs = torch.softmax(logits, dim=-1)
    torch.testing.assert_close(probs[0, :2], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(
        probs[1].double(), reference_policy([math.exp(-1.0), math.exp(-300.0), math.exp(-2.0)])
    )


def test_gradients_flow_and_stay_finite() -> None:
    logprobs = torch.tensor([[-1.0, -3.0, -INF]], requires_grad=True)
    logits = probability_ratio_logits(logprobs)
    torch.log_softmax(logits, dim=-1)[0, 1].backward()
    assert logprobs.grad is not None and torch.isfinite(logprobs.grad).all()
    assert logprobs.grad[0, :2].abs().sum() > 0


def test_policy_with_probability_ratio(tiny_decoder_dir: Path) -> None:
    base = {"model": str(tiny_decoder_dir), "value_hidden_sizes": [8]}
    plain = LLMPolicy.from_config(base)
    ratio = LLMPolicy.from_config({**base, "normalization": "probability_ratio"})
    observation = {
        "mission": "go to the red ball",
        "observation": "You see a red ball 2 steps forward",
        "admissible_actions": ("turn left", "turn right", "go forward"),
    }
    with torch.no_grad():
        sums, _ = plain([observation])
        logits, _ = ratio([observation])
    expected = torch.exp(sums[0] - sums[0].max())
    torch.testing.assert_close(logits[0], expected)
    assert (logits[0] > 0).all() and logits[0].max() == 1.0
