"""``glam evaluate`` defaults: a run is evaluated as its final evaluation was (so its
numbers are those of ``eval/final.json``), each option replaces one default, reports
of other agents go to ``runs/evaluations/``, and ``--baselines`` plays the same tests
and seeds."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from glam_apps.config.schema import GameSection
from glam_apps.errors import UserError
from glam_apps.evaluation.agents import RandomAgent
from glam_apps.evaluation.evaluate import (
    EVALUATIONS_DIR,
    LoadedAgent,
    baseline_agent,
    default_output_dir,
    parse_baselines,
    run_eval_defaults,
)
from glam_env import BabyAITextConfig

RunGlam = Callable[..., tuple[int, str, str]]
LEVEL = "GoToRedBallNoDists"
REPO = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------ defaults, no model


def _run_dir(root: Path, run: dict[str, Any], final: dict[str, Any] | None = None) -> Path:
    """A run directory as the defaults see it: its config, maybe its final report."""
    root.mkdir(parents=True)
    config = {"env": {"level": LEVEL}, "run": run}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    if final is not None:
        (root / "eval").mkdir()
        (root / "eval" / "final.json").write_text(json.dumps(final))
    return root


def test_defaults_come_from_the_run_config(tmp_path: Path) -> None:
    run = _run_dir(
        tmp_path / "run",
        {"eval_seed": 7, "eval_episodes": 3, "eval_greedy": True, "eval_num_envs": 1,
         "eval_level": "GoToLocal"},
    )  # fmt: skip
    defaults = run_eval_defaults(run)
    assert defaults.settings() == {
        "suite": "level",
        "level": "GoToLocal",
        "seed": 7,
        "episodes": 3,
        "actions": "greedy",
        "num_envs": 1,
    }
    assert defaults.source == "config.yaml (run.eval_*)"
    # Without eval_level, the training level; without eval_*, the config's defaults.
    plain = run_eval_defaults(_run_dir(tmp_path / "plain", {}))
    assert (plain.level, plain.seed, plain.episodes, plain.greedy, plain.num_envs) == (
        LEVEL, 1_000_000, 50, False, 8,
    )  # fmt: skip


def test_the_final_report_says_what_was_played(tmp_path: Path) -> None:
    final = {"seed": 11, "episodes_per_test": 4, "actions": "sampled",
             "metadata": {"base_level": "GoToObj"}}  # fmt: skip
    run = _run_dir(tmp_path / "run", {"eval_seed": 7, "eval_greedy": True}, final)
    defaults = run_eval_defaults(run)
    assert (defaults.seed, defaults.episodes, defaults.greedy, defaults.level) == (
        11, 4, False, "GoToObj",
    )  # fmt: skip
    assert defaults.source == "eval/final.json and config.yaml (run.eval_*)"
    (run / "eval" / "final.json").write_text("{garbage")  # unreadable: the config decides
    assert run_eval_defaults(run).seed == 7


def test_default_output_folders(tmp_path: Path) -> None:
    run = _run_dir(tmp_path / "run", {})
    assert default_output_dir(str(run)) == run.resolve() / "eval"
    assert (
        default_output_dir("random")
        == EVALUATIONS_DIR / "random"
        == Path("runs/evaluations/random")
    )
    assert default_output_dir("google/flan-t5-small") == EVALUATIONS_DIR / "flan-t5-small"
    # The documented folder is one the repository's .gitignore covers.
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not in a git checkout")
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", "runs/evaluations/random/report.json"],
        check=False,
    )
    assert ignored.returncode == 0


def test_other_agents_write_under_runs_evaluations(
    run_glam: RunGlam, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_glam("evaluate", "random", "--suite", "level", "--level", LEVEL,
                            "--episodes", "2", "--num-envs", "2")  # fmt: skip
    assert code == 0, err
    report = tmp_path / "runs" / "evaluations" / "random" / "level-sampled-seed0.json"
    assert report.is_file() and f"wrote {Path('runs/evaluations/random')}" in err
    assert not (tmp_path / "evaluations").exists()
    assert "defaults_from_run" not in json.loads(report.read_text())["metadata"]


def test_baseline_names_are_checked() -> None:
    assert parse_baselines(["random,bot", "bot", " keyword "]) == ["random", "bot", "keyword"]
    with pytest.raises(UserError, match="unknown baseline 'robot'; choose from random, bot"):
        parse_baselines(["random,robot"])
    with pytest.raises(UserError, match="baseline 'random' is the evaluated agent itself"):
        parse_baselines(["random"], agent="random")
    game = GameSection(gym_id="BoardGame-Text/TicTacToe-v0")
    like = LoadedAgent(RandomAgent(0), "policy", BabyAITextConfig(), game=game)
    with pytest.raises(UserError, match="baseline 'bot' plays BabyAI-Text only"):
        baseline_agent("bot", like, seed=0)
    assert baseline_agent("random", like, seed=0).game == game


@pytest.mark.parametrize("bad", ["robot", "random"])
def test_bad_baselines_are_one_clear_line(run_glam: RunGlam, bad: str, tmp_path: Path) -> None:
    code, out, err = run_glam("evaluate", "random", "--baselines", bad, "--out", str(tmp_path))
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert not list(tmp_path.iterdir())


def test_baselines_play_the_same_tests_and_seeds(run_glam: RunGlam, tmp_path: Path) -> None:
    common = ("--suite", "quick", "--level", LEVEL, "--episodes", "3", "--num-envs", "3",
              "--seed", "20", "--env-set", "max_steps=20")  # fmt: skip
    code, out, err = run_glam(
        "evaluate", "keyword", *common, "--baselines", "random,bot", "--out", str(tmp_path / "k")
    )
    assert code == 0, err
    assert "bot [99% CI]" in out or "bot: " in out
    assert "paired differences: glam compare" in err
    data = json.loads((tmp_path / "k" / "quick-sampled-seed20.json").read_text())
    assert data["complete"] and [b["agent"] for b in data["baselines"]] == ["random", "bot"]
    names = [r["name"] for r in data["results"]]
    for baseline in data["baselines"]:
        assert [r["name"] for r in baseline["results"]] == names
        for own, other in zip(data["results"], baseline["results"], strict=True):
            assert [o["seed"] for o in other["outcomes"]] == [o["seed"] for o in own["outcomes"]]
    # The bot column is what `glam evaluate bot` gives on those tests and seeds.
    code, _, err = run_glam("evaluate", "bot", *common, "--out", str(tmp_path / "bot"))
    assert code == 0, err
    alone = json.loads((tmp_path / "bot" / "quick-sampled-seed20.json").read_text())
    assert alone["results"] == data["baselines"][1]["results"]
    assert "| bot [99% CI] |" in (tmp_path / "k" / "quick-sampled-seed20.md").read_text()
    code, out, err = run_glam("compare", str(tmp_path / "k" / "quick-sampled-seed20.json"))
    assert code == 0 and "keyword − bot" in out, err


# ------------------------------------------------------------------ a trained run

#: A run small enough for tests (as the repository's tests/conftest.py TINY_RUN), with
#: episodes long enough, and only the three moves, so that some evaluation episodes end
#: in a success and the episodes compared below differ from one another.
TINY = (
    f"env.level={LEVEL}", "env.actions=move3", "env.family_weights=null",
    "env.num_distractors=null", "env.max_steps=64", "default_model.size=nano",
    "default_model.corpus_episodes=3", "default_model.vocab_size=400",
    "default_model.pretrain_steps=0", "policy.value_hidden_sizes=[8]", "run.num_envs=2",
    "run.eval_episodes=8", "run.eval_num_envs=2", "run.torch_threads=null",
    "run.eval_baselines=[random]", "run.total_steps=8", "ppo.num_steps=4",
    "ppo.minibatch_size=4", "ppo.num_epochs=1", "ppo.lr_schedule=constant",
)  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One tiny update of a run with its final report; evaluations write into its eval/."""
    from glam_apps.cli import main

    root = tmp_path_factory.mktemp("defaults")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLAM_CACHE_DIR", str(root / "cache"))
        args = [part for item in TINY for part in ("--set", item)]
        with pytest.raises(SystemExit) as exit_:
            main(["train", "--no-progress", "--run-dir", str(root / "run"), *args])
        assert exit_.value.code in (0, None)
        yield root / "run"


def _report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_a_run_evaluates_as_its_final_evaluation(run_glam: RunGlam, trained: Path) -> None:
    code, _, err = run_glam("evaluate", str(trained))
    assert code == 0, err
    final = _report(trained / "eval" / "final.json")
    report = _report(trained / "eval" / "level-sampled-seed1000000.json")
    assert (report["suite"], report["seed"], report["episodes_per_test"]) == ("level", 1_000_000, 8)
    assert report["actions"] == "sampled" and report["num_envs"] == 2
    assert report["metadata"]["defaults_from_run"] == {
        "source": "eval/final.json and config.yaml (run.eval_*)",
        "settings": {"suite": "level", "level": LEVEL, "seed": 1_000_000, "episodes": 8,
                     "num_envs": 2, "actions": "sampled"},
    }  # fmt: skip
    assert "as the run's final evaluation" in err
    # The same episodes, episode by episode, as the final evaluation.
    assert report["results"][0] == final["results"][0]
    assert len({o["length"] for o in report["results"][0]["outcomes"]}) > 1  # not all alike


@pytest.mark.slow
def test_each_option_replaces_one_default(run_glam: RunGlam, trained: Path) -> None:
    code, _, err = run_glam("evaluate", str(trained), "--seed", "3", "--episodes", "2")
    assert code == 0, err
    report = _report(trained / "eval" / "level-sampled-seed3.json")
    assert (report["seed"], report["episodes_per_test"], report["num_envs"]) == (3, 2, 2)
    assert set(report["metadata"]["defaults_from_run"]["settings"]) == {
        "suite", "level", "num_envs", "actions",
    }  # fmt: skip
    assert [o["seed"] for o in report["results"][0]["outcomes"]] == [3, 4]
    code, _, err = run_glam("evaluate", str(trained), "--greedy", "--num-envs", "1")
    assert code == 0, err
    greedy = _report(trained / "eval" / "level-greedy-seed1000000.json")
    assert greedy["actions"] == "greedy" and greedy["num_envs"] == 1
    assert greedy["episodes_per_test"] == 8
    # A protocol sets episodes, environments and actions itself; the run keeps the rest.
    code, _, err = run_glam("evaluate", str(trained), "--protocol", "paper", "--episodes", "1",
                            "--num-envs", "1")  # fmt: skip
    assert code == 0, err
    paper = _report(trained / "eval" / "level-sampled-seed1000000-2seeds.json")
    assert paper["seeds"] == 2 and paper["seed_starts"] == [1_000_000, 1_000_001]
    assert set(paper["metadata"]["defaults_from_run"]["settings"]) == {"suite", "level", "seed"}


@pytest.mark.slow
def test_a_run_with_baselines_and_its_comparison(run_glam: RunGlam, trained: Path) -> None:
    code, _, err = run_glam("evaluate", str(trained), "--baselines", "random", "--out",
                            str(trained / "with-random"))  # fmt: skip
    assert code == 0, err
    report = _report(trained / "with-random" / "level-sampled-seed1000000.json")
    final = _report(trained / "eval" / "final.json")
    # The random column is the final report's random baseline: same seeds, same episodes.
    random_row = next(r for r in final["results"] if r["name"] == "random baseline")
    assert report["baselines"][0]["results"][0]["outcomes"] == random_row["outcomes"]
    code, out, err = run_glam("compare", str(trained), str(trained / "with-random"
                              / "level-sampled-seed1000000.json"))  # fmt: skip
    assert code == 0, err
    assert f"run {trained}: {trained / 'eval' / 'final.json'}" in " ".join(err.split())
    assert "with the same results: shown once" in " ".join(err.split())
    assert "run (final) − random" in " ".join(out.split())
