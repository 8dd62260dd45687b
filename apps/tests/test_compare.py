"""Per-episode outcomes in the reports, the paired statistics, and ``glam compare``:
two reports with known outcomes, a run directory, old reports, mismatched tests and
seeds, every refusal, and tables that stay whole at 80 columns."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from rich.console import Console

from glam_apps.analysis.compare import compare, rich_comparison, to_markdown
from glam_apps.errors import UserError
from glam_apps.evaluation.agents import RandomAgent
from glam_apps.evaluation.evaluate import LoadedAgent, evaluate_agent
from glam_apps.evaluation.report import EvalResult, EvaluationReport, rich_table, write_report
from glam_apps.evaluation.stats import (
    EpisodeOutcome,
    across_seeds,
    mcnemar_exact_p,
    paired_difference,
    paired_mean_difference,
    summarize_outcomes,
)
from glam_env import BabyAITextConfig

RunGlam = Callable[..., tuple[int, str, str]]
LEVEL = "GoToRedBallNoDists"

# ------------------------------------------------------------------ statistics


def test_paired_difference_matches_a_published_example() -> None:
    # Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables", ch. 8:
    # Cavo et al. 2012, pairs 59 / 6 / 16 / 80; Newcombe square-and-add 95% CI
    # -0.0621 (-0.1186 to -0.0046); exact McNemar p = 2 * P(X <= 6 | 22, 1/2).
    a = [True] * 59 + [True] * 6 + [False] * 16 + [False] * 80
    b = [True] * 59 + [False] * 6 + [True] * 16 + [False] * 80
    d = paired_difference(a, b, confidence=0.95)
    assert (d.pairs, d.both, d.only_a, d.only_b, d.neither) == (161, 59, 6, 16, 80)
    assert d.difference == pytest.approx(-0.0621, abs=5e-5)
    assert d.ci_low == pytest.approx(-0.1186, abs=5e-5)
    assert d.ci_high == pytest.approx(-0.0046, abs=5e-5)
    expected_p = 2 * sum(math.comb(22, k) for k in range(7)) / 2**22
    assert d.p_value == pytest.approx(expected_p) and d.p_value == pytest.approx(0.0525, abs=1e-4)


def test_paired_difference_edge_cases() -> None:
    same = paired_difference([True, False, True, False], [True, False, True, False])
    assert same.difference == 0.0 and same.p_value == 1.0
    assert same.ci_low < 0.0 < same.ci_high  # never a point, unlike a t interval
    swept = paired_difference([True] * 30, [False] * 30)
    assert swept.difference == 1.0 and swept.ci_high == 1.0 and 0.5 < swept.ci_low < 1.0
    assert swept.p_value == pytest.approx(2 / 2**30)
    assert mcnemar_exact_p(0, 0) == 1.0
    with pytest.raises(ValueError, match="paired episodes needed"):
        paired_difference([True], [True, False])
    with pytest.raises(ValueError, match="at least one pair"):
        paired_difference([], [])


def test_paired_mean_difference_on_hand_computed_numbers() -> None:
    # differences 1, 2, 3: mean 2, std 1, standard error 1/sqrt(3); t(99%, 2 dof) = 9.92484.
    d = paired_mean_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert d is not None and d.pairs == 3 and d.difference == pytest.approx(2.0)
    assert d.ci_high - 2.0 == pytest.approx(9.92484 / math.sqrt(3), abs=1e-4)
    assert paired_mean_difference([1.0], [0.0]) is None


# ------------------------------------------------------------------ outcomes in reports


def test_reports_keep_every_episode(tmp_path: Path) -> None:
    loaded = LoadedAgent(RandomAgent(0), "random", BabyAITextConfig(max_steps=20))
    report = evaluate_agent(loaded, suite="level", level=LEVEL, episodes=5, num_envs=2, seed=40)
    summary = report.results[0].summary
    assert [o.seed for o in summary.outcomes] == [40, 41, 42, 43, 44]
    assert sum(o.success for o in summary.outcomes) == summary.successes
    assert "outcomes" not in summary.to_dict()  # training's evaluations.jsonl stays small
    json_path, _ = write_report(report, tmp_path, "r")
    text = json_path.read_text()
    data = json.loads(text)
    outcomes = data["results"][0]["outcomes"]
    assert [o["seed"] for o in outcomes] == [40, 41, 42, 43, 44]
    assert set(outcomes[0]) == {"seed", "success", "return", "length", "family"}
    assert [o["length"] for o in outcomes] == [o.length for o in summary.outcomes]
    # One line per episode, whatever the indentation of the rest.
    assert sum('{"seed": ' in line for line in text.splitlines()) == 5


# ------------------------------------------------------------------ building reports


def _outcomes(wins: Sequence[int], seeds: Sequence[int], family: str | None = None) -> list:
    return [
        EpisodeOutcome(i, s, s in wins, 0.9 if s in wins else 0.0, 5 if s in wins else 20, family)
        for i, s in enumerate(seeds)
    ]


def _report(
    agent: str,
    tests: dict[str, tuple[Sequence[int], Sequence[int]]],
    baselines: Sequence[EvaluationReport] = (),
) -> EvaluationReport:
    results = [
        EvalResult(name, "MixedTestLocal" if name == "new objects" else LEVEL,
                   summarize_outcomes(_outcomes(wins, seeds)))
        for name, (wins, seeds) in tests.items()
    ]  # fmt: skip
    return EvaluationReport(agent, "quick", 10, 0, False, results, baselines=list(baselines))


def _write(report: EvaluationReport, folder: Path) -> Path:
    return write_report(report, folder, "report")[0]


SEEDS = range(10)


@pytest.fixture
def two_reports(tmp_path: Path) -> tuple[Path, Path]:
    a = _report("a", {"no change": (range(8), SEEDS), "invented words": (range(5), SEEDS)})
    b = _report("b", {"no change": (range(3), SEEDS), "invented words": (range(5), SEEDS)})
    return _write(a, tmp_path / "a"), _write(b, tmp_path / "b")


# ------------------------------------------------------------------ comparing


def test_compare_two_reports_with_known_outcomes(two_reports: tuple[Path, Path]) -> None:
    comparison = compare(two_reports)
    assert [c.name for c in comparison.agents] == ["a", "b"] and comparison.reference == "a"
    assert comparison.tests == [("no change", LEVEL), ("invented words", LEVEL)]
    assert comparison.agent("a").tests[("no change", LEVEL)].success_rate == 0.8
    assert comparison.agent("b").tests[("no change", LEVEL)].success_rate == 0.3
    d = comparison.difference(("no change", LEVEL), "b").success
    # Seeds 0-2 both won, 3-7 only a, 8-9 neither.
    assert d is not None and (d.both, d.only_a, d.only_b, d.neither) == (3, 5, 0, 2)
    assert d.difference == pytest.approx(0.5) and d.p_value == pytest.approx(2 / 2**5)
    assert d == paired_difference([s < 8 for s in SEEDS], [s < 3 for s in SEEDS])
    tie = comparison.difference(("invented words", LEVEL), "b")
    assert tie.success is not None and tie.success.difference == 0.0
    assert tie.returns is not None and tie.returns.difference == 0.0
    assert comparison.notes == []
    data = comparison.to_dict()
    assert data["tests"][0]["differences"][0]["success"]["only_a"] == 5
    assert data["tests"][0]["agents"]["b"]["successes"] == 3
    # Another reference: the sign flips.
    flipped = compare(two_reports, reference="b").difference(("no change", LEVEL), "a").success
    assert flipped is not None and flipped.difference == pytest.approx(-0.5)


def test_labels_name_each_report_s_agent(two_reports: tuple[Path, Path]) -> None:
    # Runs of a study are all called seed-K: --label says which agent each one is.
    comparison = compare(two_reports, labels=["pretrained", "scratch"], reference="scratch")
    assert [c.name for c in comparison.agents] == ["pretrained", "scratch"]
    d = comparison.difference(("no change", LEVEL), "pretrained").success
    assert d is not None and d.difference == pytest.approx(-0.5)
    with pytest.raises(UserError, match=r"1 label\(s\) for 2 report"):
        compare(two_reports, labels=["only one"])


def test_compare_cli_table_markdown_and_json(
    run_glam: RunGlam, two_reports: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = map(str, two_reports)
    code, out, err = run_glam("compare", a, b)
    assert code == 0, err
    assert "0.800 [0.40, 0.96]" in out and "+0.500" in out and "p=0.062" in out
    assert f"{a} (a)" in " ".join(err.split())
    code, out, err = run_glam(
        "compare", a, b, "--format", "markdown", "--out", str(tmp_path / "c.json")
    )
    assert code == 0, err
    assert "| test | level | a | b | a − b |" in out
    assert "| no change | GoToRedBallNoDists | 0.800 [0.40, 0.96] | 0.300 [0.08, 0.68] |" in out
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["reference"] == "a" and written["paired_test"] == "exact mcnemar"
    code, out, err = run_glam("compare", a, b, "--format", "json", "--out", str(tmp_path / "c.md"))
    assert code == 0, err
    assert json.loads(out)["tests"][1]["name"] == "invented words"
    assert (tmp_path / "c.md").read_text() == to_markdown(compare([a, b]))


def test_a_report_with_baselines_compares_alone(tmp_path: Path) -> None:
    random = _report("random", {"no change": ([1], SEEDS)})
    bot = _report("bot", {"no change": (SEEDS, SEEDS)})
    agent = _report("agent", {"no change": (range(6), SEEDS)}, baselines=[random, bot])
    path = _write(agent, tmp_path)
    data = json.loads(path.read_text())
    assert [b["agent"] for b in data["baselines"]] == ["random", "bot"]
    comparison = compare([path])
    assert [c.name for c in comparison.agents] == ["agent", "random", "bot"]
    assert comparison.others == ["random", "bot"]
    to_bot = comparison.difference(("no change", LEVEL), "bot").success
    assert to_bot is not None and to_bot.difference == pytest.approx(-0.4)


def _fake_run(root: Path, report: EvaluationReport) -> Path:
    """A run directory as compare sees it: a config and a final report."""
    (root / "eval").mkdir(parents=True)
    (root / "config.yaml").write_text("run: {}\n")
    write_report(report, root / "eval", "final")
    return root


def test_a_run_directory_stands_for_its_final_report(run_glam: RunGlam, tmp_path: Path) -> None:
    # What glam train writes: the agent's rows, then one row per baseline.
    own = summarize_outcomes(_outcomes(range(7), SEEDS))
    random = summarize_outcomes(_outcomes([2], SEEDS))
    final = EvaluationReport(
        "run (final)", "final", 10, 0, False,
        [EvalResult("no change", LEVEL, own),
         EvalResult("random baseline", LEVEL, random, group="baseline")],
    )  # fmt: skip
    run = _fake_run(tmp_path / "run", final)
    code, _, err = run_glam("compare", str(run))
    assert code == 0, err
    assert f"run {run}: {run / 'eval' / 'final.json'}" in " ".join(err.split())
    comparison = compare([run])
    assert [c.name for c in comparison.agents] == ["run (final)", "random"]
    d = comparison.difference(("no change", LEVEL), "random").success
    assert d is not None and d.difference == pytest.approx(0.6)


def test_old_reports_compare_on_their_figures_only(
    run_glam: RunGlam, two_reports: tuple[Path, Path]
) -> None:
    a, b = two_reports
    data = json.loads(b.read_text())
    for result in data["results"]:
        del result["outcomes"]
    b.write_text(json.dumps(data))
    comparison = compare([a, b])
    assert comparison.agent("b").tests[("no change", LEVEL)].success_rate == 0.3
    difference = comparison.difference(("no change", LEVEL), "b")
    assert difference.success is None and difference.reason == "b has no per-episode outcomes"
    assert any("b (" in note and "no per-episode outcomes" in note for note in comparison.notes)
    code, out, err = run_glam("compare", str(a), str(b))
    assert code == 0 and "not paired: b has no per-episode outcomes" in " ".join(out.split())
    assert "no per-episode outcomes" in err


def test_reports_over_different_tests_and_seeds(tmp_path: Path) -> None:
    a = _report("a", {"no change": (range(8), SEEDS), "invented words": (range(5), SEEDS)})
    b = _report("b", {"no change": ([4, 5, 12], range(4, 14)), "new objects": ([], SEEDS)})
    comparison = compare([_write(a, tmp_path / "a"), _write(b, tmp_path / "b")])
    assert comparison.tests == [("no change", LEVEL)]
    notes = " | ".join(comparison.notes)
    assert f"missing from b (report.json): 'invented words' ({LEVEL})" in notes
    assert "missing from a (report.json): 'new objects' (MixedTestLocal)" in notes
    assert "paired on the 6 episode seeds they share (of 10 and 10)" in notes
    d = comparison.difference(("no change", LEVEL), "b").success
    # Seeds 4-9: a won 4-7, b won 4-5.
    assert d is not None and d.pairs == 6 and (d.both, d.only_a, d.only_b) == (2, 2, 0)


def test_no_shared_seed_or_other_missions_are_not_paired(tmp_path: Path) -> None:
    a = _report("a", {"no change": ([1], SEEDS)})
    b = _report("b", {"no change": ([11], range(10, 20))})
    comparison = compare([_write(a, tmp_path / "a"), _write(b, tmp_path / "b")])
    assert comparison.difference(("no change", LEVEL), "b").reason == "no episode seed in common"
    assert any("not paired, no episode seed in common" in n for n in comparison.notes)
    go_to = summarize_outcomes(_outcomes([1], SEEDS, "go_to"))
    open_door = summarize_outcomes(_outcomes([1], SEEDS, "open"))
    c = EvaluationReport("c", "quick", 10, 0, False, [EvalResult("no change", LEVEL, go_to)])
    d = EvaluationReport("d", "quick", 10, 0, False, [EvalResult("no change", LEVEL, open_door)])
    other = compare([_write(c, tmp_path / "c"), _write(d, tmp_path / "d")])
    assert "different missions" in (other.difference(("no change", LEVEL), "d").reason or "")


def test_the_same_agent_twice_is_shown_once_and_namesakes_are_told_apart(
    tmp_path: Path,
) -> None:
    a = _write(_report("a", {"no change": (range(8), SEEDS)}), tmp_path / "one")
    same = _write(_report("a", {"no change": (range(8), SEEDS)}), tmp_path / "two")
    other = _write(_report("a", {"no change": (range(2), SEEDS)}), tmp_path / "three")
    b = _write(_report("b", {"no change": (range(1), SEEDS)}), tmp_path / "four")
    comparison = compare([a, same, other, b])
    assert [c.name for c in comparison.agents] == ["a", "a [report.json]", "b"]
    assert any("with the same results: shown once" in note for note in comparison.notes)


# ------------------------------------------------------------------ refusals


def _bad_inputs(tmp_path: Path, good: Path) -> dict[str, tuple[list[str], str]]:
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"name": "x", "values": [1, 2]}))
    broken = json.loads(good.read_text())
    del broken["results"][0]["successes"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    lying = json.loads(good.read_text())
    lying["results"][0]["successes"] += 1
    (tmp_path / "lying.json").write_text(json.dumps(lying))
    (tmp_path / "folder").mkdir()
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "config.yaml").write_text("run: {}\n")
    lonely = _write(_report("x", {"renamed nouns": ([1], SEEDS)}), tmp_path / "lonely")
    g = str(good)
    not_report = "is not a glam evaluation report"
    return {
        "missing": ([str(tmp_path / "none.json"), g], "report not found: "),
        "not json": ([str(tmp_path / "garbage.json"), g], f"{not_report}: not JSON"),
        "not a report": ([str(tmp_path / "other.json"), g], f"{not_report} (one has"),
        "bad field": ([str(tmp_path / "broken.json"), g], "results.0.successes"),
        "inconsistent": ([str(tmp_path / "lying.json"), g], "8 successful outcomes for 9"),
        "folder": ([str(tmp_path / "folder"), g], "is a folder but not a run directory"),
        "no final": ([str(tmp_path / "unfinished"), g], "has no final report"),
        "one agent": ([g], "a comparison needs at least two agents; the reports hold one: a ("),
        "nothing shared": ([g, str(lonely)], "no test was played by every agent"),
        "reference": ([g, str(lonely), "--reference", "zz"], "unknown reference agent 'zz'"),
        "format": ([g, g, "--format", "html"], "unknown format 'html'; choose table, markdown"),
        "out": ([g, g, "--out", str(tmp_path / "c.txt")], "the file must end in .json or .md"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["missing", "not json", "not a report", "bad field", "inconsistent", "folder", "no final",
     "one agent", "nothing shared", "reference", "format", "out"],
)  # fmt: skip
def test_refusals_are_one_clear_line(
    case: str, run_glam: RunGlam, two_reports: tuple[Path, Path], tmp_path: Path
) -> None:
    args, expected = _bad_inputs(tmp_path, two_reports[0])[case]
    code, out, err = run_glam("compare", *args)
    assert code == 2 and "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in " ".join(lines[0].split())


def test_the_python_call_raises_user_errors(two_reports: tuple[Path, Path]) -> None:
    with pytest.raises(UserError, match="at least two agents"):
        compare([two_reports[0]])


# ------------------------------------------------------------------ 80 columns


def _render(renderable: object, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _assert_whole(text: str, width: int, figures: Sequence[str]) -> None:
    assert "…" not in text
    assert all(len(line) <= width for line in text.splitlines())
    flat = " ".join(text.split())
    for figure in figures:
        assert figure in flat, figure


def test_tables_stay_whole_at_80_columns(tmp_path: Path) -> None:
    random = _report("random", {"no change": ([1], SEEDS), "new objects": ([], SEEDS)})
    agent = _report(
        "a-rather-long-run-name (final)",
        {"no change": (range(6), SEEDS), "new objects": (range(3), SEEDS)},
        baselines=[random],
    )
    spread = EvalResult(
        "family: pick up then go to", LEVEL, agent.results[0].summary,
        group="family", across_seeds=across_seeds([0.5, 0.7]),
    )  # fmt: skip
    two_seeds = EvaluationReport(
        agent.agent, "quick", 5, 0, False, [*agent.results, spread], seeds=2, baselines=[random]
    )
    for report in (agent, two_seeds):
        narrow = _render(rich_table(report), 80)
        _assert_whole(narrow, 80, ["0.600 [0.25, 0.87]", "random: 0.100 [0.01, 0.51]"])
        wide = _render(rich_table(report), 250)
        assert "┃" in wide and "…" not in wide  # where it fits, a table
    path = _write(agent, tmp_path)
    comparison = compare([path])
    narrow = _render(rich_comparison(comparison), 80)
    _assert_whole(
        narrow, 80, ["a-rather-long-run-name (final): 0.600 [0.25, 0.87]", "+0.500 [", "p=0.062"]
    )
    assert "┃" in _render(rich_comparison(comparison), 250)
