"""Transformer blocks as FSDP2 units: found from ``_no_split_modules``, through LoRA wrappers.

Run as a script, this file is one rank of the two-process check that the blocks
shard with FSDP2 under LoRA and gradient checkpointing (see the last test).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from glam_policy import LLMPolicy
from glam_policy.sharding import no_split_class_names, transformer_blocks

OBSERVATIONS = [
    {
        "mission": "go to the red ball",
        "observation": "You see a wall 2 steps forward",
        "admissible_actions": ["turn left", "turn right", "go forward"],
    },
    {
        "mission": "pick up the blue key",
        "observation": "You see a blue key 3 steps forward",
        "admissible_actions": ["go forward", "pick up"],
    },
    {
        "mission": "open the door",
        "observation": "You see a door 1 step left",
        "admissible_actions": ["turn left", "toggle", "drop", "go forward"],
    },
    {
        "mission": "go to the box",
        "observation": "You see nothing",
        "admissible_actions": ["turn right", "go forward"],
    },
]
ACTIONS = [2, 1, 1, 0]


def test_decoder_blocks(tiny_decoder_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_decoder_dir)
    blocks = transformer_blocks(model)
    assert blocks == list(model.transformer.h)
    assert {type(b).__name__ for b in blocks} == {"GPT2Block"}


def test_encoder_decoder_blocks(tiny_encoder_decoder_dir: Path) -> None:
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_encoder_decoder_dir)
    blocks = transformer_blocks(model)
    assert blocks == [*model.encoder.block, *model.decoder.block]
    assert no_split_class_names(model) == {"T5Block"}


@pytest.mark.parametrize("finetuning", ["lora", "full"])
def test_blocks_of_a_policy_through_the_peft_wrapper(
    tiny_decoder_dir: Path, finetuning: str
) -> None:
    policy = LLMPolicy.from_config(
        {"model": str(tiny_decoder_dir), "finetuning": finetuning, "value_hidden_sizes": [16]}
    )
    blocks = transformer_blocks(policy)
    assert blocks == transformer_blocks(policy.lm) == list(policy.hf_model.transformer.h)
    # The heads stay with the FSDP root.
    inside = {id(p) for block in blocks for p in block.parameters()}
    assert not any(id(p) in inside for p in policy.value_head.parameters())


def test_a_module_without_declared_blocks_is_refused() -> None:
    with pytest.raises(ValueError, match="_no_split_modules"):
        transformer_blocks(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))


# --- two processes: the blocks as FSDP2 units, with LoRA and gradient checkpointing --


def _loss(policy: LLMPolicy, rows: slice, total: int) -> torch.Tensor:
    """PPO-like: the sum over the rows' samples divided by the global batch size."""
    logits, values = policy(OBSERVATIONS[rows])
    actions = torch.tensor(ACTIONS[rows])
    logp = torch.log_softmax(logits.float(), -1).gather(1, actions[:, None]).squeeze(1)
    return (-logp.sum() + (values.float() - 1.0).square().sum()) / total


def _worker(model_dir: str, out: str) -> None:
    """One rank: gradients of the sharded policy against the unsharded one on all rows."""
    from torch.distributed.fsdp import FSDPModule, fully_shard, register_fsdp_forward_method

    torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank()
    torch.set_num_threads(1)
    fields = {
        "model": model_dir,
        "finetuning": "lora",
        "gradient_checkpointing": True,
        "value_hidden_sizes": [16],
    }
    torch.manual_seed(0)  # LoRA initialises from the global generator: the same on both ranks
    reference = LLMPolicy.from_config(fields).train()
    _loss(reference, slice(0, 4), 4).backward()
    policy = LLMPolicy.from_config(fields)
    policy.load_state_dict(reference.state_dict())
    for block in transformer_blocks(policy):
        fully_shard(block)
    fully_shard(policy)
    register_fsdp_forward_method(policy, "predict_values")
    for module in policy.modules():
        if isinstance(module, FSDPModule):  # sum over ranks (gloo has no AVG/PREMUL_SUM)
            module.set_gradient_divide_factor(1.0)
            module.set_force_sum_reduction_for_comms(True)
    policy.train()
    _loss(policy, slice(2 * rank, 2 * rank + 2), 4).backward()
    expected = {n: p.grad for n, p in reference.named_parameters() if p.requires_grad}
    errors = {
        name: (param.grad.full_tensor() - expected[name]).abs().max().item()
        for name, param in policy.named_parameters()
        if param.requires_grad
    }
    with torch.no_grad():
        values = policy.predict_values(OBSERVATIONS[:2])
        reference_values = reference.predict_values(OBSERVATIONS[:2])
    result: dict[str, Any] = {
        "max_error": max(errors.values()),
        "lora_params": sum("lora_" in n for n in errors),
        "value_error": (values - reference_values).abs().max().item(),
    }
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")
def test_blocks_shard_with_lora_and_gradient_checkpointing(
    tiny_decoder_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": "2",
        "GLOO_SOCKET_IFNAME": "lo",
        "OMP_NUM_THREADS": "1",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, str(tiny_decoder_dir), str(tmp_path)],
            env={**env, "RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=240)[0])
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
    result = json.loads((tmp_path / "rank0.json").read_text())
    assert result["lora_params"] > 0
    assert result["max_error"] < 1e-5
    assert result["value_error"] < 1e-5


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
