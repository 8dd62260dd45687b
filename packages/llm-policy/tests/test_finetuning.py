"""What one optimizer step changes under full, frozen and LoRA fine-tuning; checkpointing."""

from __future__ import annotations

import pytest
import torch
from transformers import T5Config, T5ForConditionalGeneration

from glam_policy import LLMPolicy, disable_dropout
from glam_policy.finetuning import is_gradient_checkpointing

OBSERVATIONS = [
    {
        "mission": "go to the red ball",
        "observation_history": ["You see a wall 2 steps forward", "You see a red ball 1 step left"],
        "action_history": ["turn left"],
        "admissible_actions": [
            "turn left",
            "turn right",
            "go forward",
            "pick up",
            "drop",
            "toggle",
        ],
    },
    {
        "mission": "pick up the blue key",
        "observation": "You see a blue key 3 steps forward",
        "admissible_actions": ["go forward", "pick up"],
    },
]


def ppo_like_loss(policy: LLMPolicy) -> torch.Tensor:
    """Actor and critic terms, as a PPO update would combine them."""
    logits, values = policy(OBSERVATIONS)
    dist = torch.distributions.Categorical(logits=logits)
    actions = torch.tensor([2, 1])
    return -dist.log_prob(actions).sum() + ((values - 1.0) ** 2).sum()


def one_step(policy: LLMPolicy) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Parameters (by name) before and after one Adam step."""
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    optimizer = torch.optim.Adam(policy.param_groups(lm_lr=1e-2, head_lr=1e-2))
    policy.train()
    ppo_like_loss(policy).backward()
    optimizer.step()
    policy.eval()
    after = {n: p.detach().clone() for n, p in policy.named_parameters()}
    return before, after


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {n for n in before if not torch.equal(before[n], after[n])}


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_lora_step_changes_only_adapters_and_heads(
    kind, tiny_decoder_dir, tiny_encoder_decoder_dir
) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    policy = LLMPolicy.from_config(
        {"model": str(directory), "finetuning": "lora", "value_hidden_sizes": [16]}
    )
    before, after = one_step(policy)
    moved = changed(before, after)
    assert any("lora_" in n for n in moved)
    assert any(n.startswith("value_head.") for n in moved)
    assert all("lora_" in n or n.startswith("value_head.") for n in moved), moved
    base = [n for n in before if n.startswith("lm.") and "lora_" not in n]
    assert base and not set(base) & moved


def test_frozen_step_changes_only_heads(tiny_decoder_dir) -> None:
    policy = LLMPolicy.from_config(
        {
            "model": str(tiny_decoder_dir),
            "finetuning": "frozen",
            "head": "action_heads",
            "actions": ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"],
            "value_hidden_sizes": [16],
            "action_head_hidden_sizes": [16],
        }
    )
    assert not any(p.requires_grad for p in policy.lm.parameters())
    before, after = one_step(policy)
    moved = changed(before, after)
    assert {n.split(".")[0] for n in moved} == {"value_head", "action_head"}


def test_full_step_changes_the_lm(tiny_encoder_decoder_dir) -> None:
    policy = LLMPolicy.from_config(
        {"model": str(tiny_encoder_decoder_dir), "value_hidden_sizes": [16]}
    )
    before, after = one_step(policy)
    moved = changed(before, after)
    assert any(n.startswith("lm.") for n in moved)
    assert any(n.startswith("value_head.") for n in moved)


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_gradient_checkpointing_gives_the_same_gradients(
    kind, tiny_decoder_dir, tiny_encoder_decoder_dir
) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    grads = []
    for checkpointing in (False, True):
        policy = LLMPolicy.from_config(
            {
                "model": str(directory),
                "gradient_checkpointing": checkpointing,
                "value_hidden_sizes": [16],
            }
        )
        policy.train()
        ppo_like_loss(policy).backward()
        grads.append(policy.hf_model.get_input_embeddings().weight.grad.clone())
        assert is_gradient_checkpointing(policy.hf_model) == checkpointing
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-5)


def test_disable_dropout_makes_train_mode_deterministic() -> None:
    config = T5Config(
        vocab_size=50,
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        dropout_rate=0.3,
        decoder_start_token_id=0,
    )
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config).train()
    inputs = {"input_ids": torch.tensor([[4, 5, 6]]), "decoder_input_ids": torch.tensor([[0, 7]])}
    assert not torch.equal(model(**inputs).logits, model(**inputs).logits)
    assert disable_dropout(model) > 0
    assert torch.equal(model(**inputs).logits, model(**inputs).logits)
