"""``--resume --set``: every ``run.*``/``ppo.*`` change is applied or refused, never ignored.

The learning rate used to be logged and written to config.yaml while the optimizer
kept the checkpoint's; now the new base rates are set after loading.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from glam_apps.config.schema import TrainConfig
from glam_apps.models.policies import COMPATIBILITY_KEYS
from glam_apps.runs.rundir import read_jsonl
from glam_apps.training.train import APPLIED, MANAGED, REFUSED, RESUME_RULES


def test_every_config_field_has_a_resume_rule() -> None:
    fields = {"agent", "symbolic", "drrn", "bc", "game", "default_model"}
    for section in ("run", "ppo", "env", "policy", "distributed"):
        model = type(getattr(TrainConfig(), section))
        fields |= {f"{section}.{name}" for name in model.model_fields}
    assert set(RESUME_RULES) == fields  # a new field must be classified here
    for key, (rule, why) in RESUME_RULES.items():
        assert rule in (APPLIED, REFUSED, MANAGED), key
        assert why, key
        if rule == MANAGED:
            assert key.startswith(("ppo.", "policy."))
    for key in COMPATIBILITY_KEYS:  # what the checkpoint's parameters depend on
        assert RESUME_RULES[key][0] == REFUSED, key


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory, tiny_args: Callable[..., list[str]]) -> Path:
    """A tiny run of one update (8 env steps), checkpointed."""
    from glam_apps.cli import main

    run = tmp_path_factory.mktemp("changes") / "run"
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--no-progress", "--run-dir", str(run), *tiny_args("run.total_steps=8")])
    assert exit_.value.code in (0, None)
    return run


def _one_line(result: Any) -> str:
    assert result.code == 2, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("ppo.num_steps=8", "ppo.num_steps"),
        ("run.seed=3", "run.seed"),
        ("ppo.preset=paper", "ppo.preset_name"),
        ("run.run_dir=/elsewhere", "run.run_dir"),
        ("distributed.strategy=fsdp", "distributed.strategy"),
        ("policy.dtype=bfloat16", "policy.dtype"),
        ("policy.value_hidden_sizes=[4]", "policy.value_hidden_sizes"),
    ],
)
def test_a_refused_change_is_one_line_naming_the_field(
    glam: Callable, stopped: Path, override: str, field: str
) -> None:
    config = (stopped / "config.yaml").read_text()
    line = _one_line(
        glam("train", "--resume", str(stopped), "--set", "run.total_steps=16", "--set", override)
    )
    assert field in line and ("--resume" in line or "start a new run" in line)
    assert (stopped / "config.yaml").read_text() == config  # nothing recorded


@pytest.mark.slow
def test_new_learning_rates_and_adam_settings_are_applied(
    glam: Callable, stopped: Path, tmp_path: Path
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(stopped, run)
    result = glam(
        "train",
        "--resume",
        str(run),
        "--no-progress",
        "--set",
        "run.total_steps=16",
        "--set",
        "ppo.learning_rate=0.01",
        "--set",
        "run.head_learning_rate=0.02",
        "--set",
        "ppo.adam_eps=0.001",
    )
    assert result.code == 0, result.stderr
    assert "applying ppo.learning_rate: 0.00025 -> 0.01" in result.stderr
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["global_step"] for r in records] == [8, 16]
    before, after = records
    rates = {k: v for k, v in after.items() if k.startswith("learning_rate")}
    assert len(rates) >= 2, rates  # the LM's group and the heads'
    assert rates.pop("learning_rate") == pytest.approx(0.01)
    assert all(v == pytest.approx(0.02) for v in rates.values()), rates
    assert before["learning_rate"] != pytest.approx(0.01)
    state = json.loads(
        (run / "checkpoints" / "periodic" / "iteration_000002" / "state.json").read_text()
    )
    groups = state["optimizer"]["param_groups"]
    assert groups[0]["base_lr"] == pytest.approx(0.01)
    assert all(g["eps"] == pytest.approx(0.001) for g in groups)
    saved = (run / "config.yaml").read_text()
    assert "learning_rate: 0.01" in saved and "head_learning_rate: 0.02" in saved


@pytest.mark.slow
def test_unchanged_settings_resume_with_the_checkpoint_s_optimizer(
    glam: Callable, stopped: Path, tmp_path: Path
) -> None:
    """Putting the config's settings back after loading changes nothing when they match."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(stopped, run)
    result = glam("train", "--resume", str(run), "--no-progress", "--set", "run.total_steps=16")
    assert result.code == 0, result.stderr
    assert "applying run.total_steps" in result.stderr
    assert "applying ppo." not in result.stderr
    first = json.loads(
        (run / "checkpoints" / "periodic" / "iteration_000001" / "state.json").read_text()
    )
    second = json.loads(
        (run / "checkpoints" / "periodic" / "iteration_000002" / "state.json").read_text()
    )
    keys = ("base_lr", "lr", "betas", "eps", "weight_decay")
    groups = zip(
        first["optimizer"]["param_groups"], second["optimizer"]["param_groups"], strict=True
    )
    for a, b in groups:
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


@pytest.mark.slow
def test_a_changed_environment_is_applied_from_seeded_resets(
    glam: Callable, stopped: Path, tmp_path: Path
) -> None:
    """The saved episodes belong to the old environment: they are dropped, not replayed."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(stopped, run)
    result = glam(
        "train", "--resume", str(run), "--no-progress", "--set", "run.total_steps=16",
        "--set", "env.variant=renamed_nouns", "--set", "policy.append_eos=true",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "applying env.variant" in result.stderr
    assert "applying policy.append_eos: False -> True" in result.stderr
    assert "not exact" not in result.stderr  # no failed replay: nothing was replayed
    saved = (run / "config.yaml").read_text()
    assert "renamed_nouns" in saved and "append_eos: true" in saved
    assert [r["global_step"] for r in read_jsonl(run / "metrics.jsonl")] == [8, 16]


@pytest.mark.slow
def test_an_env_change_that_makes_another_offline_model_is_refused(
    glam: Callable, stopped: Path
) -> None:
    config = (stopped / "config.yaml").read_text()
    line = _one_line(
        glam("train", "--resume", str(stopped), "--set", "run.total_steps=16",
             "--set", "env.max_steps=9")
    )  # fmt: skip
    assert "env.max_steps: 6 -> 9" in line and "offline default model" in line
    assert (stopped / "config.yaml").read_text() == config
