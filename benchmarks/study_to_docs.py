"""Copy a study's outputs into docs/ and refresh the tables a page quotes from them.

A page that discusses a study (docs/results.md, the README) quotes its tables
between markers, ``<!-- study:NAME:TABLE:start -->`` and ``<!-- study:NAME:TABLE:end -->``,
where TABLE is one of:

- ``final``: the final-success table of the study's first level (results.md);
- ``steps``: the per-seed steps-to-threshold table (results.md);
- ``cost``: the Cost table (results.md);
- ``generalization``: the generalization table of the first level (generalization.md).

The quoted text is replaced by the table as generated, so the page never holds a
hand-typed figure; the prose around it is the author's. The README's older
``<!-- study:NAME:start -->`` block is the ``final`` table.

    .venv/bin/python benchmarks/study_to_docs.py runs/studies/laptop docs/studies/laptop \\
        --page docs/results.md --page README.md
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as H

OUTPUTS = ("curves.png", "results.md", "results.json", "generalization.md", "study.yaml")


def tables(markdown: str) -> list[tuple[str, str]]:
    """Every Markdown table with the nearest heading or sentence above it."""
    found, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("|"):
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            context = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            found.append((context, "\n".join(lines[start:i])))
        i += 1
    return found


def pick(study: Path) -> dict[str, str]:
    results = tables((study / "results.md").read_text(encoding="utf-8"))
    general = tables((study / "generalization.md").read_text(encoding="utf-8"))
    chosen: dict[str, str] = {}
    for context, table in results:
        header = table.splitlines()[0]
        if "final success" in header and "final" not in chosen:
            chosen["final"] = table
        elif "minutes per cell" in header:
            chosen["cost"] = table
        elif context.startswith("Env steps to reach") and "steps" not in chosen:
            chosen["steps"] = table
    if general:
        chosen["generalization"] = general[0][1]
    return chosen


def refresh(page: Path, name: str, chosen: dict[str, str]) -> list[str]:
    """Replace the blocks of ``page`` that quote ``name``'s tables; a page quotes any of them."""
    text = page.read_text(encoding="utf-8")
    done = []
    for table, body in chosen.items():
        keys = [f"{name}:{table}"] + ([name] if table == "final" else [])
        for key in keys:
            if H.markers(key, "study")[0] in text:
                text = H.replace_marked(text, key, body, "study")
                done.append(f"study:{key}")
    H.write_atomic(page, text)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study", type=Path, help="the study folder (glam study --out)")
    parser.add_argument("docs", type=Path, help="where its outputs are copied")
    parser.add_argument("--page", type=Path, action="append", default=[])
    parser.add_argument("--name", default=None, help="marker name (default: the folder's)")
    args = parser.parse_args()
    name = args.name or args.study.name
    args.docs.mkdir(parents=True, exist_ok=True)
    for output in OUTPUTS:
        shutil.copy2(args.study / output, args.docs / output)
    chosen = pick(args.study)
    for page in args.page:
        done = refresh(page, name, chosen)
        print(f"{page}: {', '.join(done) if done else 'no study:' + name + ' markers'}")
    print(f"copied {', '.join(OUTPUTS)} to {args.docs}")


if __name__ == "__main__":
    main()
