"""``glam train`` on a text game other than BabyAI-Text (here: tic-tac-toe vs random)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from glam_apps.cli import app, main
from glam_apps.config.schema import TrainConfig
from glam_apps.evaluation.evaluate import evaluate

TINY = {
    "run": {
        "total_steps": 16,
        "num_envs": 2,
        "eval_episodes": 4,
        "eval_num_envs": 2,
        "torch_threads": 1,
    },
    "game": {
        "gym_id": "BoardGame-Text/TicTacToe-v0",
        "kwargs": {"config": {"game": "tictactoe", "agent_plays": "first"}},
    },
    "default_model": {"size": "nano", "vocab_size": 300, "corpus_episodes": 5},
    "ppo": {"num_steps": 8, "num_epochs": 1, "minibatch_size": 8},
}


def test_train_on_tictactoe_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GLAM_CACHE_DIR", str(tmp_path / "cache"))
    config = tmp_path / "ttt.yaml"
    config.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / "run"
    args = ["train", "--config", str(config), "--run-dir", str(run_dir), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished"
    assert status["global_step"] == 16
    final = json.loads((run_dir / "eval" / "final.json").read_text())
    names = [r["name"] for r in final["results"]]
    levels = {r["level"] for r in final["results"]}
    assert names == ["no change", "random baseline"]
    assert levels == {"BoardGame-Text/TicTacToe-v0"}
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["game"]["gym_id"] == "BoardGame-Text/TicTacToe-v0"
    # The model's corpus was played in the game: its tokenizer knows the moves.
    models = list((tmp_path / "cache" / "models").iterdir())
    assert len(models) == 1
    recipe = json.loads((models[0] / "glam_recipe.json").read_text())
    assert recipe["corpus_envs"][0]["gym_id"] == "BoardGame-Text/TicTacToe-v0"
    # The run evaluates on its game; BabyAI suites are refused with a clear error.
    report, _ = evaluate(str(run_dir), suite="level", episodes=3, num_envs=1)
    assert report.results[0].level == "BoardGame-Text/TicTacToe-v0"
    with pytest.raises(SystemExit) as refused:
        main(["evaluate", str(run_dir), "--suite", "paper"])
    assert refused.value.code == 2
    assert "only the 'level' suite" in " ".join(capsys.readouterr().err.split())


def test_unknown_game_id_lists_close_matches() -> None:
    with pytest.raises(ValidationError) as error:
        TrainConfig.model_validate({"game": {"gym_id": "BoardGame-Text/TicTacToe-v1"}})
    message = str(error.value)
    assert "unknown text game 'BoardGame-Text/TicTacToe-v1'" in message
    assert "did you mean BoardGame-Text/TicTacToe-v0" in message


def test_unknown_game_id_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"game": {"gym_id": "TextWorld/CoinColector-v0"}}))
    with pytest.raises(SystemExit) as exited:
        main(["train", "--config", str(config), "--show-config"])
    assert exited.value.code == 2
    output = " ".join(capsys.readouterr().err.split())
    assert "did you mean TextWorld/CoinCollector-v0" in output
    assert "Traceback" not in output


def test_bad_game_kwargs_fail_before_the_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GLAM_CACHE_DIR", str(tmp_path / "cache"))
    data = {**TINY, "game": {"gym_id": "BoardGame-Text/TicTacToe-v0", "kwargs": {"colour": 1}}}
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(data))
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exited:
        main(["train", "--config", str(config), "--run-dir", str(run_dir)])
    assert exited.value.code == 2
    output = " ".join(capsys.readouterr().err.split())
    assert "game BoardGame-Text/TicTacToe-v0 with kwargs {'colour': 1}" in output
    assert not run_dir.exists()


def test_babyai_only_settings_are_refused_with_a_game() -> None:
    game = TINY["game"]
    with pytest.raises(ValidationError, match=r"bot play\(s\) BabyAI only"):
        TrainConfig.model_validate({"game": game, "run": {"eval_baselines": ["bot"]}})
    with pytest.raises(ValidationError, match=r"run\.eval_level"):
        TrainConfig.model_validate({"game": game, "run": {"eval_level": "GoToLocal"}})


def test_default_config_has_no_game_section() -> None:
    assert "game" not in TrainConfig().to_yaml_dict()


def test_the_game_is_a_compatibility_key_on_resume() -> None:
    from glam_apps.models.policies import config_differences

    tictactoe = TrainConfig.model_validate({"game": TINY["game"]})
    connect_four = TrainConfig.model_validate({"game": {"gym_id": "BoardGame-Text/ConnectFour-v0"}})
    assert any(d.startswith("game:") for d in config_differences(tictactoe, connect_four))
    assert config_differences(tictactoe, tictactoe) == []
