"""Markdown table of final success per agent over seeds, from glam run directories.

Each ``--agent NAME=RUN[,RUN...]`` is one row: the final evaluation of every run
(``eval/final.json``, the "no change" test), one column per seed, their mean and
the runs' evaluation settings; the runs' own random and keyword baselines on the
same seeds are added as rows (from the first run that has them). The table is
computed from the files, never typed by hand:

    .venv/bin/python benchmarks/baselines_table.py \\
        --agent "glam (nano LM)=runs/glam0,runs/glam1,runs/glam2" \\
        --agent "symbolic-ppo=runs/sym0,runs/sym1,runs/sym2"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def final_results(run: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((run / "eval" / "final.json").read_text(encoding="utf-8"))
    return {result["name"]: result for result in data["results"]}


def evaluation_mode(run: Path) -> str:
    data = json.loads((run / "eval" / "final.json").read_text(encoding="utf-8"))
    steps = data.get("metadata", {}).get("env_steps", "?")
    return (
        f"{data['episodes_per_test']} episodes from seed {data['seed']}, {data['actions']} "
        f"actions, after {steps} env steps"
    )


def row(name: str, runs: list[Path], test: str = "no change") -> str:
    rates = [final_results(run)[test]["success_rate"] for run in runs]
    cells = " / ".join(f"{rate:.3f}" for rate in rates)
    mean = sum(rates) / len(rates)
    return f"| {name} | {cells} | {mean:.3f} | {evaluation_mode(runs[0])} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", action="append", required=True, metavar="NAME=RUN[,RUN...]")
    options = parser.parse_args(argv)
    lines = [
        "| agent | final success per seed | mean | evaluation |",
        "|---|---|---|---|",
    ]
    baselines: dict[str, Path] = {}
    for spec in options.agent:
        name, _, paths = spec.partition("=")
        runs = [Path(p) for p in paths.split(",") if p]
        lines.append(row(name, runs))
        for run in runs:
            for test in final_results(run):
                if test.endswith(" baseline"):
                    baselines.setdefault(test, run)
    for test, run in sorted(baselines.items()):
        name = test.removesuffix(" baseline") + " (same seeds, no learning)"
        lines.append(row(name, [run], test).replace(evaluation_mode(run), "same"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
