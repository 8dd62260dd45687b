"""Model-loading paper cuts: from_pretrained on a model, no 30 s offline wait, no bars.

The hub is never contacted: its reachability is simulated by replacing
``glam_policy.hub._probe``, and its cache is a temporary folder.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants as hub_constants
from transformers import AutoModelForCausalLM
from transformers.utils import logging as hf_logging

from glam_policy import LLMPolicy, LLMPolicyConfig, ModelLoadError, hub, load_language_model
from glam_policy.quiet import quiet_transformers

OBSERVATIONS = [
    {
        "mission": "go to the red ball",
        "observation": "You see a red ball 1 step left",
        "admissible_actions": ["turn left", "turn right", "go forward"],
    }
]
UNCACHED = "glam-tests/not-downloaded"


class Probe:
    """A stand-in for the hub request: records calls, answers or not as told."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, endpoint: str, timeout: float) -> None:
        self.calls.append(endpoint)
        if not self.answers:
            raise ConnectionError("simulated: no route to the hub")


@pytest.fixture(autouse=True)
def isolated_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty hub cache, no offline variables, and no remembered probe result."""
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_reachability", {})
    return cache


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Probe:
    probe = Probe(answers=False)
    monkeypatch.setattr(hub, "_probe", probe)
    return probe


def cache_model(cache: Path, name: str, model_dir: Path) -> None:
    """Lay ``model_dir`` out as the hub cache does after ``hf download name``."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / ("models--" + name.replace("/", "--"))
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


# --------------------------------------------------------------------- offline


def test_uncached_model_fails_at_once_when_the_hub_is_unreachable(unreachable, isolated_hub):
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as info:
        load_language_model(LLMPolicyConfig(model=UNCACHED))
    assert time.perf_counter() - start < 5.0
    message = str(info.value)
    assert message.startswith(f"cannot load model {UNCACHED!r}: not a local directory")
    assert f"not in the Hugging Face cache ({isolated_hub})" in message
    assert hub.hub_endpoint() in message and "unreachable" in message
    assert "\n" not in message
    assert len(unreachable.calls) == 1


def test_from_pretrained_with_an_uncached_hub_name_fails_at_once(unreachable) -> None:
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="unreachable"):
        LLMPolicy.from_pretrained(UNCACHED)
    assert time.perf_counter() - start < 5.0


def test_the_probe_runs_once_per_process(unreachable) -> None:
    for _ in range(3):
        with pytest.raises(ModelLoadError):
            load_language_model(LLMPolicyConfig(model=UNCACHED))
    assert len(unreachable.calls) == 1
    assert hub.hub_reachable(refresh=True) is False
    assert len(unreachable.calls) == 2


def test_a_hub_that_hangs_is_given_up_at_the_timeout(monkeypatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(hub, "_probe", lambda endpoint, timeout: release.wait(60))
    monkeypatch.setattr(hub, "PROBE_TIMEOUT_S", 0.2)
    try:
        start = time.perf_counter()
        assert hub.hub_reachable() is False
        assert time.perf_counter() - start < 2.0
    finally:
        release.set()


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_mode_fails_at_once_without_asking_the_hub(monkeypatch, variable) -> None:
    probe = Probe(answers=True)
    monkeypatch.setattr(hub, "_probe", probe)
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ModelLoadError, match=r"offline mode is on \(HF_HUB_OFFLINE=1\)"):
        load_language_model(LLMPolicyConfig(model=UNCACHED))
    assert probe.calls == []


def test_local_files_only_fails_at_once_without_asking_the_hub(monkeypatch) -> None:
    probe = Probe(answers=True)
    monkeypatch.setattr(hub, "_probe", probe)
    with pytest.raises(ModelLoadError, match="local_files_only is set"):
        load_language_model(LLMPolicyConfig(model=UNCACHED, local_files_only=True))
    assert probe.calls == []


def test_cached_model_loads_when_the_hub_is_unreachable(
    unreachable, isolated_hub, tiny_decoder_dir
) -> None:
    cache_model(isolated_hub, "glam-tests/tiny", tiny_decoder_dir)
    start = time.perf_counter()
    policy = LLMPolicy.from_pretrained("glam-tests/tiny", value_hidden_sizes=[8])
    assert time.perf_counter() - start < 5.0  # transformers' retries would take ~30 s
    assert policy.config.model == "glam-tests/tiny"
    reference = LLMPolicy.from_config({"model": str(tiny_decoder_dir), "value_hidden_sizes": [8]})
    torch.testing.assert_close(policy(OBSERVATIONS), reference(OBSERVATIONS))


def test_a_local_directory_never_asks_the_hub(monkeypatch, tiny_decoder_dir) -> None:
    probe = Probe(answers=True)
    monkeypatch.setattr(hub, "_probe", probe)
    load_language_model(LLMPolicyConfig(model=str(tiny_decoder_dir)))
    assert probe.calls == []


def test_neither_a_directory_nor_a_hub_name(tmp_path, tiny_decoder_dir) -> None:
    missing = str(tmp_path / "no" / "such" / "model")
    with pytest.raises(ModelLoadError, match="no such directory, and not a Hugging Face hub name"):
        load_language_model(LLMPolicyConfig(model=missing))
    a_file = str(tiny_decoder_dir / "config.json")
    with pytest.raises(ModelLoadError, match="is a file, not a model directory"):
        load_language_model(LLMPolicyConfig(model=a_file))


def test_hub_names() -> None:
    assert hub.is_hub_name("gpt2") and hub.is_hub_name("google/flan-t5-large")
    assert not hub.is_hub_name("runs/a/final") and not hub.is_hub_name("./model")


# --------------------------------------------------------------------- from_pretrained


def test_from_pretrained_builds_a_policy_from_a_model_directory(tiny_decoder_dir) -> None:
    built = LLMPolicy.from_pretrained(tiny_decoder_dir, value_hidden_sizes=[8], seed=3)
    reference = LLMPolicy.from_config(
        {"model": str(tiny_decoder_dir), "value_hidden_sizes": [8], "seed": 3}
    )
    assert built.config == reference.config
    logits, values = built(OBSERVATIONS)
    expected_logits, expected_values = reference(OBSERVATIONS)
    assert torch.equal(logits, expected_logits) and torch.equal(values, expected_values)


def test_from_pretrained_on_a_model_refuses_a_second_model(tiny_decoder_dir) -> None:
    with pytest.raises(TypeError, match="names the model already"):
        LLMPolicy.from_pretrained(tiny_decoder_dir, model="gpt2")


def test_from_pretrained_on_a_folder_that_is_neither(tmp_path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        LLMPolicy.from_pretrained(tmp_path)
    message = str(info.value)
    assert "policy_config.json is missing" in message and "config.json is missing" in message


# --------------------------------------------------------------------- progress bars


@pytest.fixture
def bars_on() -> Iterator[None]:
    """transformers' default (bars on), whatever an earlier test in the process set."""
    before = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    yield
    if not before:
        hf_logging.disable_progress_bar()


def test_transformers_alone_draws_a_bar(bars_on, capfd, tiny_decoder_dir) -> None:
    """The control: without glam_policy's quieting, the bar shows (so the test below can fail)."""
    AutoModelForCausalLM.from_pretrained(tiny_decoder_dir)
    assert "Loading weights" in capfd.readouterr().err


def test_loading_prints_nothing(bars_on, capfd, tiny_decoder_dir, tmp_path) -> None:
    library = hf_logging.get_logger()
    handlers = list(library.handlers)
    policy = LLMPolicy.from_pretrained(tiny_decoder_dir, value_hidden_sizes=[8])
    policy.save_pretrained(tmp_path / "policy")
    capfd.readouterr()  # saving is not loading: only the loads below are checked
    LLMPolicy.from_pretrained(tmp_path / "policy")
    LLMPolicy.from_config(
        {"model": str(tiny_decoder_dir), "pretrained": False, "keep_pretrained_embeddings": True}
    )
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert hf_logging.is_progress_bar_enabled()  # put back as it was
    assert library.handlers == handlers


def test_transformers_records_go_through_logging(bars_on, capfd, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="glam_policy"), quiet_transformers():
        hf_logging.get_logger("transformers.modeling_utils").warning("weights %s", "missing")
    assert capfd.readouterr().err == ""
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("glam_policy.quiet", logging.WARNING, "transformers.modeling_utils: weights missing")
    ]


def test_quiet_is_undone_when_loading_fails(bars_on, tmp_path) -> None:
    library = hf_logging.get_logger()
    handlers, propagate = list(library.handlers), library.propagate
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(ModelLoadError):
        load_language_model(LLMPolicyConfig(model=str(tmp_path)))
    assert hf_logging.is_progress_bar_enabled()
    assert (list(library.handlers), library.propagate) == (handlers, propagate)
