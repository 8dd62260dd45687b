"""Data parallel over torch.distributed (gloo, 2 CPU processes)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from glam_ppo import MLPActorCritic, PPOConfig, ppo_update
from glam_ppo.buffer import Batch
from glam_ppo.optim import build_optimizer

WORKER = Path(__file__).with_name("distributed_worker.py")


def _batch(path: Path) -> Batch:
    data = load_file(str(path))
    return Batch(
        observations=data["observations"].numpy(),
        actions=data["actions"],
        logprobs=data["logprobs"],
        values=data["values"],
        advantages=data["advantages"],
        returns=data["returns"],
        capacity=int(data["capacity"][0]),
    )


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")
def test_two_ranks_stay_identical_and_match_one_process(
    tmp_path: Path, run_two_ranks: Callable[[Path, Path, float], None]
) -> None:
    sys.path.insert(0, str(WORKER.parent))
    try:
        from distributed_worker import CONFIG, ITERATIONS
    finally:
        sys.path.remove(str(WORKER.parent))
    run_two_ranks(WORKER, tmp_path, 180)

    initial = [load_file(str(tmp_path / f"initial_rank{r}.safetensors")) for r in range(2)]
    for name in initial[0]:
        assert torch.equal(initial[0][name], initial[1][name]), f"not broadcast: {name}"

    # One process replays the updates on the concatenation of both ranks' batches.
    policy = MLPActorCritic(4, 2)
    policy.load_state_dict(initial[0])
    config = PPOConfig(**{**CONFIG, "minibatch_size": 2 * CONFIG["minibatch_size"]})
    optimizer = build_optimizer(policy.parameters(), config)
    rng = np.random.default_rng(0)
    for iteration in range(ITERATIONS):
        batches = [_batch(tmp_path / f"batch_it{iteration}_rank{r}.safetensors") for r in (0, 1)]
        assert not np.array_equal(batches[0].observations, batches[1].observations)
        ranks = [
            load_file(str(tmp_path / f"params_it{iteration}_rank{r}.safetensors")) for r in (0, 1)
        ]
        for name in ranks[0]:
            assert torch.equal(ranks[0][name], ranks[1][name]), f"ranks differ: {name}"
        ppo_update(policy, optimizer, Batch.concatenate(batches), config, config.clip_coef, rng)
        for name, value in policy.state_dict().items():
            torch.testing.assert_close(value, ranks[0][name], rtol=1e-5, atol=1e-6, msg=name)

    checkpoint = tmp_path / "checkpoints" / "iteration_000000"
    assert {"rank0.json", "rank1.json", "rank0.safetensors", "rank1.safetensors"} <= {
        p.name for p in checkpoint.iterdir()
    }
