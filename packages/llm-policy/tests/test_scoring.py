"""Exactness of the fast scoring strategies against one forward per (prompt, action) pair."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    BartConfig,
    BartForConditionalGeneration,
    PreTrainedModel,
)

from glam_policy.scoring import ActionScorer, default_strategy, plan_chunks

# fp32 sums of a few log-probabilities of magnitude up to ~200: 1e-5 absolute, plus
# float32 rounding relative to the magnitude.
ATOL, RTOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def decoder(tiny_decoder_dir: Path) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(tiny_decoder_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def seq2seq(tiny_encoder_decoder_dir: Path) -> PreTrainedModel:
    return AutoModelForSeq2SeqLM.from_pretrained(
        tiny_encoder_decoder_dir, dtype=torch.float32
    ).eval()


@pytest.fixture(scope="module")
def bart() -> PreTrainedModel:
    """An encoder-decoder with absolute positions: packing does not apply, 'expanded' must."""
    config = BartConfig(
        vocab_size=120,
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    torch.manual_seed(0)
    return BartForConditionalGeneration(config).eval()


def random_batch(
    vocab: int, seed: int, n: int = 6, with_value_only: bool = True
) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Prompts of different lengths (padding), 1-5 actions of 1-4 tokens, one without actions."""
    rng = random.Random(seed)
    prompts = [[rng.randrange(3, vocab) for _ in range(rng.randint(2, 25))] for _ in range(n)]
    actions = [
        [
            [rng.randrange(3, vocab) for _ in range(rng.randint(1, 4))]
            for _ in range(rng.randint(1, 5))
        ]
        for _ in range(n)
    ]
    actions[1] = [[rng.randrange(3, vocab)] for _ in range(3)]  # single-token actions only
    if with_value_only:
        actions[2] = []  # value pass only
    return prompts, actions


def assert_same(result, reference) -> None:
    finite = torch.isfinite(reference.logprobs)
    assert torch.equal(finite, torch.isfinite(result.logprobs))
    torch.testing.assert_close(
        result.logprobs[finite], reference.logprobs[finite], atol=ATOL, rtol=RTOL
    )
    torch.testing.assert_close(result.hidden, reference.hidden, atol=1e-5, rtol=1e-5)


def scorer(model, architecture, strategy, **kwargs) -> ActionScorer:
    start = getattr(model.config, "decoder_start_token_id", None)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    return ActionScorer(
        model,
        architecture,
        pad_token_id=pad,
        decoder_start_token_id=start,
        strategy=strategy,
        **kwargs,
    )


def direct_logprob(model, architecture, prompt, action, start=None) -> float:
    """Independent formula: one unpadded forward, log-softmax, sum the action tokens."""
    with torch.no_grad():
        if architecture == "decoder":
            ids = torch.tensor([prompt + action])
            logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1]
        else:
            logits = model(
                input_ids=torch.tensor([prompt]),
                decoder_input_ids=torch.tensor([[start, *action[:-1]]]),
            ).logits[0]
    logp = torch.log_softmax(logits, dim=-1)
    return float(logp[torch.arange(len(action)), torch.tensor(action)].sum())


@pytest.mark.parametrize("architecture", ["decoder", "encoder-decoder"])
def test_naive_matches_the_definition(architecture, decoder, seq2seq) -> None:
    model = decoder if architecture == "decoder" else seq2seq
    prompts, actions = random_batch(model.config.vocab_size, seed=1, n=3, with_value_only=False)
    with torch.no_grad():
        result = scorer(model, architecture, "naive")(prompts, actions)
    for i, acts in enumerate(actions):
        for k, action in enumerate(acts):
            expected = direct_logprob(
                model,
                architecture,
                prompts[i],
                action,
                getattr(model.config, "decoder_start_token_id", None),
            )
            assert result.logprobs[i, k].item() == pytest.approx(expected, abs=1e-4, rel=1e-6)


@pytest.mark.parametrize("architecture", ["decoder", "encoder-decoder"])
@pytest.mark.parametrize("strategy", ["packed", "expanded"])
@pytest.mark.parametrize("token_budget", [8192, 40])
def test_fast_strategies_equal_naive(
    architecture, strategy, token_budget, decoder, seq2seq
) -> None:
    model = decoder if architecture == "decoder" else seq2seq
    prompts, actions = random_batch(model.config.vocab_size, seed=token_budget)
    with torch.no_grad():
        reference = scorer(model, architecture, "naive")(prompts, actions)
        result = scorer(model, architecture, strategy, token_budget=token_budget)(prompts, actions)
    assert result.logprobs.shape == (len(prompts), max(len(a) for a in actions))
    assert torch.isinf(result.logprobs[2]).all()  # the value-only observation
    assert_same(result, reference)


def test_naive_batched_equals_naive_single(decoder) -> None:
    prompts, actions = random_batch(decoder.config.vocab_size, seed=3)
    with torch.no_grad():
        single = scorer(decoder, "decoder", "naive")(prompts, actions)
        batched = scorer(decoder, "decoder", "naive", naive_batch_size=7)(prompts, actions)
    assert_same(batched, single)


def test_expanded_fallback_for_absolute_position_encoder_decoder(bart) -> None:
    assert default_strategy(bart, "encoder-decoder") == "expanded"
    prompts, actions = random_batch(bart.config.vocab_size, seed=4)
    with torch.no_grad():
        reference = scorer(bart, "encoder-decoder", "naive")(prompts, actions)
        result = scorer(bart, "encoder-decoder", "auto", token_budget=50)(prompts, actions)
    assert_same(result, reference)


def test_auto_strategy_packs_gpt2_and_t5(decoder, seq2seq) -> None:
    assert default_strategy(decoder, "decoder") == "packed"
    assert default_strategy(seq2seq, "encoder-decoder") == "packed"


def test_packed_gradients_equal_naive_gradients(decoder) -> None:
    prompts, actions = random_batch(decoder.config.vocab_size, seed=5, n=3, with_value_only=False)
    grads = []
    for strategy in ("naive", "packed"):
        decoder.zero_grad()
        result = scorer(decoder, "decoder", strategy)(prompts, actions)
        finite = torch.isfinite(result.logprobs)
        (result.logprobs[finite].sum() + result.hidden.sum()).backward()
        grads.append(decoder.get_input_embeddings().weight.grad.clone())
    decoder.zero_grad()
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-4)


def test_chunks_respect_the_budget_and_cover_everything() -> None:
    costs = [5, 50, 7, 7, 30, 200, 1]
    chunks = plan_chunks(costs, token_budget=60)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(costs)))
    for chunk in chunks:
        widest = max(costs[i] for i in chunk)
        assert len(chunk) * widest <= 60 or len(chunk) == 1
    assert [5] in chunks  # larger than the budget: alone
    with pytest.raises(ValueError, match="token_budget"):
        plan_chunks(costs, token_budget=0)


def test_bad_scorer_inputs(decoder) -> None:
    score = scorer(decoder, "decoder", "packed")
    with pytest.raises(ValueError, match="prompt 0 has no tokens"):
        score([[]], [[[5]]])
    with pytest.raises(ValueError, match="action 1 of observation 0 has no tokens"):
        score([[4, 5]], [[[5], []]])
    with pytest.raises(ValueError, match="2 prompts but 1 action lists"):
        score([[4], [5]], [[[5]]])
    with pytest.raises(ValueError, match="strategy"):
        scorer(decoder, "decoder", "fastest")
    with pytest.raises(ValueError, match="architecture"):
        scorer(decoder, "causal", "packed")
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        ActionScorer(decoder, "encoder-decoder", pad_token_id=0)
