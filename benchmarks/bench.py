"""Regenerate every benchmark table the READMEs publish: ``make bench``.

Runs the benchmark scripts, one subprocess each (their own thread settings, nothing
shared), writes what they report to ``docs/benchmarks/`` (``<name>.md`` tables with
their command, machine and load; ``<name>.json`` with every round; PNG figures),
then copies each table into its README between ``<!-- bench:NAME:start -->`` and
``<!-- bench:NAME:end -->`` and the one-line results into the top README's
``bench:headlines`` block. No published figure is typed by hand.

================  ===============================================  ==================
name              script                                           README
================  ===============================================  ==================
env_speed         packages/env-babyai-text/benchmarks/env_speed.py  env-babyai-text
scoring           packages/llm-policy/benchmarks/scoring.py        llm-policy
cartpole          packages/ppo/benchmarks/cartpole.py              ppo
curves (opt-in)   3 quickstart runs (``glam train --seeds 0-2``)   docs/quickstart-curves.png
================  ===============================================  ==================

The CartPole benchmark's CleanRL row needs CleanRL's own environment
(``bash benchmarks/cleanrl_env.sh``; ``make bench`` creates it when PyPI is reachable);
without it that row is skipped and the report says why.

    python benchmarks/bench.py                       # everything but the curves (~15 min quiet)
    python benchmarks/bench.py --only scoring        # one benchmark
    python benchmarks/bench.py --curves              # also the quickstart curves (~10 min)
    python benchmarks/bench.py --tiny --out-dir /tmp/b --root /tmp/copy   # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as H

ROOT = H.repo_root()


@dataclass(frozen=True)
class Benchmark:
    """One script, the arguments of a full and of a smoke-test run, and its README."""

    name: str
    script: str
    readme: str
    anchor: str
    full: tuple[str, ...] = ()
    tiny: tuple[str, ...] = ()
    threaded: bool = True


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "env_speed",
            "packages/env-babyai-text/benchmarks/env_speed.py",
            "packages/env-babyai-text/README.md",
            "#benchmark",
            tiny=("--rounds", "2", "--steps", "64", "--levels", "GoToLocal", "--num-envs", "2"),
            threaded=False,
        ),
        Benchmark(
            "scoring",
            "packages/llm-policy/benchmarks/scoring.py",
            "packages/llm-policy/README.md",
            "#benchmark-action-scoring",
            tiny=(
                "--sizes",
                "nano",
                "--prompts",
                "2",
                "--prompt-tokens",
                "20",
                "--rounds",
                "2",
                "--scaling-actions",
                "2,6",
                "--scaling-prompts",
                "2",
                "--scaling-rounds",
                "1",
                "--matmul-sizes",
                "64",
            ),
        ),
        Benchmark(
            "cartpole",
            "packages/ppo/benchmarks/cartpole.py",
            "packages/ppo/README.md",
            "#benchmark-cartpole-v1-against-stable-baselines3-and-cleanrl",
            tiny=("--rounds", "2", "--steps", "1024", "--eval-episodes", "1"),
        ),
    )
}
#: Figures a benchmark writes beside its table, shown in its README under the table.
FIGURES = {"scoring": ("scoring-actions.png", "time against the number of actions")}
HEADLINES_README = "README.md"
CURVES_PNG = "docs/quickstart-curves.png"


def run_benchmark(
    bench: Benchmark, out_dir: Path, threads: int, tiny: bool, extra: Sequence[str]
) -> bool:
    """Run one script as a subprocess, its output streamed; whether it succeeded."""
    shown = os.path.relpath(out_dir, ROOT) if out_dir.is_relative_to(ROOT) else str(out_dir)
    args = [*(bench.tiny if tiny else bench.full), "--out-dir", shown, *extra]
    if bench.threaded:
        args += ["--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env["PYTHONWARNINGS"] = "ignore::FutureWarning,ignore::DeprecationWarning"
    print(f"\n=== {bench.name}: {bench.script} {' '.join(args)}", flush=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, bench.script, *args], cwd=ROOT, env=env, check=False)
    print(f"=== {bench.name}: exit {done.returncode} after {time.perf_counter() - start:.0f} s")
    return done.returncode == 0


def figure_links(name: str, out_dir: Path, readme: Path) -> str:
    """Markdown images of ``name``'s figures, relative to ``readme``."""
    lines = []
    for figure, caption in [FIGURES[name]] if name in FIGURES else []:
        path = out_dir / figure
        if path.exists():
            lines.append(f"![{caption}]({Path(os.path.relpath(path, readme.parent)).as_posix()})")
    return "\n\n".join(lines)


def update_readme(readme: Path, key: str, content: str) -> None:
    text = readme.read_text(encoding="utf-8")
    try:
        updated = H.replace_marked(text, key, content)
    except ValueError as error:
        raise SystemExit(f"{readme}: {error}") from None
    if updated != text:
        H.write_atomic(readme, updated)


def copy_tables(names: Sequence[str], out_dir: Path, root: Path) -> list[str]:
    """Each benchmark's Markdown into its README; the README paths updated."""
    updated = []
    for name in names:
        bench = BENCHMARKS[name]
        table = out_dir / f"{name}.md"
        if not table.exists():
            continue
        readme = root / bench.readme
        source = Path(os.path.relpath(table, readme.parent)).as_posix()
        content = table.read_text(encoding="utf-8").strip()
        figures = figure_links(name, out_dir, readme)
        parts = [
            f"<!-- generated by `make bench` from {source}: edit the script, not this block -->",
            content,
        ]
        if figures:
            parts.append(figures)
        update_readme(readme, name, "\n\n".join(parts))
        updated.append(bench.readme)
    return updated


def headlines_block(out_dir: Path, root: Path) -> str:
    """The top README's generated rows: one per headline of every benchmark's JSON."""
    rows = []
    readme = root / HEADLINES_README
    for bench in BENCHMARKS.values():
        record = out_dir / f"{bench.name}.json"
        if not record.exists():
            continue
        data = json.loads(record.read_text(encoding="utf-8"))
        where = Path(os.path.relpath(root / bench.readme, readme.parent)).as_posix()
        table = Path(os.path.relpath(out_dir / f"{bench.name}.md", readme.parent)).as_posix()
        provenance = data.get("provenance", {})
        load = H.format_load(provenance.get("load_before"))
        for line in data.get("headlines", []):
            what, _, result = line.partition(": ")
            rows.append(
                [
                    what,
                    f"{result} (load before: {load})",
                    f"[{where}]({where}{bench.anchor}), [{table}]({table})",
                ]
            )
    if not rows:
        return "No benchmark has been run yet: `make bench`."
    return H.markdown_table(["what", "result", "where"], rows)


def run_curves(
    root: Path, out_dir: Path, threads: int, seeds: str, settings: Sequence[str] = ()
) -> bool:
    """Train the quickstart once per seed, plot every seed, tabulate their evaluations."""
    bin_dir = Path(sys.executable).parent
    glam = bin_dir / "glam"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = root / "runs" / f"bench-quickstart-{stamp}"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    print(f"\n=== curves: glam train --seeds {seeds} --run-dir {run_dir}", flush=True)
    train = [str(glam), "train", "--seeds", seeds, "--run-dir", str(run_dir)]
    for item in (f"run.torch_threads={threads}", *settings):
        train += ["--set", item]
    if subprocess.run(train, env=env, check=False).returncode != 0:
        return False
    seconds = time.perf_counter() - start
    machine = H.Machine.current(threads)
    title = f"quickstart, every seed: {machine.cpu}; torch {torch_version()}; {threads} thread(s)"
    png = root / CURVES_PNG
    plot = [str(glam), "plot", str(run_dir), "--no-group", "-o", str(png), "--title", title]
    if subprocess.run(plot, env=env, check=False).returncode != 0:
        return False
    shown = ["train", "--seeds", seeds, "--run-dir", f"runs/{run_dir.name}", *train[6:]]
    markdown = curves_markdown(run_dir, machine, seconds, shown)
    H.write_atomic(out_dir / "quickstart.md", markdown)
    return True


def torch_version() -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def curves_markdown(
    run_dir: Path, machine: H.Machine, seconds: float, command: Sequence[str]
) -> str:
    """Each seed's periodic evaluations and final success, read from its run directory."""
    from glam_apps.analysis.plot import load_runs

    runs = load_runs([run_dir])
    success: list[dict[int, float]] = []
    for run in runs:
        series = run.series("eval/success_rate")
        points = zip(series.steps.tolist(), series.values.tolist(), strict=True) if series else []
        success.append({int(step): value for step, value in points})
    steps = sorted({step for by_step in success for step in by_step})
    rows = []
    baselines: list[str] = []
    for run, by_step in zip(runs, success, strict=True):
        final, others = final_evaluation(run.run.root)
        baselines = baselines or list(others)
        rows.append(
            [f"seed {run.seed}"]
            + [f"{by_step[s]:.2f}" if s in by_step else "" for s in steps]
            + final
            + [others.get(name, "") for name in baselines]
        )
    header = [
        "run",
        *(f"success at {s:,}" for s in steps),
        "final success (99% CI)",
        "final return",
        *(f"{name}, same episodes" for name in baselines),
    ]
    return "\n".join(
        [
            f"Quickstart, every seed that was run (`glam {' '.join(command)}`); "
            f"{seconds / 60:.1f} min in all. The curves depend on the CPU model, the torch "
            "build and the thread count: runs are deterministic for one machine and build, "
            "not across them.",
            "",
            f"- machine: {machine.describe()}; torch {torch_version()}",
            f"- runs: `{run_dir.parent.name}/{run_dir.name}`",
            f"- date: {dt.datetime.now(dt.timezone.utc).isoformat('T', 'seconds')}",
            "",
            H.markdown_table(header, rows),
            "",
        ]
    )


def final_evaluation(run_root: Path) -> tuple[list[str], dict[str, str]]:
    """The run's final success with its interval and return, and its baselines' success."""
    path = run_root / "eval" / "final.json"
    if not path.is_file():
        return ["", ""], {}
    report = json.loads(path.read_text(encoding="utf-8"))
    results = report["results"]
    main = next(r for r in results if r.get("group", "test") == "test")
    cells = [
        f"{main['success_rate']:.2f} [{main['success_ci_low']:.2f}, {main['success_ci_high']:.2f}]",
        f"{main['mean_return']:.3f}",
    ]
    others = {
        r["name"].removesuffix(" baseline"): f"{r['success_rate']:.2f}"
        for r in results
        if r.get("group") == "baseline"
    }
    return cells, others


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"subset of {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each benchmark")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (not figures)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "benchmarks")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the tree whose READMEs are updated"
    )
    parser.add_argument("--no-readmes", action="store_true", help="write docs/benchmarks only")
    parser.add_argument("--curves", action="store_true", help="also train and plot the quickstart")
    parser.add_argument("--curve-seeds", default="0-2")
    parser.add_argument(
        "--curve-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override of the quickstart runs (repeatable; for smoke tests)",
    )
    parser.add_argument("--cleanrl-python", type=Path, default=None)
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {', '.join(BENCHMARKS)}")
    args.only = names
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = args.out_dir.resolve()
    root = args.root.resolve()
    failed = []
    for name in args.only:
        extra: list[str] = []
        if name == "cartpole" and args.cleanrl_python is not None:
            extra = ["--cleanrl-python", str(args.cleanrl_python)]
        if not run_benchmark(BENCHMARKS[name], out_dir, args.threads, args.tiny, extra):
            failed.append(name)
    curves = args.curves and run_curves(
        root, out_dir, args.threads, args.curve_seeds, args.curve_set
    )
    if args.curves and not curves:
        failed.append("curves")
    if not args.no_readmes:
        done = [n for n in args.only if n not in failed]
        for readme in copy_tables(done, out_dir, root):
            print(f"updated {readme}")
        update_readme(root / HEADLINES_README, "headlines", headlines_block(out_dir, root))
        print(f"updated {HEADLINES_README}")
        if curves:
            quickstart = (out_dir / "quickstart.md").read_text(encoding="utf-8").strip()
            update_readme(root / HEADLINES_README, "quickstart", quickstart)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
