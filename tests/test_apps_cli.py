"""The `glam` command line end to end on a tiny offline model: train, resume,
evaluate, play, plot, and every error at the edge (one line, exit code 2)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

pytestmark = pytest.mark.slow  # trains (briefly); still run by CI


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory, tiny_args: Any) -> dict[str, Path]:
    """Run A: two updates straight. Run B: one update, then resumed for the second."""
    from glam_apps.cli import main

    root = tmp_path_factory.mktemp("runs")

    def run(*args: str) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(["train", "--no-progress", *args])
        assert exit_.value.code in (0, None)

    run("--run-dir", str(root / "a"), *tiny_args("run.total_steps=16"))
    run("--run-dir", str(root / "b"), *tiny_args("run.total_steps=8"))
    run("--resume", str(root / "b"), "--set", "run.total_steps=16")
    return {"a": root / "a", "b": root / "b"}


def test_train_writes_the_run_directory(trained_runs: dict[str, Path]) -> None:
    run = trained_runs["a"]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["run"]["total_steps"] == 16 and config["env"]["level"] == "GoToRedBallNoDists"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["global_step"] for m in metrics] == [8, 16]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / "checkpoints" / "final" / "policy_config.json").is_file()
    assert (run / "checkpoints" / "best" / "best.json").is_file()
    assert (run / "checkpoints" / "periodic" / "latest").read_text().strip() == "iteration_000002"
    evaluations = (run / "eval" / "evaluations.jsonl").read_text().splitlines()
    assert [json.loads(line)["global_step"] for line in evaluations] == [
        0,
        8,
        16,
    ]  # quickstart evaluates at step 0 too
    final = json.loads((run / "eval" / "final.json").read_text())
    assert [r["name"] for r in final["results"]] == [
        "no change",
        "random baseline",
        "keyword baseline",
    ]
    assert final["ci_method"] == "wilson"
    assert json.loads((run / "status.json").read_text())["status"] == "finished"


def test_resumed_run_ends_with_the_same_weights(trained_runs: dict[str, Path]) -> None:
    def weights(run: Path) -> dict[str, torch.Tensor]:
        return load_file(
            run / "checkpoints" / "periodic" / "iteration_000002" / "model.safetensors"
        )

    a, b = weights(trained_runs["a"]), weights(trained_runs["b"])
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    first = (trained_runs["a"] / "metrics.jsonl").read_text().splitlines()
    resumed = (trained_runs["b"] / "metrics.jsonl").read_text().splitlines()
    strip = ("rollout_seconds", "update_seconds", "steps_per_second")
    assert [{k: v for k, v in json.loads(x).items() if k not in strip} for x in first] == [
        {k: v for k, v in json.loads(x).items() if k not in strip} for x in resumed
    ]


def test_resuming_a_finished_run_says_how_to_extend_it(glam, trained_runs, one_clear_line) -> None:
    line = one_clear_line(glam("train", "--resume", str(trained_runs["a"])))
    assert "run.total_steps" in line


def test_evaluate_a_run_on_the_quick_suite(glam, trained_runs: dict[str, Path]) -> None:
    result = glam(
        "evaluate", str(trained_runs["a"]), "--suite", "quick", "--episodes", "2",
        "--num-envs", "2", "--seed", "0",  # a run's own default seed is its run.eval_seed
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "no change" in result.stdout and "success" in result.stdout
    report = json.loads((trained_runs["a"] / "eval" / "quick-sampled-seed0.json").read_text())
    names = [r["name"] for r in report["results"]]
    assert names == ["no change", "invented words", "synonym actions", "new objects"]
    assert report["episodes_per_test"] == 2
    assert [r["level"] for r in report["results"]][-1] == "MixedTestLocal"
    assert (trained_runs["a"] / "eval" / "quick-sampled-seed0.md").read_text().startswith("#")


def test_evaluate_bot_and_random_on_one_level(glam, tmp_path: Path) -> None:
    for agent in ("bot", "random"):
        result = glam(
            "evaluate", agent, "--suite", "level", "--level", "GoToRedBallNoDists",
            "--episodes", "4", "--out", str(tmp_path / agent),
        )  # fmt: skip
        assert result.code == 0, result.stderr
    bot = json.loads((tmp_path / "bot" / "level-sampled-seed0.json").read_text())
    assert bot["results"][0]["success_rate"] == 1.0


def test_evaluate_zero_shot_model_directory(glam, trained_runs, tmp_path: Path) -> None:
    model_dir = trained_runs["a"] / "checkpoints" / "final" / "lm"  # a plain HF model dir
    result = glam(
        "evaluate", str(model_dir), "--suite", "level", "--level", "GoToRedBallNoDists",
        "--episodes", "2", "--greedy", "--env-set", "max_steps=6", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    report = json.loads((tmp_path / "level-greedy-seed0.json").read_text())
    assert report["actions"] == "greedy" and report["metadata"]["zero_shot"] is True


def test_policy_settings_of_a_zero_shot_model(glam, trained_runs, tmp_path: Path) -> None:
    model_dir = trained_runs["a"] / "checkpoints" / "final" / "lm"
    common = ("--suite", "level", "--level", "GoToRedBallNoDists", "--episodes", "2")
    result = glam(
        "evaluate", str(model_dir), *common, "--env-set", "max_steps=6",
        "--policy-set", "template=compact", "--policy-set", "value_hidden_sizes=[8]",
        "--out", str(tmp_path / "ok"),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    bad = glam("evaluate", str(model_dir), *common, "--policy-set", "templat=compact")
    assert bad.code == 2 and "templat" in bad.stderr and "Traceback" not in bad.stderr
    wrong = glam("evaluate", str(trained_runs["a"]), *common, "--policy-set", "template=paper")
    assert wrong.code == 2 and "--policy-set configures a model evaluated zero-shot" in wrong.stderr


def test_play_a_scripted_game_through_stdin(glam, monkeypatch: pytest.MonkeyPatch) -> None:
    from glam_apps.games.play import PlaySession

    # Follow the bot's hints to the goal, typed as the player would type them.
    session = PlaySession("GoToRedBallNoDists", seed=3)
    session.new_episode()
    moves = []
    while not session.turn.done:
        index, _ = session.hint()
        moves.append(str(index + 1))
        session.play(index)
    session.close()
    script = "hint\n" + "\n".join(moves) + "\nbogus\nq\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    result = glam("play", "GoToRedBallNoDists", "--seed", "3")
    assert result.code == 0, result.stderr
    assert "goal: go to the red ball" in result.stdout
    assert "hint: " in result.stdout
    assert "success in" in result.stdout
    assert "unknown command 'bogus'" in result.stdout
    assert "played 1 episode(s), 1 success(es)" in result.stdout


def test_play_quits_cleanly_at_end_of_input(glam, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n2\n"))
    result = glam("play", "GoToLocal", "--variant", "french")
    assert result.code == 0, result.stderr
    assert "tourner à gauche" in result.stdout
    assert "played 0 episode(s)" in result.stdout


def test_plot_several_runs(glam, trained_runs: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "curves.png"
    result = glam("plot", str(trained_runs["a"]), str(trained_runs["b"]), "--out", str(target))
    assert result.code == 0, result.stderr
    assert target.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------- errors


def test_bad_config_key_names_the_closest_valid_ones(glam, tmp_path: Path, one_clear_line) -> None:
    line = one_clear_line(
        glam("train", "--run-dir", str(tmp_path / "r"), "--set", "ppo.lerning_rate=1")
    )
    assert "'ppo.lerning_rate'" in line and "'ppo.learning_rate'" in line
    assert not (tmp_path / "r").exists()


def test_bad_config_value_and_bad_yaml_key(glam, tmp_path: Path, one_clear_line) -> None:
    line = one_clear_line(glam("train", "--set", "run.num_envs=0"))
    assert "run.num_envs" in line
    config = tmp_path / "c.yaml"
    config.write_text("env:\n  levle: GoToLocal\n")
    line = one_clear_line(glam("train", "--config", str(config)))
    assert "'env.levle'" in line and "'env.level'" in line


def test_missing_config_file(glam, tmp_path: Path, one_clear_line) -> None:
    line = one_clear_line(glam("train", "--config", str(tmp_path / "nope.yaml")))
    assert "not found" in line and "nope.yaml" in line


def test_missing_run_directories(glam, tmp_path: Path, one_clear_line) -> None:
    assert "not found" in one_clear_line(glam("train", "--resume", str(tmp_path / "none")))
    assert "not found" in one_clear_line(glam("evaluate", str(tmp_path / "none")))
    assert "not found" in one_clear_line(glam("plot", str(tmp_path / "none")))


def test_model_that_cannot_be_loaded(glam, tmp_path: Path, one_clear_line) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    run_dir = tmp_path / "run"
    line = one_clear_line(glam("train", "--run-dir", str(run_dir), "--model", str(broken)))
    assert "cannot load model" in line and "broken-model" in line
    assert not run_dir.exists()  # nothing written for a run that could not start
    line = one_clear_line(glam("train", "--model", str(tmp_path / "missing-model")))
    assert "model directory not found" in line
    line = one_clear_line(glam("evaluate", str(broken), "--suite", "level"))
    assert "cannot load model" in line


def test_existing_run_is_never_overwritten(
    glam, trained_runs, tiny_args, tree_digest, one_clear_line
) -> None:
    run = trained_runs["a"]
    before = tree_digest(run)
    line = one_clear_line(glam("train", "--run-dir", str(run), *tiny_args()))
    assert "already holds a run" in line and "--resume" in line
    assert tree_digest(run) == before


def test_incompatible_checkpoint_is_refused_and_nothing_changes(
    glam, trained_runs: dict[str, Path], tmp_path: Path, tree_digest, one_clear_line
) -> None:
    run = trained_runs["b"]
    before = tree_digest(run)
    line = one_clear_line(
        glam("train", "--resume", str(run), "--set", "policy.value_hidden_sizes=[4]")
    )
    assert "policy.value_hidden_sizes" in line
    assert tree_digest(run) == before
    # A run whose config.yaml was edited by hand after its checkpoints were written.
    copy = tmp_path / "edited"
    import shutil

    shutil.copytree(run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["policy"]["value_hidden_sizes"] = [4]
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    for checkpoint in ("latest", "final"):
        line = one_clear_line(glam("evaluate", str(copy), "--checkpoint", checkpoint))
        assert "incompatible" in line or "does not fit" in line, line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from glam_apps.cli import main
    from glam_apps.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["--debug", "train", "--config", str(tmp_path / "nope.yaml")])


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(
    tmp_path: Path, glam_cache: Path, tiny_args: Any
) -> None:
    run = tmp_path / "signalled"
    env = {**os.environ, "GLAM_CACHE_DIR": str(glam_cache)}
    process = subprocess.Popen(
        [sys.executable, "-m", "glam_apps.cli", "train", "--no-progress", "--run-dir", str(run),
         *tiny_args("run.total_steps=100000", "run.eval_every=null", "run.checkpoint_every=null")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").read_text():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "--resume" in stderr
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted"
    latest = (run / "checkpoints" / "periodic" / "latest").read_text().strip()
    assert (run / "checkpoints" / "periodic" / latest / "state.json").is_file()
