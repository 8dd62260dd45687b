"""Remote code is opt-in per invocation: ``--trust-remote-code`` (or the Python argument).

A saved policy, a run's ``config.yaml``, a YAML given to ``--config``, ``--set`` or
``--policy-set`` can ask to run a model's own Python code; each is refused with one
line naming what asked and the flag, exit code 2, and the shipped code never runs
(its marker file is never written). With the flag, the shipped code does run.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI

#: What the shipped code does: write a marker, then be an ordinary GPT-2.
SHIPPED_CODE = """\
from pathlib import Path

Path({marker!r}).write_text("ran")

from transformers import GPT2Config, GPT2LMHeadModel


class MarkerConfig(GPT2Config):
    pass


class MarkerModel(GPT2LMHeadModel):
    config_class = MarkerConfig
"""
LEVEL_ARGS = ("--suite", "level", "--level", "GoToRedBallNoDists", "--episodes", "1")


def _ship_code(model_dir: Path, marker: Path) -> None:
    """Make ``model_dir`` (a Hugging Face folder) map its classes to a shipped file."""
    (model_dir / "marker_code.py").write_text(SHIPPED_CODE.format(marker=str(marker)))
    config_path = model_dir / "config.json"
    data = json.loads(config_path.read_text())
    data["auto_map"] = {
        "AutoConfig": "marker_code.MarkerConfig",
        "AutoModelForCausalLM": "marker_code.MarkerModel",
    }
    config_path.write_text(json.dumps(data))


def _ask_in_policy_config(policy_dir: Path) -> None:
    path = policy_dir / "policy_config.json"
    data = json.loads(path.read_text())
    data["trust_remote_code"] = True
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from glam_policy.tiny import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("model"), kind="decoder", size="nano")


@pytest.fixture
def policy_dir(tiny_model: Path, tmp_path: Path) -> Path:
    from glam_policy import LLMPolicy

    policy = LLMPolicy.from_config({"model": str(tiny_model), "value_hidden_sizes": [8]})
    return policy.save_pretrained(tmp_path / "shared-policy")


@pytest.fixture
def modules_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers copies shipped code into its modules cache: keep it in tmp_path."""
    import transformers.dynamic_module_utils as dynamic

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "hf-modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.mark.parametrize("asks", ["policy_config", "auto_map", "both"])
def test_evaluate_refuses_a_saved_policy_that_asks(
    glam, policy_dir: Path, tmp_path: Path, asks: str, tree_digest, one_clear_line
) -> None:
    marker = tmp_path / "MARKER"
    if asks in ("policy_config", "both"):
        _ask_in_policy_config(policy_dir)
    if asks in ("auto_map", "both"):
        _ship_code(policy_dir / "lm", marker)
    before = tree_digest(policy_dir)
    out = tmp_path / "reports"
    line = one_clear_line(glam("evaluate", str(policy_dir), *LEVEL_ARGS, "--out", str(out)))
    asked_by = "policy_config.json" if asks != "auto_map" else "lm/config.json"
    assert str(policy_dir / asked_by) in line
    assert "--trust-remote-code" in line
    assert not marker.exists()
    assert tree_digest(policy_dir) == before and not out.exists()


def test_the_flag_lets_the_shipped_code_run(
    glam, policy_dir: Path, tmp_path: Path, modules_cache: None
) -> None:
    marker = tmp_path / "MARKER"
    _ask_in_policy_config(policy_dir)
    _ship_code(policy_dir / "lm", marker)
    out = tmp_path / "reports"
    result = glam(
        "evaluate", str(policy_dir), *LEVEL_ARGS, "--out", str(out), "--trust-remote-code"
    )
    assert result.code == 0, result.stderr
    assert marker.read_text() == "ran"


def test_python_callers_opt_in_with_the_argument(policy_dir: Path, tmp_path: Path) -> None:
    from glam_apps.errors import UserError
    from glam_apps.models.policies import load_saved_policy

    _ask_in_policy_config(policy_dir)
    with pytest.raises(UserError, match=r"policy_config\.json asks to run Python code"):
        load_saved_policy(policy_dir)
    assert load_saved_policy(policy_dir, trust_remote_code=True).config.trust_remote_code


def _edited_copy(run: Path, target: Path) -> Path:
    """A copy of ``run`` whose config.yaml says ``policy.trust_remote_code: true``."""
    shutil.copytree(run, target)
    config = yaml.safe_load((target / "config.yaml").read_text())
    config["policy"]["trust_remote_code"] = True
    (target / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def test_resume_refuses_a_run_config_that_asks(
    glam, trained_run: Path, tmp_path: Path, tree_digest, one_clear_line
) -> None:
    run = _edited_copy(trained_run, tmp_path / "run")
    before = tree_digest(run)
    line = one_clear_line(glam("train", "--resume", str(run), "--set", "run.total_steps=16"))
    assert str(run / "config.yaml") in line and "--trust-remote-code" in line
    assert tree_digest(run) == before


def test_evaluate_refuses_a_run_config_that_asks(
    glam, trained_run: Path, tmp_path: Path, tree_digest, one_clear_line
) -> None:
    run = _edited_copy(trained_run, tmp_path / "run")
    before = tree_digest(run)
    line = one_clear_line(glam("evaluate", str(run), *LEVEL_ARGS))
    assert str(run / "config.yaml") in line and "--trust-remote-code" in line
    assert tree_digest(run) == before


def test_a_config_given_to_train_cannot_turn_it_on(
    glam, tmp_path: Path, tiny_args, one_clear_line
) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("policy:\n  trust_remote_code: true\n")
    run = tmp_path / "run"
    line = one_clear_line(
        glam("train", "--config", str(config), "--run-dir", str(run), *tiny_args())
    )
    assert "policy.trust_remote_code" in line and "--trust-remote-code" in line
    line = one_clear_line(
        glam("train", "--run-dir", str(run), *tiny_args("policy.trust_remote_code=true"))
    )
    assert "--trust-remote-code" in line
    assert not run.exists()


def test_policy_set_cannot_turn_it_on(glam, tiny_model: Path, one_clear_line) -> None:
    line = one_clear_line(
        glam("evaluate", str(tiny_model), *LEVEL_ARGS, "--policy-set", "trust_remote_code=true")
    )
    assert "--trust-remote-code" in line


def test_a_model_directory_with_shipped_code_is_refused(
    glam, tiny_model: Path, tmp_path: Path, one_clear_line
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    marker = tmp_path / "MARKER"
    _ship_code(model, marker)
    line = one_clear_line(glam("evaluate", str(model), *LEVEL_ARGS))
    assert str(model / "config.json") in line and "--trust-remote-code" in line
    run = tmp_path / "run"
    line = one_clear_line(glam("train", "--model", str(model), "--run-dir", str(run)))
    assert str(model / "config.json") in line
    assert not marker.exists() and not run.exists()
