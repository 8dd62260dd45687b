"""Devices in the apps: ``auto`` by default, ``--device`` overrides it, bad values are one
line, and where a policy computes never makes a checkpoint incompatible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from glam_apps.cli import app, main
from glam_apps.config.loading import compose
from glam_apps.config.schema import TrainConfig
from glam_apps.errors import UserError
from glam_apps.evaluation.evaluate import load_agent
from glam_apps.models.policies import config_differences, device_override, load_run_policy
from glam_policy import LLMPolicy, make_tiny_model_dir


@pytest.fixture(scope="module")
def saved_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nano policy saved with the default (``auto``) device and precision."""
    root = tmp_path_factory.mktemp("device")
    model = make_tiny_model_dir(root / "model", kind="decoder", size="nano", seed=0)
    policy = LLMPolicy.from_config({"model": str(model), "value_hidden_sizes": [8]})
    return policy.save_pretrained(root / "policy")


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as a CPU-only one, whatever it really has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_show_config_prints_auto_device_and_precision() -> None:
    result = CliRunner().invoke(app, ["train", "--show-config"])
    assert result.exit_code == 0, result.output
    policy = yaml.safe_load(result.stdout)["policy"]
    assert policy["device"] == "auto"
    assert policy["dtype"] == "auto" and policy["autocast"] == "auto"
    assert "device: auto" in result.stdout


def test_show_config_takes_an_explicit_device() -> None:
    result = CliRunner().invoke(
        app,
        ["train", "--show-config", "--set", "policy.device=cuda:1", "--set", "policy.autocast=off"],
    )
    assert result.exit_code == 0, result.output
    policy = yaml.safe_load(result.stdout)["policy"]
    assert policy["device"] == "cuda:1" and policy["autocast"] == "off"


@pytest.mark.parametrize("agent", ["random", "saved"])
def test_bad_device_is_one_line_and_exit_2(
    agent: str,
    saved_policy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = "random" if agent == "random" else str(saved_policy)
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", spec, "--device", "gpu7", "--episodes", "1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    line = " ".join(err.split())
    assert "unknown device 'gpu7'" in line and "'auto', 'cpu', 'cuda', 'cuda:N'" in line
    assert not (tmp_path / "evaluations").exists()


def test_device_override_is_checked_before_anything_loads(tmp_path: Path) -> None:
    assert device_override(None) == {} and device_override("cuda:0") == {"device": "cuda:0"}
    with pytest.raises(UserError, match="unknown device 'gpu7'"):
        load_run_policy(tmp_path / "not-a-run", device="gpu7")


def test_saved_auto_policy_loads_on_the_cpu(no_cuda, saved_policy: Path) -> None:
    loaded = load_agent(str(saved_policy))
    policy = loaded.agent.policy  # type: ignore[attr-defined]
    assert policy.config.device == "auto" and policy.device == torch.device("cpu")


def test_device_flag_overrides_a_saved_gpu_device(
    no_cuda, saved_policy: Path, tmp_path: Path
) -> None:
    gpu_policy = tmp_path / "gpu-policy"
    gpu_policy.mkdir()
    for item in saved_policy.iterdir():
        target = gpu_policy / item.name
        target.symlink_to(item, target_is_directory=item.is_dir())
    config = json.loads((saved_policy / "policy_config.json").read_text())
    (gpu_policy / "policy_config.json").unlink()
    (gpu_policy / "policy_config.json").write_text(json.dumps({**config, "device": "cuda"}))
    with pytest.raises(UserError, match="device 'cuda' is not available") as refused:
        load_agent(str(gpu_policy))
    assert "\n" not in str(refused.value)
    policy = load_agent(str(gpu_policy), device="cpu").agent.policy  # type: ignore[attr-defined]
    assert policy.config.device == "cpu" and policy.device == torch.device("cpu")


def test_device_and_precision_do_not_make_checkpoints_incompatible() -> None:
    saved = compose(TrainConfig, overrides=["policy.device=cuda", "policy.dtype=bf16"])
    current = compose(TrainConfig, overrides=["policy.device=cpu", "policy.autocast=off"])
    assert config_differences(saved, current) == []
    changed = compose(TrainConfig, overrides=["policy.finetuning=lora"])
    assert [d.split(":")[0] for d in config_differences(saved, changed)] == ["policy.finetuning"]
