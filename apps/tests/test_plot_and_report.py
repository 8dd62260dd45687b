from __future__ import annotations

import json
from pathlib import Path

import pytest

from glam_apps.analysis.plot import plot_runs
from glam_apps.errors import UserError
from glam_apps.evaluation.report import EvalResult, EvaluationReport, to_markdown, write_report
from glam_apps.evaluation.stats import summarize


def _fake_run(root: Path, slope: float) -> Path:
    root.mkdir(parents=True)
    (root / "config.yaml").write_text("run: {}\n")
    lines = [
        json.dumps(
            {"global_step": s * 100, "success_rate": min(1.0, slope * s), "episode_return_mean": s}
        )
        for s in range(1, 6)
    ]
    (root / "metrics.jsonl").write_text("\n".join(lines) + "\n{torn")
    (root / "eval").mkdir()
    (root / "eval" / "evaluations.jsonl").write_text(
        json.dumps(
            {
                "global_step": 500,
                "success_rate": 0.5,
                "success_ci_low": 0.3,
                "success_ci_high": 0.7,
                "mean_return": 2.0,
            }
        )
        + "\n"
    )
    return root


def test_plot_several_runs_writes_a_png(tmp_path: Path) -> None:
    runs = [_fake_run(tmp_path / "a", 0.1), _fake_run(tmp_path / "b", 0.2)]
    out = plot_runs(runs, tmp_path / "curves.png", smooth=2)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="run directory not found"):
        plot_runs([tmp_path / "missing"], tmp_path / "x.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a run directory"):
        plot_runs([tmp_path / "empty"], tmp_path / "x.png")
    (tmp_path / "empty" / "config.yaml").write_text("{}\n")
    with pytest.raises(UserError, match="metrics to plot"):
        plot_runs([tmp_path / "empty"], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_report_renderings(tmp_path: Path) -> None:
    report = EvaluationReport(
        agent="random",
        suite="quick",
        episodes=4,
        seed=0,
        greedy=False,
        results=[
            EvalResult("no change", "GoToLocal", summarize([True, False], [0.5, 0.0], [5, 64])),
        ],
    )
    markdown = to_markdown(report)
    assert "| no change | GoToLocal | 0.500 |" in markdown
    json_path, md_path = write_report(report, tmp_path, "quick")
    data = json.loads(json_path.read_text())
    assert data["results"][0]["success_rate"] == 0.5
    assert data["ci_method"] == "wilson" and data["confidence"] == 0.99
    assert md_path.read_text() == markdown


def test_plot_refuses_runs_whose_metrics_have_none_of_the_plotted_series(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    (root / "config.yaml").write_text("run: {}\n")
    (root / "metrics.jsonl").write_text(json.dumps({"steps": 1, "reward": 0.5}) + "\n")
    with pytest.raises(UserError, match="none of the runs"):
        plot_runs([root], tmp_path / "curves.png")
