"""Loading: architecture detection, random weights (NPAE), dtypes, clear load errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from glam_policy import LLMPolicyConfig, ModelLoadError, load_language_model, position_limit
from glam_policy.loading import resolve_device


def config(model: Path | str, **fields) -> LLMPolicyConfig:
    return LLMPolicyConfig(model=str(model), **fields)


@pytest.mark.parametrize(
    ("fixture", "expected", "model_class"),
    [
        ("tiny_decoder_dir", "decoder", "GPT2LMHeadModel"),
        ("tiny_encoder_decoder_dir", "encoder-decoder", "T5ForConditionalGeneration"),
    ],
)
def test_architecture_is_detected(fixture, expected, model_class, request) -> None:
    loaded = load_language_model(config(request.getfixturevalue(fixture)))
    assert loaded.architecture == expected
    assert type(loaded.model).__name__ == model_class
    assert not loaded.model.training
    assert loaded.model.config._attn_implementation == "sdpa"


def test_pretrained_false_gives_seeded_random_weights(tiny_decoder_dir) -> None:
    pretrained = load_language_model(config(tiny_decoder_dir)).model
    random_a = load_language_model(config(tiny_decoder_dir, pretrained=False, seed=1)).model
    random_b = load_language_model(config(tiny_decoder_dir, pretrained=False, seed=1)).model
    random_c = load_language_model(config(tiny_decoder_dir, pretrained=False, seed=2)).model
    name = "transformer.h.0.mlp.c_fc.weight"
    weights = [dict(m.named_parameters())[name] for m in (pretrained, random_a, random_b, random_c)]
    assert torch.equal(weights[1], weights[2])  # same seed, same weights
    assert not torch.equal(weights[1], weights[3])
    assert not torch.equal(weights[0], weights[1])


def test_random_weights_leave_the_global_rng_alone(tiny_decoder_dir) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_language_model(config(tiny_decoder_dir, pretrained=False))
    assert torch.equal(torch.rand(3), expected)


def test_keep_pretrained_embeddings(tiny_encoder_decoder_dir) -> None:
    pretrained = load_language_model(config(tiny_encoder_decoder_dir)).model
    npae = load_language_model(
        config(tiny_encoder_decoder_dir, pretrained=False, keep_pretrained_embeddings=True, seed=5)
    ).model
    assert torch.equal(npae.get_input_embeddings().weight, pretrained.get_input_embeddings().weight)
    body = "encoder.block.0.layer.0.SelfAttention.q.weight"
    assert not torch.equal(
        dict(npae.named_parameters())[body], dict(pretrained.named_parameters())[body]
    )


@pytest.mark.parametrize(("name", "dtype"), [("bf16", torch.bfloat16), ("float16", torch.float16)])
def test_dtype(name, dtype, tiny_decoder_dir) -> None:
    loaded = load_language_model(config(tiny_decoder_dir, dtype=name))
    assert next(loaded.model.parameters()).dtype == dtype


def test_position_limit(tiny_decoder_dir, tiny_encoder_decoder_dir) -> None:
    decoder = load_language_model(config(tiny_decoder_dir))
    assert position_limit(decoder.model, decoder.tokenizer) == 512  # GPT-2's position table
    seq2seq = load_language_model(config(tiny_encoder_decoder_dir))
    assert position_limit(seq2seq.model, seq2seq.tokenizer) == 512  # the tokenizer's length


def test_device_auto_resolves(monkeypatch) -> None:
    assert resolve_device("auto") == torch.device("cpu")  # the conftest hides GPUs
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    # No index: the current CUDA device, which a distributed launcher sets per process.
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_dtype_auto_loads_float32_on_the_cpu(tiny_decoder_dir) -> None:
    loaded = load_language_model(config(tiny_decoder_dir, finetuning="frozen"))
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}


def test_empty_directory_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError) as info:
        load_language_model(config(tmp_path))
    message = str(info.value)
    assert message.startswith(f"cannot load model {str(tmp_path)!r}: ")
    assert "\n" not in message and info.value.model == str(tmp_path)


def test_broken_config_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_language_model(config(tmp_path))


def test_unknown_model_type_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(ModelLoadError, match="no-such-architecture"):
        load_language_model(config(tmp_path))


def test_missing_tokenizer_is_a_clear_error(tiny_decoder_dir, tmp_path) -> None:
    (tmp_path / "config.json").write_text((tiny_decoder_dir / "config.json").read_text())
    with pytest.raises(ModelLoadError, match="tokenizer"):
        load_language_model(config(tmp_path))


def test_wrong_architecture_override_is_a_clear_error(tiny_decoder_dir) -> None:
    with pytest.raises(ModelLoadError, match="GPT2Config") as info:
        load_language_model(config(tiny_decoder_dir, architecture="encoder-decoder"))
    assert len(str(info.value)) <= 600  # HF's list of every supported class is cut


def test_remote_code_stays_off(tmp_path) -> None:
    (tmp_path / "config.json").write_text(
        '{"model_type": "custom-thing", "auto_map": {"AutoConfig": "thing.ThingConfig"}}'
    )
    (tmp_path / "thing.py").write_text("raise RuntimeError('remote code must not run')\n")
    with pytest.raises(ModelLoadError) as info:
        load_language_model(config(tmp_path))
    assert "remote code must not run" not in str(info.value)


# --------------------------------------------------------------------- remote code


def _with_remote_code(source: Path, target: Path, file: str = "config.json") -> Path:
    """A copy of ``source`` whose ``file`` maps AutoConfig to a shipped Python file.

    The shipped file writes ``target/../MARKER`` when imported: the marker is the
    proof that remote code ran.
    """
    import json
    import shutil

    shutil.copytree(source, target)
    marker = target.parent / "MARKER"
    (target / "marker_code.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import GPT2Config\n\n\n"
        "class MarkerConfig(GPT2Config):\n"
        "    pass\n"
    )
    data = json.loads((target / file).read_text())
    data["auto_map"] = {"AutoConfig": "marker_code.MarkerConfig"}
    (target / file).write_text(json.dumps(data))
    return marker


@pytest.mark.parametrize("file", ["config.json", "tokenizer_config.json"])
def test_shipped_code_is_refused_naming_the_file(file, tiny_decoder_dir, tmp_path) -> None:
    from glam_policy.errors import RemoteCodeError

    marker = _with_remote_code(tiny_decoder_dir, tmp_path / "model", file)
    with pytest.raises(RemoteCodeError) as info:
        load_language_model(config(tmp_path / "model"))
    message = str(info.value)
    assert info.value.path == str(tmp_path / "model" / file)
    assert message.startswith(str(tmp_path / "model" / file)) and "auto_map" in message
    assert "trust_remote_code=True" in message and "\n" not in message
    assert not marker.exists()


def test_shipped_code_runs_only_when_the_caller_opts_in(
    tiny_decoder_dir, tmp_path, monkeypatch
) -> None:
    import sys

    import transformers.dynamic_module_utils as dynamic

    from glam_policy.loading import load_model_config

    # transformers copies the shipped file into its modules cache: keep it in tmp_path.
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    marker = _with_remote_code(tiny_decoder_dir, tmp_path / "model")
    hf_config = load_model_config(config(tmp_path / "model", trust_remote_code=True))
    assert type(hf_config).__name__ == "MarkerConfig"
    assert marker.read_text() == "ran"


def test_unreadable_weights_name_the_file(tiny_decoder_dir, tmp_path) -> None:
    import shutil

    shutil.copytree(tiny_decoder_dir, tmp_path / "model")
    weights = tmp_path / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError) as info:
        load_language_model(config(tmp_path / "model"))
    assert str(weights) in str(info.value) and "\n" not in str(info.value)
