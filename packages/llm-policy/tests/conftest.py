"""Session-wide tiny models shared by every test of the package: built once, offline."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(autouse=True, scope="module")
def _cpu_only() -> Iterator[None]:
    """``device: auto`` (the default) means the CPU in these tests, even on a GPU machine.

    The tests compare scores to float32 references at 1e-5; on a GPU "auto" would
    also mean bfloat16 autocast. Module scope, so that the policies of module-scoped
    fixtures are built on the CPU too. Tests of the GPU rules simulate a GPU themselves.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.cuda, "is_available", lambda: False)
        yield


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
