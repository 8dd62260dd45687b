"""The torchrun launch as glam_apps reads it, and the per-rank split of global settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from glam_apps.config.schema import TrainConfig
from glam_apps.errors import UserError, launch_rank
from glam_apps.training.distributed import Launch, agreed, any_rank, process_group, torchrun_launch


@pytest.fixture
def no_torchrun(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_torchrun_there_is_one_process(no_torchrun: pytest.MonkeyPatch) -> None:
    assert torchrun_launch() is None
    with process_group() as launch:
        assert launch == Launch(0, 1, 0)
        assert launch.is_main and not launch.distributed
        assert agreed(launch, lambda: "decided") == "decided"
        assert any_rank(launch, True) and not any_rank(launch, False)
    assert launch_rank() == 0


def test_torchrun_environment_is_read(no_torchrun: pytest.MonkeyPatch) -> None:
    no_torchrun.setenv("RANK", "3")
    no_torchrun.setenv("WORLD_SIZE", "4")
    no_torchrun.setenv("LOCAL_RANK", "1")
    assert torchrun_launch() == Launch(3, 4, 1)
    assert launch_rank() == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "0"}, "LOCAL_RANK, WORLD_SIZE missing"),
        ({"RANK": "x", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "RANK='x' is not an integer"),
        (
            {"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"},
            "the rank must be in [0, WORLD_SIZE)",
        ),
    ],
)
def test_a_broken_torchrun_environment_is_named(
    no_torchrun: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        no_torchrun.setenv(name, value)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace(")", r"\)")):
        torchrun_launch()


def test_global_counts_split_over_ranks() -> None:
    config = TrainConfig.model_validate({"run": {"num_envs": 32}, "ppo": {"preset": "paper"}})
    assert config.per_rank(1) == (32, 64)
    assert config.per_rank(8) == (4, 8)
    with pytest.raises(ValueError, match=r"run.num_envs=32 cannot be split evenly over 3 ranks"):
        config.per_rank(3)
    small = TrainConfig.model_validate({"run": {"num_envs": 4}, "ppo": {"minibatch_size": 6}})
    with pytest.raises(ValueError, match=r"ppo.minibatch_size=6 cannot be split evenly over 4"):
        small.per_rank(4)


def test_distributed_section_defaults_and_errors() -> None:
    config = TrainConfig()
    assert config.distributed.strategy == "data_parallel"
    assert config.distributed.backend == "auto"
    assert config.to_yaml_dict()["distributed"]["strategy"] == "data_parallel"
    with pytest.raises(ValidationError, match="strategy"):
        TrainConfig.model_validate({"distributed": {"strategy": "zero3"}})
    with pytest.raises(ValidationError, match="timeout_minutes"):
        TrainConfig.model_validate({"distributed": {"timeout_minutes": 0}})


def test_fsdp_outside_torchrun_is_refused_before_anything_is_written(
    no_torchrun: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from glam_apps.training.sharding import fsdp_build_config

    config = TrainConfig.model_validate({"distributed": {"strategy": "fsdp"}})
    with pytest.raises(UserError, match="shards over the ranks of a torchrun launch"):
        fsdp_build_config(config)


def test_fsdp_refuses_16_bit_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.distributed as torch_dist

    from glam_apps.training.sharding import fsdp_build_config

    monkeypatch.setattr(torch_dist, "is_initialized", lambda: True)
    config = TrainConfig.model_validate(
        {"distributed": {"strategy": "fsdp"}, "policy": {"dtype": "bf16"}}
    )
    with pytest.raises(UserError, match=r"needs float32 weights .* policy.dtype=bfloat16"):
        fsdp_build_config(config)
    auto = TrainConfig.model_validate({"distributed": {"strategy": "fsdp"}})
    assert fsdp_build_config(auto).policy.dtype == "float32"
