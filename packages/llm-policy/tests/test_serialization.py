"""save_pretrained / from_pretrained: identical outputs, no pickle, atomic replacement."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from glam_policy import LLMPolicy, LLMPolicyConfig

ACTIONS = ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"]
OBSERVATIONS = [
    {
        "mission": "go to the red ball",
        "observation_history": ["You see a wall 2 steps forward", "You see a red ball 1 step left"],
        "action_history": ["turn left"],
        "admissible_actions": ACTIONS,
    },
    {
        "mission": "pick up the blue key",
        "observation": "You see a blue key 3 steps forward",
        "admissible_actions": ["go forward", "pick up"],
    },
]


def train_a_little(policy: LLMPolicy) -> None:
    """One step, so that saved weights differ from any initialisation (LoRA B starts at 0)."""
    optimizer = torch.optim.SGD(policy.param_groups(lm_lr=0.1, head_lr=0.1))
    logits, values = policy(OBSERVATIONS)
    (-torch.log_softmax(logits, -1)[:, 0].sum() + values.square().sum()).backward()
    optimizer.step()
    optimizer.zero_grad()


def assert_round_trip(policy: LLMPolicy, directory: Path, **overrides) -> LLMPolicy:
    logits, values = policy(OBSERVATIONS)
    policy.save_pretrained(directory)
    loaded = LLMPolicy.from_pretrained(directory, **overrides)
    new_logits, new_values = loaded(OBSERVATIONS)
    assert torch.equal(new_logits, logits)
    assert torch.equal(new_values, values)
    return loaded


def files_of(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def assert_no_pickle(directory: Path) -> None:
    for name in files_of(directory):
        assert not name.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle")), name


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_full_round_trip(kind, tiny_decoder_dir, tiny_encoder_decoder_dir, tmp_path) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    policy = LLMPolicy.from_config({"model": str(directory), "value_hidden_sizes": [16]})
    train_a_little(policy)
    assert_round_trip(policy, tmp_path / "policy")
    names = files_of(tmp_path / "policy")
    assert {"policy_config.json", "heads.safetensors", "lm/config.json"} <= names
    assert "lm/model.safetensors" in names and "lm/tokenizer.json" in names
    assert_no_pickle(tmp_path / "policy")
    saved = LLMPolicyConfig.from_file(tmp_path / "policy" / "policy_config.json")
    assert saved == policy.config


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_lora_round_trip(kind, tiny_decoder_dir, tiny_encoder_decoder_dir, tmp_path) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    policy = LLMPolicy.from_config(
        {"model": str(directory), "finetuning": "lora", "value_hidden_sizes": [16]}
    )
    train_a_little(policy)
    loaded = assert_round_trip(policy, tmp_path / "policy")
    names = files_of(tmp_path / "policy")
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= names
    assert_no_pickle(tmp_path / "policy")
    # The base weights are saved without the adapters, and only adapters train after loading.
    trainable = {n for n, p in loaded.lm.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_npae_round_trip_with_random_weights(tiny_decoder_dir, tmp_path) -> None:
    policy = LLMPolicy.from_config(
        {
            "model": str(tiny_decoder_dir),
            "pretrained": False,
            "seed": 3,
            "head": "action_heads",
            "actions": ACTIONS,
            "value_hidden_sizes": [16],
            "action_head_hidden_sizes": [16],
        }
    )
    train_a_little(policy)
    loaded = assert_round_trip(policy, tmp_path / "npae")
    assert loaded.config.pretrained is False  # the config is kept as it was
    assert loaded.action_head is not None and loaded.action_head.actions == tuple(ACTIONS)


def test_saving_over_an_existing_policy_replaces_it(tiny_decoder_dir, tmp_path) -> None:
    target = tmp_path / "policy"
    first = LLMPolicy.from_config({"model": str(tiny_decoder_dir), "value_hidden_sizes": [16]})
    first.save_pretrained(target)
    second = LLMPolicy.from_config(
        {"model": str(tiny_decoder_dir), "value_hidden_sizes": [8], "seed": 1}
    )
    assert_round_trip(second, target)
    assert json.loads((target / "policy_config.json").read_text())["value_hidden_sizes"] == [8]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "policy"]
    assert leftovers == []


def test_a_saved_policy_is_an_ordinary_folder(tiny_decoder_dir, tmp_path) -> None:
    import os

    policy = LLMPolicy.from_config({"model": str(tiny_decoder_dir), "value_hidden_sizes": [16]})
    umask = os.umask(0o022)
    try:
        target = policy.save_pretrained(tmp_path / "policy")
    finally:
        os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o755
    modes = {p.name: p.stat().st_mode & 0o777 for p in target.rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o644}, modes  # safetensors alone would write 0600


def test_overrides_apply_when_loading(tiny_decoder_dir, tmp_path) -> None:
    policy = LLMPolicy.from_config({"model": str(tiny_decoder_dir), "value_hidden_sizes": [16]})
    logits, _ = policy(OBSERVATIONS)
    policy.save_pretrained(tmp_path / "policy")
    loaded = LLMPolicy.from_pretrained(tmp_path / "policy", token_budget=64, scoring="naive")
    assert loaded.config.token_budget == 64 and loaded.scorer.strategy == "naive"
    # Another strategy and chunking: the same numbers up to float32 rounding.
    torch.testing.assert_close(loaded(OBSERVATIONS)[0], logits, atol=1e-5, rtol=1e-6)


def test_loading_something_that_is_not_a_policy_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"policy_config\.json is missing"):
        LLMPolicy.from_pretrained(tmp_path)


# --------------------------------------------------------------------- trust and damage


@pytest.fixture
def saved(tiny_decoder_dir, tmp_path) -> Path:
    policy = LLMPolicy.from_config({"model": str(tiny_decoder_dir), "value_hidden_sizes": [8]})
    return policy.save_pretrained(tmp_path / "policy")


def _ask_for_remote_code(directory: Path) -> None:
    config_path = directory / "policy_config.json"
    data = json.loads(config_path.read_text())
    data["trust_remote_code"] = True
    config_path.write_text(json.dumps(data))


def test_a_saved_policy_cannot_turn_on_remote_code(saved) -> None:
    from glam_policy.errors import RemoteCodeError

    _ask_for_remote_code(saved)
    with pytest.raises(RemoteCodeError) as info:
        LLMPolicy.from_pretrained(saved)
    assert info.value.path == str(saved / "policy_config.json")
    assert "trust_remote_code=True" in str(info.value)


def test_the_callers_argument_decides_remote_code(saved) -> None:
    config_path = saved / "policy_config.json"
    # The file says false: the caller's opt-in still applies (the file never decides).
    assert LLMPolicyConfig.from_file(config_path, trust_remote_code=True).trust_remote_code
    _ask_for_remote_code(saved)
    loaded = LLMPolicy.from_pretrained(saved, trust_remote_code=True)
    assert loaded.config.trust_remote_code is True


def test_a_config_file_saying_true_in_any_spelling_is_refused(tmp_path) -> None:
    from glam_policy.errors import RemoteCodeError

    for value in ("true", "yes", "1"):
        path = tmp_path / f"policy-{value}.yaml"
        path.write_text(f"model: gpt2\ntrust_remote_code: {value}\n")
        with pytest.raises(RemoteCodeError, match=re.escape(str(path))):
            LLMPolicyConfig.from_file(path)
    path.write_text("model: gpt2\ntrust_remote_code: false\n")
    assert LLMPolicyConfig.from_file(path).trust_remote_code is False


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle", "missing"])
def test_damaged_heads_are_a_clear_error_naming_the_file(saved, damage, monkeypatch) -> None:
    import pickle

    from glam_policy.errors import SavedPolicyError

    heads = saved / "heads.safetensors"
    if damage == "truncated":
        heads.write_bytes(heads.read_bytes()[:40])
    elif damage == "garbage":
        heads.write_bytes(b"\x00\xff" * 64)
    elif damage == "pickle":
        heads.write_bytes(pickle.dumps({"value_head.0.weight": [1.0]}))
    else:
        heads.unlink()

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    with pytest.raises(SavedPolicyError) as info:
        LLMPolicy.from_pretrained(saved)
    assert str(heads) in str(info.value) and "\n" not in str(info.value)


def test_a_truncated_policy_config_is_a_clear_error_naming_the_file(saved) -> None:
    config_path = saved / "policy_config.json"
    config_path.write_text(config_path.read_text()[:30])
    with pytest.raises(ValueError, match=r"policy_config\.json is not valid JSON"):
        LLMPolicy.from_pretrained(saved)
