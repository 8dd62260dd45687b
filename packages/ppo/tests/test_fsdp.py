"""Sharded data parallel (FSDP2) over 2 gloo CPU processes, against plain data parallel."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from glam_ppo import MLPActorCritic, PPOConfig, PPOError
from glam_ppo import checkpoint as ckpt
from glam_ppo.distributed import DistributedContext
from glam_ppo.optim import build_optimizer
from glam_ppo.sharding import fsdp_available, gathered, is_sharded, sharded_modules
from glam_ppo.update import _sharded_pass_counts

WORKER = Path(__file__).with_name("fsdp_worker.py")
ITERATIONS = 2


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, run_two_ranks: Callable[[Path, Path, float], None]
) -> Path:
    """Output of the worker's three runs (dp, fsdp, resume0/1), shared by the tests."""
    out = tmp_path_factory.mktemp("fsdp")
    run_two_ranks(WORKER, out, 240)
    return out


def _info(runs: Path) -> list[dict[str, Any]]:
    return [json.loads((runs / f"info_rank{r}.json").read_text()) for r in range(2)]


distributed = pytest.mark.skipif(not fsdp_available(), reason="torch without FSDP2")


@distributed
@pytest.mark.slow
def test_the_ranks_differ_as_real_runs_do(runs: Path) -> None:
    """The setup exercises what could hang: unequal rollout calls and micro-batch counts."""
    rank0, rank1 = _info(runs)
    assert rank0["fsdp"]["rollout_calls"] != rank1["fsdp"]["rollout_calls"]
    assert rank0["fsdp"]["batch_sizes"] != rank1["fsdp"]["batch_sizes"]
    # Each rank holds about half of the parameters.
    for info in (rank0, rank1):
        assert info["local_numel"] < 0.6 * info["full_numel"]


@distributed
@pytest.mark.slow
def test_sharded_training_equals_plain_data_parallel(runs: Path) -> None:
    for iteration in range(1, ITERATIONS + 1):
        plain = load_file(str(runs / "dp" / f"params_it{iteration}.safetensors"))
        sharded = load_file(str(runs / "fsdp" / f"params_it{iteration}.safetensors"))
        assert sorted(plain) == sorted(sharded)
        for name, value in plain.items():
            torch.testing.assert_close(sharded[name], value, rtol=1e-5, atol=1e-6, msg=name)
    rank0, _ = _info(runs)
    # Gradient norms (clipped at 0.05) are global over the shards.
    np.testing.assert_allclose(rank0["fsdp"]["grad_norm"], rank0["dp"]["grad_norm"], rtol=1e-5)


@distributed
@pytest.mark.slow
def test_rank0_evaluates_alone_while_gathered(runs: Path) -> None:
    rank0, rank1 = _info(runs)
    assert rank0["evaluation_return"] > 0
    assert rank0["sharded_after_gathered"] and rank1["sharded_after_gathered"]


@distributed
@pytest.mark.slow
def test_an_optimizer_built_before_sharding_is_refused(runs: Path) -> None:
    assert all(info["stale_optimizer_refused"] for info in _info(runs))


@distributed
@pytest.mark.slow
def test_resume_of_a_sharded_run_ends_exactly_as_the_uninterrupted_one(runs: Path) -> None:
    final = load_file(str(runs / "fsdp" / f"params_it{ITERATIONS}.safetensors"))
    for name in ("resume0", "resume1"):  # before any step (no optimizer state) and after one
        resumed = load_file(str(runs / name / f"params_it{ITERATIONS}.safetensors"))
        for key, value in final.items():
            assert torch.equal(resumed[key], value), f"{name}: {key}"


@distributed
@pytest.mark.slow
def test_sharded_checkpoint_has_the_unsharded_layout_and_loads_in_one_process(
    runs: Path,
) -> None:
    for iteration in range(ITERATIONS + 1):
        name = ckpt.checkpoint_name(iteration)
        plain_dir = runs / "dp" / "checkpoints" / name
        sharded_dir = runs / "fsdp" / "checkpoints" / name
        files = {p.name for p in sharded_dir.iterdir()}
        assert files == {p.name for p in plain_dir.iterdir()}
        assert {"rank0.json", "rank1.json", "rank0.safetensors", "rank1.safetensors"} <= files
        plain_state = ckpt.read_json(plain_dir / "state.json")
        sharded_state = ckpt.read_json(sharded_dir / "state.json")
        # Optimizer groups, ids with state, aliases: the same JSON.
        assert sharded_state["optimizer"] == plain_state["optimizer"]
        assert sharded_state["model"] == plain_state["model"]
        for file in ("model.safetensors", "optimizer.safetensors"):
            plain = load_file(str(plain_dir / file))
            sharded = load_file(str(sharded_dir / file))
            assert sorted(plain) == sorted(sharded), file
            for key, value in plain.items():
                assert sharded[key].shape == value.shape, key
                torch.testing.assert_close(sharded[key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert not list((runs / "fsdp" / "checkpoints").glob(".tmp-*"))

    # One process, no process group: the full tensors load into an unsharded policy.
    last = runs / "fsdp" / "checkpoints" / ckpt.checkpoint_name(ITERATIONS)
    state = ckpt.read_json(last / "state.json")
    policy = MLPActorCritic(4, 2)
    ckpt.load_module_tensors(
        policy,
        ckpt.load_tensors(last / "model.safetensors"),
        state["model"]["aliases"],
        state["model"]["trainable_only"],
    )
    final = load_file(str(runs / "fsdp" / f"params_it{ITERATIONS}.safetensors"))
    for key, value in policy.state_dict().items():
        assert torch.equal(value, final[key]), key
    optimizer = build_optimizer(policy.parameters(), PPOConfig())
    ckpt.load_optimizer_state(
        optimizer, ckpt.load_tensors(last / "optimizer.safetensors"), state["optimizer"]
    )
    assert len(optimizer.state) == len(list(policy.parameters()))


def test_unsharded_policies_are_left_alone() -> None:
    policy = MLPActorCritic(4, 2)
    assert not is_sharded(policy) and not is_sharded(object())
    assert sharded_modules(policy) == []
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    with gathered(policy) as inside:
        assert inside is policy
    for key, value in policy.state_dict().items():
        assert torch.equal(value, before[key])


def test_sharded_pass_counts_are_per_minibatch_and_need_a_sample() -> None:
    single = DistributedContext()  # no process group: the maxima are this rank's counts
    chunks = [np.arange(7), np.arange(7, 10), np.arange(0)]
    assert _sharded_pass_counts(chunks, False, 3, 10, single) == [3, 1, 0]
    assert _sharded_pass_counts([np.arange(10)], True, 3, 10, single) == [1]
    with pytest.raises(PPOError, match="no valid transition"):
        _sharded_pass_counts([np.arange(0)], False, 3, 0, single)


def test_optimizer_json_lists_the_parameters_with_state() -> None:
    policy = MLPActorCritic(4, 2)
    optimizer = build_optimizer(policy.parameters(), PPOConfig())
    assert ckpt.optimizer_state(optimizer)[1]["state_ids"] == []
    policy(np.zeros((3, 4), dtype=np.float32))[1].sum().backward()  # the critic only
    optimizer.step()
    ids = ckpt.optimizer_state(optimizer)[1]["state_ids"]
    critic = {id(p) for p in policy.critic.parameters()}
    params = list(policy.parameters())
    assert ids == [i for i, p in enumerate(params) if id(p) in critic]
