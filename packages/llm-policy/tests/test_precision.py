"""Devices and precision: what "auto" resolves to, explicit values, autocast, float32 heads.

The conftest hides any real GPU, so "auto" means the CPU here; a bf16-capable CUDA
device is simulated by monkeypatching ``torch.cuda``: only the resolution rules run
there, nothing is moved to a GPU. Everything that computes does so on the CPU,
where autocast supports bfloat16 too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
import torch

from glam_policy import (
    ActionScorer,
    LLMPolicy,
    LLMPolicyConfig,
    ModelLoadError,
    Precision,
    load_language_model,
    resolve_precision,
)
from glam_policy.loading import device_unavailable
from glam_policy.precision import cuda_bf16_supported, precision_warnings

OBSERVATIONS = [
    {
        "mission": "go to the red ball",
        "observation_history": ["You see a wall 2 steps forward", "You see a red ball 1 step left"],
        "action_history": ["turn left"],
        "admissible_actions": ["turn left", "turn right", "go forward", "pick up", "toggle"],
    },
    {
        "mission": "pick up the blue key",
        "observation": "You see a blue key 3 steps forward",
        "admissible_actions": ["go forward", "toggle"],
    },
]
CPU = torch.device("cpu")
CUDA = torch.device("cuda")
F32, BF16, F16 = torch.float32, torch.bfloat16, torch.float16


def cfg(**fields) -> LLMPolicyConfig:
    return LLMPolicyConfig(model="m", **fields)


def small(directory: Path, **fields) -> LLMPolicy:
    return LLMPolicy.from_config({"model": str(directory), "value_hidden_sizes": [16], **fields})


@pytest.fixture
def bf16_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CUDA device with native bfloat16 (Ampere or newer)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)


@pytest.fixture
def emulating_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pre-Ampere CUDA device: torch says bf16 works, but only by emulation."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation
    )


def finite_pairs(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    present = torch.isfinite(a)
    assert torch.equal(present, torch.isfinite(b)), "the same entries must be padding"
    return a[present], b[present]


# ---------------------------------------------------------------------- rules


@pytest.mark.parametrize("finetuning", ["full", "frozen", "lora"])
def test_auto_is_exact_float32_on_the_cpu(finetuning) -> None:
    precision = resolve_precision(cfg(finetuning=finetuning), CPU)
    assert precision == Precision(storage_dtype=F32, autocast_dtype=None)
    assert precision.exact and precision.describe() == "float32 weights, no autocast"


@pytest.mark.parametrize(
    ("fields", "storage", "autocast"),
    [
        ({"finetuning": "full"}, F32, BF16),  # trained weights stay float32
        ({"finetuning": "frozen"}, BF16, BF16),
        ({"finetuning": "lora"}, BF16, BF16),  # adapters are float32, see below
        ({"finetuning": "lora", "lora": {"bias": "all"}}, F32, BF16),  # base biases train
        ({"finetuning": "frozen", "dtype": "float32"}, F32, BF16),
        ({"finetuning": "full", "dtype": "bf16"}, BF16, BF16),
        ({"finetuning": "frozen", "autocast": "off"}, BF16, None),
        ({"finetuning": "full", "autocast": "float16"}, F32, F16),
        ({"finetuning": "frozen", "dtype": "float16"}, F16, None),  # fp16 weights compute as such
    ],
)
def test_rules_on_a_bf16_capable_cuda_device(bf16_cuda, fields, storage, autocast) -> None:
    assert cuda_bf16_supported()
    assert resolve_precision(cfg(**fields), CUDA) == Precision(storage, autocast)


@pytest.mark.parametrize("finetuning", ["full", "frozen", "lora"])
def test_a_gpu_that_only_emulates_bf16_stays_float32(emulating_cuda, finetuning) -> None:
    assert not cuda_bf16_supported()
    assert resolve_precision(cfg(finetuning=finetuning), CUDA) == Precision(F32, None)


def test_explicit_values_win_on_the_cpu() -> None:
    assert resolve_precision(cfg(dtype="bf16"), CPU) == Precision(BF16, None)
    assert resolve_precision(cfg(autocast="bf16"), CPU) == Precision(F32, BF16)
    assert resolve_precision(cfg(dtype="fp16", autocast="fp16"), CPU) == Precision(F16, F16)


def test_precision_is_a_frozen_value() -> None:
    precision = Precision(BF16, BF16)
    assert precision.describe() == "bfloat16 weights, bfloat16 autocast"
    assert not precision.exact
    with pytest.raises(dataclasses.FrozenInstanceError):
        precision.storage_dtype = F32  # type: ignore[misc]


def test_warnings_for_trained_weights_in_low_precision() -> None:
    (note,) = precision_warnings(cfg(finetuning="full"), Precision(BF16, None))
    assert "updates smaller than its resolution" in note
    assert precision_warnings(cfg(finetuning="frozen"), Precision(BF16, BF16)) == []
    assert precision_warnings(cfg(finetuning="lora"), Precision(BF16, BF16)) == []
    (note,) = precision_warnings(cfg(finetuning="lora"), Precision(F32, F16))
    assert "loss scaling" in note


# ---------------------------------------------------------------------- devices


def test_auto_device_resolves_to_the_cpu_here(tiny_decoder_dir, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="glam_policy"):
        policy = small(tiny_decoder_dir)
    assert policy.config.device == "auto" and policy.device == CPU
    assert policy.precision == Precision(F32, None)
    assert {p.dtype for p in policy.parameters()} == {F32}
    built = [r.getMessage() for r in caplog.records if r.getMessage().startswith("LLM policy:")]
    assert len(built) == 1 and built[0].endswith("on cpu with float32 weights, no autocast")


def test_a_missing_gpu_is_a_one_line_load_error(tiny_decoder_dir) -> None:
    assert device_unavailable(CPU) is None
    with pytest.raises(ModelLoadError) as info:
        load_language_model(cfg(device="cuda").model_copy(update={"model": str(tiny_decoder_dir)}))
    message = str(info.value)
    assert "device 'cuda' is not available" in message and "use device 'auto' or 'cpu'" in message
    assert "\n" not in message


def test_a_gpu_index_past_the_count_is_unavailable(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device_unavailable(torch.device("cuda:1")) is None
    assert "has 2 CUDA GPU(s)" in str(device_unavailable(torch.device("cuda:2")))


def test_saved_with_auto_loads_on_the_cpu(tiny_decoder_dir, tmp_path) -> None:
    small(tiny_decoder_dir, finetuning="frozen").save_pretrained(tmp_path / "policy")
    saved = json.loads((tmp_path / "policy" / "policy_config.json").read_text())
    assert saved["device"] == "auto" and saved["dtype"] == "auto"
    loaded = LLMPolicy.from_pretrained(tmp_path / "policy")
    assert loaded.device == CPU and loaded.precision == Precision(F32, None)


def test_saved_for_a_gpu_loads_on_the_cpu_when_asked(tiny_decoder_dir, tmp_path) -> None:
    small(tiny_decoder_dir, device="cpu").save_pretrained(tmp_path / "policy")
    path = tmp_path / "policy" / "policy_config.json"
    path.write_text(path.read_text().replace('"device": "cpu"', '"device": "cuda"'))
    with pytest.raises(ModelLoadError, match="device 'cuda' is not available"):
        LLMPolicy.from_pretrained(tmp_path / "policy")
    assert LLMPolicy.from_pretrained(tmp_path / "policy", device="cpu").device == CPU


# ---------------------------------------------------------------------- computing


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_bf16_autocast_on_the_cpu_is_float32_and_close(
    kind, tiny_decoder_dir, tiny_encoder_decoder_dir
) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    exact, fast = small(directory), small(directory, autocast="bfloat16")
    assert fast.precision == Precision(F32, BF16)
    with torch.no_grad():
        logits, values = exact(OBSERVATIONS)
        fast_logits, fast_values = fast(OBSERVATIONS)
    assert fast_logits.dtype == F32 and fast_values.dtype == F32
    a, b = finite_pairs(logits, fast_logits)
    difference = (a - b).abs().max()
    # Measured with the nano models: ~1e-3 (decoder) and ~2e-2 (T5) on log-probs of
    # magnitude ~10-20, i.e. ~1e-4 relative; bf16 itself resolves ~4e-3 relative.
    assert 0 < difference < 0.01 * a.abs().mean()
    assert torch.allclose(values, fast_values, atol=1e-2)


@pytest.mark.parametrize("strategy", ["packed", "expanded", "naive"])
@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_scorer_masks_follow_the_autocast_dtype(
    kind, strategy, tiny_decoder_dir, tiny_encoder_decoder_dir
) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    policy = small(directory, scoring=strategy)
    encoded = policy.encoder.encode(OBSERVATIONS)
    scorer = policy.scorer
    autocast = ActionScorer(
        policy.lm,
        policy.architecture,
        pad_token_id=scorer.pad_token_id,
        decoder_start_token_id=scorer.decoder_start_token_id,
        strategy=strategy,
        autocast_dtype=BF16,
    )
    allowed = torch.ones(1, 3, 3, dtype=torch.bool).tril()
    assert scorer._additive_mask(allowed).dtype == F32
    mask = autocast._additive_mask(allowed)
    assert mask.dtype == BF16 and mask.min() == torch.finfo(BF16).min
    with torch.autocast("cpu", dtype=BF16):  # a caller's autocast counts as well
        assert scorer._additive_mask(allowed).dtype == BF16
    with torch.no_grad():
        exact = scorer(encoded.prompt_ids, encoded.action_ids)
        fast = autocast(encoded.prompt_ids, encoded.action_ids)
    assert fast.logprobs.dtype == F32
    a, b = finite_pairs(exact.logprobs, fast.logprobs)
    assert torch.isfinite(b).all()
    assert (a - b).abs().max() < 0.01 * a.abs().mean()


def test_heads_stay_float32_inside_a_callers_autocast(tiny_decoder_dir) -> None:
    policy = small(tiny_decoder_dir, autocast="bfloat16")
    with torch.no_grad():
        logits, values = policy(OBSERVATIONS)
        with torch.autocast("cpu", dtype=BF16):
            outer_logits, outer_values = policy(OBSERVATIONS)
    assert outer_values.dtype == F32 and torch.equal(values, outer_values)
    assert torch.equal(logits, outer_logits)


def test_action_heads_are_float32_on_a_bf16_lm(tiny_decoder_dir) -> None:
    actions = ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"]
    policy = small(
        tiny_decoder_dir,
        head="action_heads",
        actions=actions,
        action_head_hidden_sizes=[16],
        finetuning="frozen",
        dtype="bf16",
        autocast="bf16",
    )
    assert {p.dtype for p in policy.hf_model.parameters()} == {BF16}
    assert {p.dtype for m in policy.head_modules() for p in m.parameters()} == {F32}
    logits, values = policy(OBSERVATIONS)
    assert logits.dtype == F32 and values.dtype == F32
    assert torch.isfinite(values).all()


def test_full_training_under_bf16_autocast_keeps_float32_weights_and_grads(
    tiny_decoder_dir,
) -> None:
    policy = small(tiny_decoder_dir, autocast="bfloat16")
    policy.train()
    logits, values = policy(OBSERVATIONS)
    (logits[torch.isfinite(logits)].sum() + values.sum()).backward()
    grads = [p.grad for p in policy.lm_parameters() if p.grad is not None]
    assert grads and {g.dtype for g in grads} == {F32}
    assert all(torch.isfinite(g).all() for g in grads)


def test_lora_adapters_stay_float32_on_a_bf16_base(tiny_decoder_dir, tmp_path) -> None:
    policy = small(tiny_decoder_dir, finetuning="lora", dtype="bf16", autocast="bf16")
    base = [p for n, p in policy.lm.named_parameters() if "lora_" not in n]
    adapters = {n: p for n, p in policy.lm.named_parameters() if "lora_" in n}
    assert adapters and {p.dtype for p in base} == {BF16}
    assert {p.dtype for p in adapters.values()} == {F32}
    assert {p.dtype for p in policy.lm_parameters()} == {F32}
    policy.train()
    logits, values = policy(OBSERVATIONS)
    (logits[torch.isfinite(logits)].sum() + values.sum()).backward()
    assert all(p.grad is not None and p.grad.dtype == F32 for p in adapters.values())
    policy.save_pretrained(tmp_path / "policy")
    loaded = LLMPolicy.from_pretrained(tmp_path / "policy")
    assert loaded.precision == Precision(BF16, BF16)
    assert {p.dtype for p in loaded.lm_parameters()} == {F32}


def test_from_pretrained_overrides_precision_and_device(tiny_decoder_dir, tmp_path) -> None:
    small(tiny_decoder_dir, finetuning="frozen").save_pretrained(tmp_path / "policy")
    loaded = LLMPolicy.from_pretrained(
        tmp_path / "policy", dtype="bf16", autocast="bf16", device="cpu"
    )
    assert loaded.config.device == "cpu" and loaded.precision == Precision(BF16, BF16)
    assert {p.dtype for p in loaded.hf_model.parameters()} == {BF16}
    logits, values = loaded(OBSERVATIONS)
    assert logits.dtype == F32 and values.dtype == F32
