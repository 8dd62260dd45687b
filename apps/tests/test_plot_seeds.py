"""``glam plot``: seeds grouped into a mean and a t band, any metric, folders of runs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import yaml
from matplotlib.collections import PolyCollection

from glam_apps.analysis.curves import (
    RunMetrics,
    Series,
    across_runs,
    find_runs,
    group_label,
    group_runs,
    list_metrics,
)
from glam_apps.analysis.plot import draw_runs, plot_runs
from glam_apps.errors import UserError


def _run(
    root: Path,
    seed: int,
    *,
    lr: float = 1e-3,
    slope: float = 0.1,
    updates: int = 4,
    step0: float | None = 0.05,
) -> Path:
    """A run directory as ``glam train`` writes it: config, metrics, evaluations."""
    root.mkdir(parents=True)
    config = {"run": {"seed": seed, "run_dir": str(root)}, "ppo": {"learning_rate": lr}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    metrics = [
        {
            "global_step": 8 * i,
            "iteration": i,
            "success_rate": min(1.0, slope * i + 0.01 * seed),
            "episode_return_mean": slope * i,
            "policy_loss": 1.0 / i,
        }
        for i in range(1, updates + 1)
    ]
    (root / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    evals = [] if step0 is None else [_eval(0, step0)]
    evals += [_eval(8 * i, min(1.0, slope * i)) for i in (2, 4) if i <= updates]
    (root / "eval").mkdir()
    (root / "eval" / "evaluations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    return root


def _eval(step: int, success: float) -> dict[str, float]:
    return {
        "global_step": step,
        "success_rate": success,
        "success_ci_low": max(0.0, success - 0.2),
        "success_ci_high": min(1.0, success + 0.2),
        "mean_return": success / 2,
    }


def _legend(figure: plt.Figure, panel: int = 0) -> list[str]:
    return figure.axes[panel].get_legend_handles_labels()[1]


def test_seeds_of_one_config_form_one_group_labelled_by_their_folder(tmp_path: Path) -> None:
    seeds = [_run(tmp_path / "lr" / f"seed-{k}", k) for k in range(3)]
    other = _run(tmp_path / "other", 0, lr=1e-4)
    runs = [RunMetrics.load(p) for p in [*seeds, other]]
    groups = group_runs(runs)
    assert [[r.name for r in g] for g in groups] == [["seed-0", "seed-1", "seed-2"], ["other"]]
    assert group_label(groups[0]) == "lr (3 seeds)"
    assert group_label(groups[1]) == "other"


def test_repeats_of_one_seed_are_not_grouped(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "a", 0), _run(tmp_path / "b", 0)
    groups = group_runs([RunMetrics.load(a), RunMetrics.load(b)])
    assert [len(g) for g in groups] == [1, 1]


def test_band_is_the_student_t_interval_on_a_common_grid() -> None:
    # Steps differ between seeds: each is interpolated on the union of the steps
    # inside the range every seed covers (0..16: the third seed stops there).
    first = Series.from_points([(0, 0.0), (8, 0.4), (16, 0.8), (24, 1.0)], "x")
    second = Series.from_points([(0, 0.2), (16, 0.6), (24, 0.6)], "x")
    third = Series.from_points([(0, 0.1), (4, 0.2), (16, 0.4)], "x")
    band = across_runs([first, second, third], confidence=0.95)
    assert band is not None
    assert band.steps.tolist() == [0.0, 4.0, 8.0, 16.0]
    at_8 = np.array([0.4, 0.2 + 0.4 * 0.5, 0.2 + (0.4 - 0.2) * (4 / 12)])
    mean = at_8.mean()
    half = 4.302652729911275 * at_8.std(ddof=1) / math.sqrt(3)  # t(0.975, 2 dof)
    assert band.mean[2] == pytest.approx(mean)
    assert band.low[2] == pytest.approx(mean - half)
    assert band.high[2] == pytest.approx(mean + half)
    assert band.runs == 3 and band.method == "student-t"
    assert across_runs([first, Series.from_points([(30, 1.0), (40, 1.0)], "x")]) is None


def test_training_curves_start_at_the_step_0_evaluation(tmp_path: Path) -> None:
    run = RunMetrics.load(_run(tmp_path / "a", 0, step0=0.05))
    for name in ("success_rate", "rollout/success_rate"):
        curve = run.curve(name)
        assert curve is not None
        assert curve.steps[:2].tolist() == [0.0, 8.0] and curve.values[0] == 0.05
    returns = run.curve("episode_return_mean")
    assert returns is not None and returns.values[0] == pytest.approx(0.025)  # mean_return
    loss = run.curve("policy_loss")
    assert loss is not None and loss.steps[0] == 8.0  # no evaluation measures a loss
    without = RunMetrics.load(_run(tmp_path / "b", 0, step0=None)).curve("success_rate")
    assert without is not None and without.steps[0] == 8.0


def test_smoothing_applies_to_training_metrics_not_evaluations(tmp_path: Path) -> None:
    run = RunMetrics.load(_run(tmp_path / "a", 0, step0=None))
    smooth = run.curve("policy_loss", smooth=2)
    assert smooth is not None
    assert smooth.values.tolist() == pytest.approx([1.0, 0.75, (1 / 2 + 1 / 3) / 2, 7 / 24])
    evals = run.curve("eval/success_rate", smooth=2)
    assert evals is not None and evals.values.tolist() == pytest.approx([0.2, 0.4])


def test_a_folder_of_seeds_plots_as_one_band(tmp_path: Path) -> None:
    for k in range(3):
        _run(tmp_path / "lr" / f"seed-{k}", k, slope=0.1 + 0.02 * k)
    assert [r.root.name for r in find_runs([tmp_path / "lr"])] == ["seed-0", "seed-1", "seed-2"]
    figure = draw_runs([tmp_path / "lr"])
    try:
        assert _legend(figure) == ["lr (3 seeds) (train)", "lr (3 seeds) (eval)"]
        bands = [c for c in figure.axes[0].collections if isinstance(c, PolyCollection)]
        assert len(bands) == 2  # training and evaluation, each with its band
        train_line = figure.axes[0].get_lines()[0]
        assert train_line.get_xdata()[0] == 0.0  # the step-0 evaluation
        assert "95% Student-t" in " ".join(t.get_text() for t in figure.texts)
    finally:
        plt.close(figure)
    figure = draw_runs([tmp_path / "lr"], group=False)
    try:
        assert _legend(figure)[::2] == ["seed-0 (train)", "seed-1 (train)", "seed-2 (train)"]
    finally:
        plt.close(figure)
    out = plot_runs([tmp_path / "lr"], tmp_path / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_any_metric_from_jsonl_evaluations_or_tensorboard(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    runs = [_run(tmp_path / "lr" / f"seed-{k}", k) for k in range(2)]
    for k, run in enumerate(runs):
        writer = SummaryWriter(str(run / "tensorboard" / "custom"))
        for step in (8, 16, 24):
            writer.add_scalar("custom/temperature", step / 10 + k, step)
        writer.close()
    metrics = ["train/policy_loss", "eval/mean_return", "custom/temperature"]
    figure = draw_runs([tmp_path / "lr"], metrics=metrics)
    try:
        assert [ax.get_ylabel() for ax in figure.axes] == metrics
        temperature = figure.axes[2].get_lines()[0]
        assert temperature.get_ydata().tolist() == pytest.approx([1.3, 2.1, 2.9])  # mean of 2
    finally:
        plt.close(figure)
    infos = {info.name: info for info in list_metrics([RunMetrics.load(r) for r in runs])}
    assert infos["policy_loss"].tag == "train/policy_loss"
    assert infos["eval/mean_return"].source == "eval/evaluations.jsonl"
    assert infos["custom/temperature"].source == "tensorboard"
    assert "train/policy_loss" not in infos  # listed with its key


def test_unknown_metric_names_the_closest(tmp_path: Path) -> None:
    _run(tmp_path / "a", 0)
    with pytest.raises(UserError, match="unknown metric 'sucess_rate'; did you mean success_rate"):
        plot_runs([tmp_path / "a"], tmp_path / "x.png", metrics=["sucess_rate"])
    with pytest.raises(UserError, match="--list-metrics"):
        plot_runs([tmp_path / "a"], tmp_path / "x.png", metrics=["nothing-like-it"])
    assert not (tmp_path / "x.png").exists()


def test_plot_input_errors(tmp_path: Path) -> None:
    _run(tmp_path / "lr" / "seed-0", 0)
    _run(tmp_path / "lr" / "seed-1", 1)
    with pytest.raises(UserError, match="2 labels given for 1 lines"):
        plot_runs([tmp_path / "lr"], tmp_path / "x.png", labels=["a", "b"])
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    with pytest.raises(UserError, match="no runs inside"):
        plot_runs([tmp_path / "empty"], tmp_path / "x.png")
    with pytest.raises(UserError, match="confidence"):
        plot_runs([tmp_path / "lr"], tmp_path / "x.png", confidence=1.5)


def test_cli_lists_metrics_and_refuses_an_unknown_one(
    tmp_path: Path, run_glam: Callable[..., tuple[int, str, str]]
) -> None:
    _run(tmp_path / "lr" / "seed-0", 0)
    _run(tmp_path / "lr" / "seed-1", 1)
    code, out, _ = run_glam("plot", str(tmp_path / "lr"), "--list-metrics")
    assert code == 0
    assert "success_rate (rollout/success_rate)  metrics.jsonl" in out.splitlines()
    assert "eval/success_rate  eval/evaluations.jsonl" in out.splitlines()
    code, _, err = run_glam("plot", str(tmp_path / "lr"), "--metric", "polcy_loss")
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: unknown metric 'polcy_loss'")
    target = tmp_path / "c.png"
    code, _, err = run_glam("plot", str(tmp_path / "lr"), "-m", "policy_loss", "-o", str(target))
    assert code == 0, err
    assert target.read_bytes()[:4] == b"\x89PNG"
