"""Masked categorical helpers and the per-sample PPO loss terms, by hand."""

from __future__ import annotations

import math

import torch

from glam_ppo import distributions as dist
from glam_ppo import ppo_loss_terms

INF = float("-inf")


def test_masked_entropy_and_gradient_are_finite() -> None:
    logits = torch.tensor([[0.0, 0.0, INF], [1.0, INF, INF]], requires_grad=True)
    log_p = dist.log_probs(logits)
    entropy = dist.entropy(log_p)
    torch.testing.assert_close(entropy, torch.tensor([math.log(2.0), 0.0]))
    entropy.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_entropy_matches_torch_categorical_without_mask() -> None:
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    expected = torch.distributions.Categorical(logits=logits).entropy()
    torch.testing.assert_close(dist.entropy(dist.log_probs(logits)), expected)


def test_sampling_never_picks_a_masked_action_and_is_seeded() -> None:
    logits = torch.tensor([[0.0, INF, 0.0, INF]]).repeat(200, 1)
    log_p = dist.log_probs(logits)
    first = dist.sample(log_p, torch.Generator().manual_seed(1))
    again = dist.sample(log_p, torch.Generator().manual_seed(1))
    assert set(first.tolist()) == {0, 2}
    assert torch.equal(first, again)
    torch.testing.assert_close(dist.gather(log_p, first), torch.full((200,), math.log(0.5)))


def test_dtype_lowest_value_works_like_minus_infinity() -> None:
    low = torch.finfo(torch.bfloat16).min
    logits = torch.tensor([[2.0, low]], dtype=torch.bfloat16)
    log_p = dist.log_probs(logits)
    assert log_p.dtype == torch.float32
    torch.testing.assert_close(dist.entropy(log_p), torch.tensor([0.0]))
    assert dist.greedy(logits).tolist() == [0]


def _terms(advantage: float, new_logprob: float, clip_value: float | None = None, **kw: float):
    # Two actions; logits chosen so that log pi(action 0) = new_logprob.
    p = math.exp(new_logprob)
    logits = torch.tensor([[math.log(p), math.log(1 - p)]])
    return ppo_loss_terms(
        logits,
        torch.tensor([kw.get("value", 0.0)]),
        torch.tensor([0]),
        torch.tensor([math.log(0.5)]),
        torch.tensor([kw.get("old_value", 0.0)]),
        torch.tensor([advantage]),
        torch.tensor([kw.get("ret", 0.0)]),
        0.2,
        clip_value,
    )


def test_surrogate_is_clipped_above_for_positive_advantages() -> None:
    # ratio = 0.9 / 0.5 = 1.8 > 1.2: the objective stops at A * 1.2 (loss -2.4 for A = 2).
    terms = _terms(2.0, math.log(0.9))
    torch.testing.assert_close(terms.ratio, torch.tensor([1.8]))
    torch.testing.assert_close(terms.policy, torch.tensor([-2.4]))


def test_surrogate_is_not_clipped_when_it_would_help_the_worse_side() -> None:
    # Negative advantage with a large ratio: pessimistic bound keeps A * ratio = -1.8.
    terms = _terms(-1.0, math.log(0.9))
    torch.testing.assert_close(terms.policy, torch.tensor([1.8]))
    # Negative advantage with a small ratio 0.2: clipped at 0.8, loss 0.8.
    terms = _terms(-1.0, math.log(0.1))
    torch.testing.assert_close(terms.policy, torch.tensor([0.8]))


def test_value_loss_with_and_without_clipping() -> None:
    plain = _terms(1.0, math.log(0.5), value=3.0, old_value=1.0, ret=2.0)
    torch.testing.assert_close(plain.value, torch.tensor([1.0]))  # (3 - 2)^2
    # Clipped value: 1 + clip(2, -0.5, 0.5) = 1.5; max((3-2)^2, (1.5-2)^2) = 1.
    clipped = _terms(1.0, math.log(0.5), 0.5, value=3.0, old_value=1.0, ret=2.0)
    torch.testing.assert_close(clipped.value, torch.tensor([1.0]))
    # Value moving towards the return but too far: V = 2.5 from V_old = 0, R = 2.5.
    # Unclipped error 0; clipped V = 0.5, error (0.5 - 2.5)^2 = 4 is kept (pessimistic).
    pessimistic = _terms(1.0, math.log(0.5), 0.5, value=2.5, old_value=0.0, ret=2.5)
    torch.testing.assert_close(pessimistic.value, torch.tensor([4.0]))
