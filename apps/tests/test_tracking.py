"""Tracking: TensorBoard config/hparams/evaluations/transcripts, and Weights & Biases."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from glam_apps.config.schema import TrainConfig
from glam_apps.errors import UserError
from glam_apps.evaluation.agents import PolicyAgent
from glam_apps.evaluation.evaluate import run_episodes
from glam_apps.runs.rundir import RunDir
from glam_apps.training.tracking import Tracker, Transcript, flat_config, require_wandb
from glam_env import BabyAITextConfig

LEVEL = BabyAITextConfig(level="GoToRedBallNoDists", max_steps=5)


class UniformPolicy:
    """Equal logits for every action: the agent's generator alone decides."""

    def __call__(self, observations: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, None]:
        return torch.zeros(len(observations), len(observations[0]["admissible_actions"])), None


def _events(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    return events


def _text(events: EventAccumulator, tag: str) -> list[tuple[int, str]]:
    return [
        (e.step, tensor_util.make_ndarray(e.tensor_proto).item().decode())
        for e in events.Tensors(f"{tag}/text_summary")
    ]


def _record(step: int, success: float) -> dict[str, Any]:
    return {
        "global_step": step,
        "success_rate": success,
        "success_ci_low": 0.1,
        "success_ci_high": 0.9,
        "mean_return": 0.4,
        "mean_length": 3.0,
        "level": "GoToRedBallNoDists",
    }


def test_transcripts_are_the_evaluations_own_first_episodes() -> None:
    seeds = [7, 8, 9, 10]
    plain = PolicyAgent(UniformPolicy(), seed=0)
    plain.reseed(7)
    expected = run_episodes(LEVEL, plain, seeds, num_envs=2)
    tracker = Tracker(RunDir.at("unused"), TrainConfig())
    recorder = tracker.transcript_agent(PolicyAgent(UniformPolicy(), seed=0))
    assert recorder is not None and recorder.count == 2
    recorder.reseed(7)
    outcomes = run_episodes(LEVEL, recorder, seeds, num_envs=2, on_episode=recorder.on_episode)
    assert outcomes == expected  # recording changes nothing the evaluation measures
    assert [t.seed for t in recorder.transcripts] == [7, 8]
    for transcript, outcome in zip(recorder.transcripts, outcomes, strict=False):
        assert len(transcript.steps) == outcome.length
        assert transcript.success == outcome.success
        assert transcript.mission == "go to the red ball"
    text = recorder.transcripts[0].to_markdown()
    assert text.startswith("**episode 1** (seed 7): ")
    assert "goal: go to the red ball" in text and "1. You see" in text and "→ **" in text


def test_no_transcripts_when_turned_off() -> None:
    config = TrainConfig.model_validate({"run": {"log_transcripts": 0}})
    assert (
        Tracker(RunDir.at("unused"), config).transcript_agent(PolicyAgent(UniformPolicy())) is None
    )


def test_long_transcripts_keep_their_start_and_end() -> None:
    transcript = Transcript(0, steps=[(f"obs {i}", "go forward") for i in range(100)], mission="m")
    text = transcript.to_markdown()
    assert "1. obs 0" in text and "100. obs 99" in text and "... 36 steps ..." in text
    assert "50. obs 49" not in text


def test_tensorboard_holds_config_hparams_evaluations_and_transcripts(tmp_path: Path) -> None:
    run = RunDir.at(tmp_path / "run")
    config = TrainConfig.model_validate({"run": {"run_dir": str(run.root), "seed": 3}})
    tracker = Tracker(run, config)
    tracker.start(global_step=0)
    transcript = Transcript(0, steps=[("You see a wall", "turn left")], mission="go to the key")
    tracker.log_evaluation(_record(8, 0.5), [transcript])
    tracker.log_evaluation(_record(16, 0.75))
    tracker.close()

    root = _events(run.tensorboard)
    [(step, config_text)] = _text(root, "config")
    assert step == 0 and "    run:" in config_text and "seed: 3" in config_text
    tensors = root.Tags()["tensors"]
    assert "_hparams_/experiment" in tensors and "_hparams_/session_start_info" in tensors
    evals = _events(run.tensorboard / "eval")
    assert [(e.step, e.value) for e in evals.Scalars("eval/success_rate")] == [(8, 0.5), (16, 0.75)]
    assert {"eval/success_ci_low", "eval/success_ci_high", "eval/mean_return"} <= set(
        evals.Tags()["scalars"]
    )
    [(step, text)] = _text(evals, "eval/transcript_1")
    assert step == 8 and "go to the key" in text and "**turn left**" in text


def test_hparams_are_flat_scalars() -> None:
    flat = flat_config(TrainConfig())
    assert flat["run.seed"] == 0 and flat["ppo.learning_rate"] > 0
    assert all(isinstance(v, (bool, int, float, str)) for v in flat.values())
    assert flat["run.eval_baselines"] == '["random"]'


# ---------------------------------------------------------------------- W&B


class FakeRun:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def log(self, data: dict[str, Any], step: int) -> None:
        self.calls.append(("log", (step, dict(data))))

    def finish(self) -> None:
        self.calls.append(("finish", None))


@pytest.fixture
def fake_wandb(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    module = types.ModuleType("wandb")

    def init(**kwargs: Any) -> FakeRun:
        calls.append(("init", kwargs))
        return FakeRun(calls)

    module.init = init  # type: ignore[attr-defined]
    module.Settings = lambda **kwargs: kwargs  # type: ignore[attr-defined]
    module.Html = lambda text: ("html", text)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wandb", module)
    return calls


def test_wandb_gets_namespaced_metrics_evaluations_and_one_id(
    tmp_path: Path, fake_wandb: list[tuple[str, Any]]
) -> None:
    run = RunDir.at(tmp_path / "run")
    config = TrainConfig.model_validate({"run": {"run_dir": str(run.root), "wandb": True}})
    tracker = Tracker(run, config)
    tracker.start(global_step=0)
    tracker.log_update({"global_step": 8.0, "policy_loss": 0.5, "success_rate": float("nan")})
    tracker.log_evaluation(_record(8, 0.5), [Transcript(0, [("a <b>", "c")], "m")])
    tracker.close()
    kinds = [kind for kind, _ in fake_wandb]
    assert kinds == ["init", "log", "log", "finish"]
    init = fake_wandb[0][1]
    assert init["resume"] == "allow" and init["dir"] == str(run.root)
    assert init["config"]["run"]["wandb"] is True
    assert fake_wandb[1][1] == (8, {"train/policy_loss": 0.5})  # NaN is left out
    step, data = fake_wandb[2][1]
    assert step == 8 and data["eval/success_rate"] == 0.5
    html = data["eval/transcript_1"]
    assert html[0] == "html" and "1. a &lt;b&gt; → c" in html[1]
    # A resumed run continues the same W&B run.
    again = Tracker(run, config)
    again.start(global_step=8)
    again.close()
    assert fake_wandb[4][1]["id"] == init["id"]


def test_wandb_missing_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    require_wandb(TrainConfig())  # off: no need for it
    with pytest.raises(
        UserError, match=r"wandb is not installed: pip install 'glam-apps\[wandb\]'"
    ):
        require_wandb(TrainConfig.model_validate({"run": {"wandb": True}}))


def test_wandb_missing_through_the_cli_writes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_glam: Callable[..., tuple[int, str, str]],
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)
    run_dir = tmp_path / "run"
    code, _, err = run_glam(
        "train", "--run-dir", str(run_dir), "--set", "run.wandb=true", "--no-progress"
    )
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "glam-apps[wandb]" in errors[0]
    assert not run_dir.exists()


def test_wandb_offline_run_records_the_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")  # requirements-dev.txt installs it
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = RunDir.at(tmp_path / "run")
    config = TrainConfig.model_validate({"run": {"run_dir": str(run.root), "wandb": True}})
    tracker = Tracker(run, config)
    tracker.start(global_step=0)
    tracker.log_update({"global_step": 8.0, "policy_loss": 0.5})
    tracker.log_evaluation(_record(8, 0.5), [Transcript(0, [("obs", "act")], "m")])
    tracker.close()
    run_id = (run.root / "wandb" / "run-id").read_text().strip()
    [log] = list((run.root / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
    # wandb's service process writes the log behind finish(); under load the records
    # reach the file a moment later.
    deadline = time.monotonic() + 60
    while b"eval/transcript_1" not in (data := log.read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert b"train/policy_loss" in data and b"eval/success_rate" in data
    assert b"eval/transcript_1" in data
