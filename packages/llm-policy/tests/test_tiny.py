"""Tiny offline models: tokenizer coverage, sizes, determinism and hub-like loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GPT2LMHeadModel,
    T5ForConditionalGeneration,
)

from glam_policy.tiny import (
    MODEL_KINDS,
    TINY_SIZES,
    build_tiny_model,
    count_non_embedding_parameters,
    default_corpus,
    get_tiny_spec,
    make_tiny_model_dir,
    save_tiny_model,
    train_bpe_tokenizer,
)

UNSEEN = [
    "pick up the dax",
    "go to the xolo next to the afze",
    "You see a faze croh vurst 3 steps forward",
    "Tu vois une boîte violette à gauche, lâcher, élève, Noël, naïve",
    "emoji 🦜 and 中文",
]
AUTO = {"decoder": AutoModelForCausalLM, "encoder-decoder": AutoModelForSeq2SeqLM}


@pytest.mark.parametrize("text", UNSEEN)
def test_tokenizer_round_trips_unseen_text_without_unknown_tokens(tiny_tokenizer, text):
    ids = tiny_tokenizer(text, add_special_tokens=False).input_ids
    assert ids, "every non-empty text must give tokens"
    assert tiny_tokenizer.unk_token_id is None
    assert tiny_tokenizer.decode(ids) == text


def test_tokenizer_special_tokens(tiny_tokenizer):
    assert (tiny_tokenizer.pad_token_id, tiny_tokenizer.eos_token_id) == (0, 1)
    assert tiny_tokenizer.bos_token_id == 2
    # GPT-2 style: nothing appended by default.
    assert tiny_tokenizer("go to the red ball").input_ids[-1] != tiny_tokenizer.eos_token_id


def test_tokenizer_learns_merges_from_the_corpus(tiny_tokenizer):
    text = "go to the red ball"
    assert len(tiny_tokenizer(text).input_ids) < len(text.encode()) / 2
    assert 300 < len(tiny_tokenizer) <= 1000


def test_tokenizer_with_eos_appends_it_like_t5():
    tok = train_bpe_tokenizer(default_corpus(50), 400, add_eos=True)
    ids = tok("go to the dax").input_ids
    assert ids[-1] == tok.eos_token_id
    assert tok("go to the dax", add_special_tokens=False).input_ids == ids[:-1]


def test_tokenizer_is_deterministic():
    a = train_bpe_tokenizer(default_corpus(100), 500)
    b = train_bpe_tokenizer(default_corpus(100), 500)
    assert a.get_vocab() == b.get_vocab()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"texts": [], "vocab_size": 500}, "at least one non-empty"),
        ({"texts": ["a b"], "vocab_size": 100}, "vocab_size must be at least"),
        ({"texts": ["a b"], "min_frequency": 0}, "min_frequency"),
        ({"texts": ["a b"], "model_max_length": 0}, "model_max_length"),
    ],
)
def test_tokenizer_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_bpe_tokenizer(**kwargs)


def test_default_corpus_is_deterministic_and_bilingual():
    corpus = default_corpus(200, seed=3)
    assert corpus == default_corpus(200, seed=3)
    assert corpus != default_corpus(200, seed=4)
    assert any(s.startswith("Tu ") for s in corpus)
    assert any(s.startswith("You see") for s in corpus)
    with pytest.raises(ValueError, match="n_sentences"):
        default_corpus(0)


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("size", list(TINY_SIZES))
def test_every_size_has_about_its_stated_parameter_count(tiny_tokenizer, kind, size):
    with torch.device("meta"):  # no memory or init time, only shapes
        model = build_tiny_model(kind, size, tiny_tokenizer)
    expected = get_tiny_spec(size).approx_non_embedding_params
    assert 0.75 * expected <= count_non_embedding_parameters(model) <= 1.25 * expected
    assert model.config.vocab_size == len(tiny_tokenizer)


def test_build_uses_the_right_architecture_and_special_ids(tiny_tokenizer):
    gpt = build_tiny_model("decoder", "nano", tiny_tokenizer, max_positions=64)
    t5 = build_tiny_model("encoder-decoder", "nano", tiny_tokenizer)
    assert isinstance(gpt, GPT2LMHeadModel)
    assert gpt.config.n_positions == 64
    assert isinstance(t5, T5ForConditionalGeneration)
    assert t5.config.decoder_start_token_id == tiny_tokenizer.pad_token_id
    assert t5.config.eos_token_id == tiny_tokenizer.eos_token_id
    assert not gpt.training and not t5.training


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_same_seed_same_weights_and_global_rng_untouched(tiny_tokenizer, kind):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_tiny_model(kind, "nano", tiny_tokenizer, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build_tiny_model(kind, "nano", tiny_tokenizer, seed=7)
    c = build_tiny_model(kind, "nano", tiny_tokenizer, seed=8)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert any(
        not torch.equal(pa, pc)
        for pa, pc in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )


def _logits(model, tokenizer, kind: str) -> torch.Tensor:
    enc = tokenizer(["go to the dax", "Tu vois une balle rouge"], padding=True, return_tensors="pt")
    with torch.no_grad():
        if kind == "decoder":
            return model(**enc).logits
        start = torch.full((2, 1), model.config.decoder_start_token_id)
        return model(**enc, decoder_input_ids=start).logits


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("size", ["nano", "micro"])
def test_saved_model_loads_back_through_auto_classes(tmp_path, tiny_tokenizer, kind, size):
    model = build_tiny_model(kind, size, tiny_tokenizer, seed=1)
    path = save_tiny_model(model, tiny_tokenizer, tmp_path / "m")
    assert (path / "model.safetensors").is_file()
    tokenizer = AutoTokenizer.from_pretrained(path)
    loaded = AUTO[kind].from_pretrained(path)
    assert type(loaded) is type(model)
    assert tokenizer.get_vocab() == tiny_tokenizer.get_vocab()
    assert tokenizer.pad_token_id == tiny_tokenizer.pad_token_id
    torch.testing.assert_close(
        _logits(loaded, tokenizer, kind), _logits(model, tiny_tokenizer, kind), rtol=0, atol=0
    )


def test_fixture_dirs_load_like_hub_models(tiny_decoder_dir: Path, tiny_encoder_decoder_dir: Path):
    gpt = AutoModelForCausalLM.from_pretrained(tiny_decoder_dir)
    t5 = AutoModelForSeq2SeqLM.from_pretrained(tiny_encoder_decoder_dir)
    gpt_tok = AutoTokenizer.from_pretrained(tiny_decoder_dir)
    t5_tok = AutoTokenizer.from_pretrained(tiny_encoder_decoder_dir)
    assert t5_tok("pick up the dax").input_ids[-1] == t5_tok.eos_token_id
    assert gpt_tok("pick up the dax").input_ids[-1] != gpt_tok.eos_token_id
    assert gpt.config.vocab_size == len(gpt_tok)
    assert t5.config.vocab_size == len(t5_tok)
    assert gpt_tok.model_max_length == gpt.config.n_positions


def test_make_tiny_model_dir_with_custom_corpus_is_deterministic(tmp_path):
    corpus = ["the cat sat on the mat", "le chat est sur le tapis"] * 5
    a = make_tiny_model_dir(tmp_path / "a", kind="decoder", corpus=corpus, vocab_size=300, seed=4)
    b = make_tiny_model_dir(tmp_path / "b", kind="decoder", corpus=corpus, vocab_size=300, seed=4)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda tok: build_tiny_model("rnn", "nano", tok), r"'rnn'.*decoder, encoder-decoder"),
        (lambda tok: build_tiny_model("decoder", "huge", tok), r"'huge'.*nano, micro"),
        (lambda tok: build_tiny_model("decoder", "nano", tok, max_positions=0), "max_positions"),
        (lambda tok: make_tiny_model_dir("unused", kind="seq2seq"), r"'seq2seq'"),
        (lambda tok: make_tiny_model_dir("unused", kind="decoder", size="xl"), r"'xl'.*base25m"),
    ],
)
def test_unknown_kind_or_size_names_the_valid_ones(tiny_tokenizer, call, match):
    with pytest.raises(ValueError, match=match):
        call(tiny_tokenizer)


def test_tokenizer_without_special_tokens_is_rejected(tiny_tokenizer):
    tok = train_bpe_tokenizer(default_corpus(20), 300)
    tok.pad_token = None
    with pytest.raises(ValueError, match="pad"):
        build_tiny_model("decoder", "nano", tok)


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("size", ["nano", "small"])
def test_random_models_start_with_moderate_token_logits(tiny_tokenizer, kind, size):
    """Unit-scale logits: a random model's action distribution is not near-deterministic."""
    model = build_tiny_model(kind, size, tiny_tokenizer)
    std = _logits(model, tiny_tokenizer, kind).std().item()
    assert 0.05 < std < 3.0


def test_readme_usage_example_runs(capsys):
    """The README's usage block is executed as written: it must stay runnable."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Usage", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    logits, values = namespace["logits"], namespace["values"]
    assert logits.shape == (1, 3) and values.shape == (1,)
    assert "tensor" in capsys.readouterr().out
