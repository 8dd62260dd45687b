"""The PPO update: micro-batching, parameter groups, non-finite losses, KL stop, clipping."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import torch

from glam_ppo import MLPActorCritic, NonFiniteLossError, PPOConfig, ppo_update
from glam_ppo import distributions as dist
from glam_ppo.buffer import Batch
from glam_ppo.distributed import DistributedContext
from glam_ppo.optim import build_optimizer
from glam_ppo.update import _minibatch_normalisers, clip_grad_norm


def make_batch(policy: MLPActorCritic, size: int = 64, seed: int = 0) -> Batch:
    """A batch whose log-probabilities are the policy's own (ratio 1 at the start)."""
    gen = torch.Generator().manual_seed(seed)
    obs = torch.randn(size, 4, generator=gen).numpy()
    with torch.no_grad():
        logits, values = policy(obs)
        log_p = dist.log_probs(logits)
        actions = dist.sample(log_p, gen)
        logprobs = dist.gather(log_p, actions)
    return Batch(
        observations=obs,
        actions=actions,
        logprobs=logprobs,
        values=values + 0.1 * torch.randn(size, generator=gen),
        advantages=torch.randn(size, generator=gen),
        returns=torch.randn(size, generator=gen),
        capacity=size,
    )


def run(policy: MLPActorCritic, batch: Batch, config: PPOConfig, **kw: Any) -> dict[str, float]:
    optimizer = kw.pop("optimizer", None) or build_optimizer(policy.parameters(), config)
    return ppo_update(
        policy, optimizer, batch, config, config.clip_coef, np.random.default_rng(0), **kw
    )


def test_micro_batching_gives_the_unsplit_update() -> None:
    torch.manual_seed(0)
    policy = MLPActorCritic(4, 3)
    batch = make_batch(policy)
    config = PPOConfig(
        minibatch_size=32, num_epochs=3, value_clip=0.2, ent_coef=0.05, learning_rate=1e-2
    )
    whole, split = copy.deepcopy(policy), copy.deepcopy(policy)
    metrics_whole = run(whole, batch, config)
    metrics_split = run(split, batch, config.model_copy(update={"micro_batch_size": 5}))
    for (name, a), b in zip(whole.named_parameters(), split.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    assert not torch.equal(whole.actor[0].weight, policy.actor[0].weight)  # it did learn
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"):
        assert metrics_whole[key] == pytest.approx(metrics_split[key], rel=1e-4, abs=1e-7)
    assert metrics_whole["gradient_steps"] == metrics_split["gradient_steps"] == 6


def test_update_metrics_are_complete_and_sensible() -> None:
    torch.manual_seed(1)
    policy = MLPActorCritic(4, 2)
    metrics = run(policy, make_batch(policy), PPOConfig(minibatch_size=16, num_epochs=2))
    expected = {
        "policy_loss", "value_loss", "entropy", "approx_kl", "old_approx_kl", "clip_fraction",
        "explained_variance", "grad_norm", "grad_norm_max", "gradient_steps", "epochs",
        "kl_early_stop", "skipped_nonfinite", "clip_coef",
    }  # fmt: skip
    assert expected <= set(metrics)
    assert metrics["gradient_steps"] == 8 and metrics["epochs"] == 2
    assert 0.0 <= metrics["clip_fraction"] <= 1.0
    assert metrics["entropy"] == pytest.approx(math.log(2), abs=0.05)  # near-uniform start
    assert metrics["approx_kl"] >= 0.0 and math.isfinite(metrics["grad_norm"])


def test_parameter_groups_keep_their_own_learning_rates() -> None:
    torch.manual_seed(2)
    policy = MLPActorCritic(4, 2)
    before = copy.deepcopy(policy)
    config = PPOConfig(minibatch_size=64, num_epochs=1)
    groups = [
        {"params": policy.actor.parameters(), "lr": 1e-2, "name": "actor"},
        {"params": policy.critic.parameters(), "lr": 0.0, "name": "critic"},
    ]
    optimizer = build_optimizer(policy.parameters(), config, groups)
    assert [g["base_lr"] for g in optimizer.param_groups] == [1e-2, 0.0]
    run(policy, make_batch(policy), config, optimizer=optimizer)
    assert torch.equal(policy.critic[0].weight, before.critic[0].weight)
    assert not torch.equal(policy.actor[0].weight, before.actor[0].weight)


def test_parameter_groups_must_cover_trainable_parameters() -> None:
    policy = MLPActorCritic(4, 2)
    with pytest.raises(ValueError, match="leave out 6 trainable parameter"):
        build_optimizer(policy.parameters(), PPOConfig(), [{"params": policy.actor.parameters()}])
    with pytest.raises(ValueError, match=r"param_groups\[0\] has no 'params'"):
        build_optimizer(policy.parameters(), PPOConfig(), [{"lr": 1.0}])


class NaNValues(MLPActorCritic):
    def forward(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor]:
        logits, values = super().forward(observations)
        return logits, values * float("nan")


def test_nan_loss_stops_with_a_clear_error_and_changes_nothing() -> None:
    torch.manual_seed(3)
    policy = NaNValues(4, 2)
    batch = make_batch(MLPActorCritic(4, 2))
    before = copy.deepcopy(policy.state_dict())
    with pytest.raises(NonFiniteLossError, match=r"non-finite PPO loss in epoch 0, minibatch 0"):
        run(policy, batch, PPOConfig(minibatch_size=32))
    for name, tensor in policy.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_nan_loss_can_be_skipped() -> None:
    torch.manual_seed(3)
    policy = NaNValues(4, 2)
    before = copy.deepcopy(policy.state_dict())
    config = PPOConfig(minibatch_size=32, num_epochs=2, on_nonfinite="skip")
    metrics = run(policy, make_batch(MLPActorCritic(4, 2)), config)
    assert metrics["skipped_nonfinite"] == 4 and metrics["gradient_steps"] == 0
    for name, tensor in policy.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_infinite_gradient_is_caught() -> None:
    torch.manual_seed(4)
    policy = MLPActorCritic(4, 2)
    batch = make_batch(policy)

    def poison(grad: torch.Tensor) -> torch.Tensor:
        return grad * float("inf")

    policy.critic[0].weight.register_hook(poison)
    with pytest.raises(NonFiniteLossError, match="non-finite gradient norm"):
        run(policy, batch, PPOConfig(minibatch_size=64))


def test_kl_early_stopping() -> None:
    torch.manual_seed(5)
    policy = MLPActorCritic(4, 2)
    config = PPOConfig(minibatch_size=16, num_epochs=4, target_kl=1e-12, learning_rate=0.05)
    metrics = run(policy, make_batch(policy), config)
    # The first step sees ratio 1 (KL 0) and is applied; the second sees KL > 0 and stops.
    assert metrics["kl_early_stop"] == 1.0
    assert metrics["gradient_steps"] == 1 and metrics["epochs"] == 0


def test_advantage_normalisation_statistics_match_torch() -> None:
    advantages = torch.randn(50, generator=torch.Generator().manual_seed(6)).double()
    chunks = [np.arange(0, 20), np.arange(20, 49), np.arange(49, 50)]
    out = _minibatch_normalisers(advantages.numpy(), chunks, True, DistributedContext())
    for k, chunk in enumerate(chunks[:2]):
        selected = advantages[torch.from_numpy(chunk)]
        assert out[k, 0] == len(chunk)
        assert out[k, 1] == pytest.approx(selected.mean().item())
        assert out[k, 2] == pytest.approx(selected.std().item() + 1e-8)
    assert tuple(out[2]) == (1.0, 0.0, 1.0)  # one sample: left as is
    plain = _minibatch_normalisers(advantages.numpy(), chunks, False, DistributedContext())
    assert (plain[:, 1] == 0).all() and (plain[:, 2] == 1).all()


def test_gradient_clipping_matches_torch() -> None:
    torch.manual_seed(7)
    a, b = MLPActorCritic(4, 2), MLPActorCritic(4, 2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 4)
    for model in (a, b):
        logits, values = model(x)
        (values.sum() * 100 + logits.sum()).backward()
    ours = clip_grad_norm(list(a.parameters()), 0.5)
    reference = torch.nn.utils.clip_grad_norm_(list(b.parameters()), 0.5)
    assert ours == pytest.approx(reference.item(), rel=1e-6)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad)
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in a.parameters()]))
    assert total.item() == pytest.approx(0.5, rel=1e-4)
