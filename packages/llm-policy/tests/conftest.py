"""Session-wide tiny models shared by every test of the package: built once, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from glam_policy.tiny import default_corpus, make_tiny_model_dir, train_bpe_tokenizer


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Nano models run faster on one thread than on two shared cores; restored after each
    test module so other packages' tests keep their setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on the default English+French corpus."""
    return train_bpe_tokenizer(default_corpus())


@pytest.fixture(scope="session")
def tiny_decoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved "nano" GPT-2 model and its tokenizer, loadable with AutoModelForCausalLM."""
    return make_tiny_model_dir(
        tmp_path_factory.mktemp("tiny-decoder"), kind="decoder", size="nano", seed=0
    )


@pytest.fixture(scope="session")
def tiny_encoder_decoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved "nano" T5 model and its tokenizer, loadable with AutoModelForSeq2SeqLM."""
    return make_tiny_model_dir(
        tmp_path_factory.mktemp("tiny-encoder-decoder"), kind="encoder-decoder", size="nano", seed=0
    )
