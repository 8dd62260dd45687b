"""LLMPolicyConfig: defaults, aliases, files, and errors that name the bad field."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from glam_policy import LLMPolicyConfig, PromptTemplate


def test_defaults_follow_the_paper() -> None:
    cfg = LLMPolicyConfig(model="some/model")
    assert cfg.architecture == "auto" and cfg.pretrained
    assert cfg.device == "auto" and cfg.dtype == "auto" and cfg.autocast == "auto"
    assert cfg.template == "paper" and cfg.normalization == "sum" and cfg.head == "scoring"
    assert cfg.value_hidden_sizes == [1024, 1024] and cfg.finetuning == "full"
    assert cfg.trust_remote_code is False


@pytest.mark.parametrize(
    ("alias", "name"), [("fp32", "float32"), ("BF16", "bfloat16"), ("fp16", "float16")]
)
def test_dtype_aliases(alias, name) -> None:
    assert LLMPolicyConfig(model="m", dtype=alias).dtype == name


@pytest.mark.parametrize(
    ("alias", "name"),
    [("BF16", "bfloat16"), ("half", "float16"), ("none", "off"), (False, "off"), ("auto", "auto")],
)
def test_autocast_aliases(alias, name) -> None:
    # False: YAML reads a bare ``autocast: off`` as a boolean.
    assert LLMPolicyConfig(model="m", autocast=alias).autocast == name


def test_autocast_off_from_yaml(tmp_path) -> None:
    (tmp_path / "policy.yaml").write_text("model: m\nautocast: off\n")
    assert LLMPolicyConfig.from_file(tmp_path / "policy.yaml").autocast == "off"


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_devices_are_checked_by_form_only(device) -> None:
    # A GPU config must stay readable on a machine without one.
    assert LLMPolicyConfig(model="m", device=device).device == device


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dtype": "int8"}, "unknown dtype 'int8'"),
        ({"device": "gpu7"}, "unknown device 'gpu7'; use 'auto', 'cpu', 'cuda', 'cuda:N'"),
        ({"autocast": "int8"}, "unknown autocast 'int8'; allowed: auto, off, bfloat16"),
        ({"autocast": True}, "unknown autocast True"),
        ({"template": "pirate"}, "unknown prompt template 'pirate'"),
        ({"normalization": "max"}, "normalization"),
        ({"finetuning": "qlora"}, "finetuning"),
        ({"token_budget": 0}, "token_budget"),
        ({"max_prompt_tokens": -5}, "max_prompt_tokens"),
        ({"value_hidden_sizes": [64, 0]}, "hidden sizes must be positive"),
        ({"head": "action_heads"}, "needs the fixed action list"),
        ({"head": "action_heads", "actions": ["a", "a"]}, "repeated: a"),
        ({"actions": []}, "actions must not be empty"),
        ({"keep_pretrained_embeddings": True}, "only applies with pretrained=False"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"modle": "typo"}, "modle"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_values_name_the_field(fields, message) -> None:
    with pytest.raises(ValidationError, match=message):
        LLMPolicyConfig.from_dict({"model": "m", **fields})


def test_custom_template_from_a_mapping() -> None:
    cfg = LLMPolicyConfig(model="m", template={"goal_line": "Mission: {goal}"})
    assert isinstance(cfg.template, PromptTemplate) and cfg.template.goal_line == "Mission: {goal}"
    with pytest.raises(ValidationError, match="unknown field"):
        LLMPolicyConfig(model="m", template={"goal_line": "Mission: {mision}"})


def test_json_and_yaml_files(tmp_path) -> None:
    data = {"model": "m", "dtype": "bf16", "lora": {"r": 4}, "finetuning": "lora"}
    (tmp_path / "policy.json").write_text(json.dumps(data))
    (tmp_path / "policy.yaml").write_text(
        "model: m\ndtype: bf16\nfinetuning: lora\nlora:\n  r: 4\n"
    )
    from_json = LLMPolicyConfig.from_file(tmp_path / "policy.json")
    from_yaml = LLMPolicyConfig.from_file(tmp_path / "policy.yaml")
    assert from_json == from_yaml and from_yaml.lora.r == 4 and from_yaml.dtype == "bfloat16"
    custom = LLMPolicyConfig(model="m", template={"query": "Next:"})
    (tmp_path / "round.json").write_text(custom.to_json())
    assert LLMPolicyConfig.from_file(tmp_path / "round.json") == custom
    (tmp_path / "policy.toml").write_text("model = 'm'")
    with pytest.raises(ValueError, match=r"must end in \.json, \.yaml or \.yml"):
        LLMPolicyConfig.from_file(tmp_path / "policy.toml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        LLMPolicyConfig.from_file(tmp_path / "list.yaml")
