"""``glam train --seeds`` and the progress lines a log file gets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from glam_apps.analysis.plot import draw_runs
from glam_apps.cli.train import LINE_WIDTH, evaluation_line, progress_line
from glam_apps.config.packaged import load_train_config
from glam_apps.errors import UserError
from glam_apps.training.seeds import (
    SeedPlan,
    parse_seeds,
    plan_seeds,
    train_seeds,
    with_parent,
)
from glam_apps.training.train import StopFlag, TrainHooks

#: A run small enough for a test: nano offline model, 2 envs x 4 steps per update,
#: two updates, an evaluation before training and after each update (2 episodes).
TINY = (
    "env.level=GoToRedBallNoDists",
    "env.family_weights=null",
    "env.num_distractors=null",
    "env.max_steps=6",
    "default_model.size=nano",
    "default_model.corpus_episodes=3",
    "default_model.vocab_size=400",
    "default_model.pretrain_steps=0",
    "policy.value_hidden_sizes=[8]",
    "run.num_envs=2",
    "run.total_steps=16",
    "run.eval_episodes=2",
    "run.eval_num_envs=2",
    "run.eval_every=8",
    "run.eval_at_start=true",
    "run.eval_baselines=[random]",
    "run.log_transcripts=1",
    "run.checkpoint_every=8",
    "run.torch_threads=1",
    "ppo.num_steps=4",
    "ppo.minibatch_size=4",
    "ppo.num_epochs=1",
    "ppo.lr_schedule=constant",
)


def _set(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


# ---------------------------------------------------------------------- units


def test_parse_seeds() -> None:
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0-2") == [0, 1, 2]
    assert parse_seeds("3, 0-1,1") == [3, 0, 1]
    for bad, message in (
        ("a", "'a' is not a seed"),
        ("2-0", "goes down"),
        ("1,,2", "'' is not a seed"),
        ("-1", "is not a seed"),
        ("0-5000", "more than 1000 seeds"),
    ):
        with pytest.raises(UserError, match=message):
            parse_seeds(bad)


def test_plan_refuses_a_parent_that_is_a_run_and_a_seed_of_another_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_train_config(None, [f"run.run_dir={tmp_path / 'exp'}", *TINY])
    plans = plan_seeds(config, [0, 1])
    assert [(p.seed, p.action, p.run_dir.name) for p in plans] == [
        (0, "train", "seed-0"),
        (1, "train", "seed-1"),
    ]
    assert [p.config.run.seed for p in plans] == [0, 1]
    seed_1 = tmp_path / "exp" / "seed-1"
    seed_1.mkdir(parents=True)
    other = plans[1].config.model_copy(
        update={"ppo": plans[1].config.ppo.model_copy(update={"learning_rate": 0.5})}
    )
    (seed_1 / "config.yaml").write_text(yaml.safe_dump(other.to_yaml_dict()))
    with pytest.raises(UserError, match=r"seed-1 holds a run of another config \(ppo.learning"):
        plan_seeds(config, [0, 1])
    (tmp_path / "exp" / "config.yaml").write_text(yaml.safe_dump(config.to_yaml_dict()))
    with pytest.raises(UserError, match="holds a run; --seeds writes one run per seed"):
        plan_seeds(config, [0])
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match="without torchrun"):
        plan_seeds(config, [0])


def test_the_default_parent_is_chosen_once_and_a_foreign_folder_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = with_parent(load_train_config(None, list(TINY)))
    assert config.run.run_dir is not None and with_parent(config) is config
    first, second = plan_seeds(config, [0]), plan_seeds(config, [0])
    assert first[0].run_dir == second[0].run_dir
    assert first[0].run_dir.parent == (tmp_path / config.run.run_dir).resolve()
    assert first[0].run_dir.parent.name.endswith("-GoToRedBallNoDists")
    first[0].run_dir.mkdir(parents=True)
    (first[0].run_dir / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="is not empty and holds no run"):
        plan_seeds(config, [0])


def test_cli_seed_errors(tmp_path: Path, run_glam: Callable[..., tuple[int, str, str]]) -> None:
    for args, message in (
        (["--seeds", "0,1", "--resume", str(tmp_path)], "drop --resume"),
        (["--seeds", "0,1", "--set", "run.seed=3"], "drop --set run.seed"),
        (["--seeds", "zero"], "'zero' is not a seed"),
    ):
        code, _, err = run_glam("train", *args, "--run-dir", str(tmp_path / "x"))
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "x").exists()


def _state(done: int, total: int, speed: float, success: float, ret: float) -> SimpleNamespace:
    return SimpleNamespace(
        env_steps=done,
        total_steps=total,
        steps_per_second=speed,
        success_rate=success,
        mean_return=ret,
        eval_success=0.52,
    )


def test_progress_line_fits_in_80_columns() -> None:
    line = progress_line(_state(4096, 100_000, 312.4, 0.45, 0.381))
    assert line == "4096/100k steps 4% 312/s success 0.45 return 0.38 eval 0.52 eta 5m07s"
    huge = progress_line(_state(123_456_789_012, 999_999_999_999, 1e7, 0.5, -12345.678), "seed 12")
    assert len(huge) <= LINE_WIDTH and huge.startswith("seed 12: 123G/1000G steps 12%")
    assert "success 0.50" in huge  # parts at the end go first
    start = progress_line(_state(0, 16, float("nan"), float("nan"), float("nan")))
    assert start == "0/16 steps 0% -/s success - return - eval 0.52 eta -"
    record = {
        "global_step": 1_234_567,
        "success_rate": 0.5,
        "success_ci_low": 0.25,
        "success_ci_high": 0.75,
        "mean_return": -123.456,
    }
    assert evaluation_line(record) == (
        "eval at 1.23M steps: success 0.500 [0.25, 0.75] return -123.456"
    )


# ---------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("glam-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLAM_CACHE_DIR", str(folder))
        yield folder


@pytest.mark.slow
def test_seeds_train_stop_resume_skip_and_plot_as_one_band(
    tmp_path: Path, cache: Path, run_glam: Callable[..., tuple[int, str, str]]
) -> None:
    parent = tmp_path / "exp"
    config = load_train_config(None, [f"run.run_dir={parent}", *TINY])
    stop = StopFlag()

    @contextmanager
    def display(plan: SeedPlan) -> Iterator[TrainHooks]:
        def stop_seed_1(state: object) -> None:
            if plan.seed == 1:
                stop.set("test: stop seed 1 after its first update")

        yield TrainHooks(on_progress=stop_seed_1)

    # In Python: seed 0 trains, seed 1 is stopped after one update, seed 2 waits.
    first = train_seeds(config, [0, 1, 2], display=display, stop=stop, handle_signals=False)
    assert [(r.seed, r.action, r.status) for r in first.runs] == [
        (0, "train", "finished"),
        (1, "train", "interrupted"),
        (2, "not started", "not started"),
    ]
    assert first.spread() is None  # one finished seed: no interval

    # The same seeds from the command line, output captured (not a terminal):
    # seed 0 is skipped, seed 1 resumed, seed 2 trained; plain lines of <= 80 columns.
    code, out, err = run_glam("train", "--seeds", "0-2", "--run-dir", str(parent), *_set(*TINY))
    assert code == 0, err
    assert "seed 0: seed-0 is finished already: skipped" in err
    assert "seed 1: resuming seed-1" in err and "seed 2: training seed-2" in err
    progress = [line for line in err.splitlines() if re.match(r"seed \d: \d+/16 steps", line)]
    assert [p.split(" steps")[0] for p in progress] == [
        "seed 1: 16/16",
        "seed 2: 8/16",
        "seed 2: 16/16",
    ]
    evaluations = [line for line in err.splitlines() if line.startswith("eval at ")]
    assert len(evaluations) == 1 + 3  # seed 1 at 16; seed 2 at 0, 8 and 16
    assert all(len(line) <= LINE_WIDTH for line in progress + evaluations)
    assert "━" not in err  # no progress bar in a log
    assert re.search(r"final success over 3 seeds: mean \d\.\d{3}, 95% t-interval", err)
    rows = [line for line in out.splitlines() if re.match(r"│\s+\d │ seed-\d", line)]
    assert len(rows) == 3 and all("finished" in row for row in rows)

    for k in range(3):
        saved = yaml.safe_load((parent / f"seed-{k}" / "config.yaml").read_text())
        assert saved["run"]["seed"] == k
        status = json.loads((parent / f"seed-{k}" / "status.json").read_text())
        assert status["status"] == "finished" and status["global_step"] == 16
        evals = (parent / f"seed-{k}" / "eval" / "evaluations.jsonl").read_text().splitlines()
        assert [json.loads(line)["global_step"] for line in evals] == [0, 8, 16]

    # TensorBoard: namespaced tags, the config, hparams, transcripts at each evaluation.
    board = parent / "seed-2" / "tensorboard"
    events = EventAccumulator(str(board), size_guidance={"tensors": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/policy_loss", "train/learning_rate", "rollout/steps_per_second"} <= scalars
    assert all(tag.split("/")[0] in ("train", "rollout") for tag in scalars)
    assert {"config/text_summary", "_hparams_/experiment"} <= set(events.Tags()["tensors"])
    evals = EventAccumulator(str(board / "eval"), size_guidance={"tensors": 0})
    evals.Reload()
    assert [e.step for e in evals.Scalars("eval/success_rate")] == [0, 8, 16]
    assert [e.step for e in evals.Tensors("eval/transcript_1/text_summary")] == [0, 8, 16]

    # Run again: every seed is finished, nothing trains.
    code, _, err = run_glam("train", "--seeds", "0-2", "--run-dir", str(parent), *_set(*TINY))
    assert code == 0 and err.count("is finished already: skipped") == 3
    assert "0 to train or resume" in err

    # glam plot on the parent folder: one line, the mean of 3 seeds, from step 0.
    figure = draw_runs([parent])
    try:
        labels = figure.axes[0].get_legend_handles_labels()[1]
        assert labels == ["exp (3 seeds) (train)", "exp (3 seeds) (eval)"]
        assert figure.axes[0].get_lines()[0].get_xdata()[0] == 0.0
    finally:
        plt.close(figure)
    code, _, err = run_glam("plot", str(parent), "-o", str(tmp_path / "curves.png"))
    assert code == 0, err
