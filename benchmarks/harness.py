"""What every glam benchmark needs to publish a figure someone else can rerun.

The scripts that fill the READMEs' benchmark tables (``benchmarks/bench.py`` runs
them all) share this module so that they measure and report the same way:

* **interleaved rounds**: round ``r`` runs every compared system once, the order
  rotated by one each round, so that machine load, CPU frequency and caches weigh on
  every system alike instead of on whichever ran last (:func:`interleave`);
* **medians and spread** over the rounds, wall time and the process's CPU time side
  by side: on a shared machine the wall time grows with the other jobs' load, the CPU
  time much less, and the gap between them says how shared it was (:class:`Spread`);
* **a headline ratio only when the rounds agree**: the per-round ratios' range
  (max - min) must be smaller than the effect ``|median - 1|``, else the script says
  that no headline can be drawn and why (:class:`Ratio`);
* **provenance** in every table: the command, CPU model, cores, torch version and
  build, thread count, load average before and after, date (:class:`Machine`);
* **generated Markdown**, written atomically, that :func:`replace_marked` copies into
  a README between ``<!-- bench:KEY:start -->`` and ``<!-- bench:KEY:end -->``, so that
  no published figure is typed by hand.

It is a plain module beside the scripts, imported through ``sys.path`` (see
:func:`import_harness` in the scripts): the benchmarks are not part of any installed
package, and the libraries never depend on them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Rounds below which no headline ratio is drawn, whatever the spread: with two
#: rounds a range says little about the next one.
MIN_HEADLINE_ROUNDS = 3


# ---------------------------------------------------------------- the machine


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> tuple[float, float, float] | None:
    """1, 5 and 15-minute load averages, ``None`` where the OS has none."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def format_load(load: Sequence[float] | None) -> str:
    return "n/a" if load is None else " / ".join(f"{x:.2f}" for x in load)


def torch_build() -> str | None:
    """torch's version and the CPU kernels it was built with, if torch is imported.

    Only reads ``sys.modules``: a benchmark that does not use torch (the text env's)
    does not pay for importing it.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    parts = []
    if torch.backends.mkl.is_available():
        parts.append("MKL")
    if torch.backends.mkldnn.is_available():
        parts.append("oneDNN")
    match = re.search(r"ATen parallel backend: (\S+)", torch.__config__.parallel_info())
    if match:
        parts.append(match.group(1))
    if torch.cuda.is_available():
        parts.append(f"CUDA {torch.version.cuda}")
    return f"{torch.__version__} ({', '.join(parts)})" if parts else str(torch.__version__)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Machine:
    """Everything a reader needs to know about where a figure was measured."""

    cpu: str
    logical_cores: int
    usable_cores: int
    python: str
    torch: str | None
    threads: int | None
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def current(cls, threads: int | None, **versions: str) -> Machine:
        """This machine; ``threads`` is the thread count the benchmark ran with."""
        return cls(
            cpu=cpu_model(),
            logical_cores=os.cpu_count() or 1,
            usable_cores=usable_cores(),
            python=platform.python_version(),
            torch=torch_build(),
            threads=threads,
            versions=dict(versions),
        )

    def describe(self) -> str:
        cores = f"{self.logical_cores} logical cores"
        if self.usable_cores != self.logical_cores:
            cores += f" ({self.usable_cores} usable)"
        parts = [f"{self.cpu}, {cores}", f"Python {self.python}"]
        if self.torch:
            parts.append(f"torch {self.torch}")
        parts += [f"{name} {version}" for name, version in self.versions.items()]
        if self.threads is not None:
            parts.append(f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        return "; ".join(parts)


def set_threads(threads: int) -> None:
    """Pin torch (if imported) and any library that reads the environment to ``threads``."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Timed(Generic[T]):
    """A measured call: wall and CPU seconds, and what it returned.

    A system whose work happens in another process (a subprocess in another venv)
    returns a ``Timed`` measured there, which :func:`interleave` keeps as it is.
    """

    wall_s: float
    cpu_s: float
    value: T


def measure(fn: Callable[[], T]) -> Timed[T]:
    """Wall time (``perf_counter``) and this process's CPU time (all its threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    if isinstance(value, Timed):
        return value
    return Timed(time.perf_counter() - wall, time.process_time() - cpu, value)


def rotation(names: Sequence[str], round_index: int) -> list[str]:
    """The order of round ``round_index``: ``names`` rotated left by the round number."""
    if not names:
        return []
    k = round_index % len(names)
    return [*names[k:], *names[:k]]


def interleave(
    systems: Mapping[str, Callable[[int], Any]],
    rounds: int,
    *,
    on_result: Callable[[int, str, Timed[Any]], None] | None = None,
) -> dict[str, list[Timed[Any]]]:
    """Run every system once per round, in :func:`rotation` order; results per system.

    ``systems[name](round_index)`` does one measured run (a round may change its
    seed); ``on_result(round_index, name, timed)`` is called after each, to print
    progress. Warm-up runs, when needed, are the caller's, before this.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    results: dict[str, list[Timed[Any]]] = {name: [] for name in systems}
    for r in range(rounds):
        for name in rotation(list(systems), r):
            timed = measure(lambda name=name, r=r: systems[name](r))
            results[name].append(timed)
            if on_result is not None:
                on_result(r, name, timed)
    return results


# ---------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Spread:
    """Median and range of a few measurements."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no values to summarise")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def format(self, spec: str = ".2f", unit: str = "") -> str:
        """``median [low-high]``, the range left out when there is one value."""
        text = f"{self.median:{spec}}{unit}"
        if self.n > 1:
            text += f" [{self.low:{spec}}–{self.high:{spec}}]"
        return text


@dataclass(frozen=True)
class Ratio:
    """Per-round ratios ``numerator_r / denominator_r`` and whether they make a headline.

    A headline needs at least :data:`MIN_HEADLINE_ROUNDS` rounds and a range across
    rounds (max - min) no wider than the effect, the distance of the median from 1:
    otherwise the next round could as well land on the other side of the figure.
    """

    per_round: tuple[float, ...]

    @classmethod
    def paired(cls, numerator: Sequence[float], denominator: Sequence[float]) -> Ratio:
        if len(numerator) != len(denominator) or not numerator:
            raise ValueError("ratios need as many rounds on both sides, at least one")
        return cls(tuple(a / b for a, b in zip(numerator, denominator, strict=True)))

    @property
    def spread(self) -> Spread:
        return Spread.of(self.per_round)

    @property
    def effect(self) -> float:
        return abs(self.spread.median - 1.0)

    @property
    def width(self) -> float:
        return self.spread.high - self.spread.low

    @property
    def refusal(self) -> str | None:
        """Why no headline may be drawn from these rounds, ``None`` when one may."""
        s = self.spread
        if s.n < MIN_HEADLINE_ROUNDS:
            return f"only {s.n} round(s), {MIN_HEADLINE_ROUNDS} needed"
        if self.width > self.effect:
            return (
                f"the rounds ranged {s.low:.2f}–{s.high:.2f}x, a spread ({self.width:.2f}) "
                f"wider than the effect, the median's distance from 1 ({self.effect:.2f})"
            )
        return None

    def format(self) -> str:
        """``2.10x [1.98–2.21]`` (the per-round range in brackets)."""
        return self.spread.format(".2f", "x")

    def headline(self) -> str:
        """The ratio as a headline, or the sentence saying why there is none."""
        reason = self.refusal
        if reason is None:
            return self.format()
        return f"no headline ({self.format()}): {reason}"

    def to_json(self) -> dict[str, Any]:
        return {
            "per_round": list(self.per_round),
            "median": self.spread.median,
            "headline": self.refusal is None,
            "refusal": self.refusal,
        }


def walls(runs: Sequence[Timed[Any]]) -> list[float]:
    return [run.wall_s for run in runs]


def cpus(runs: Sequence[Timed[Any]]) -> list[float]:
    return [run.cpu_s for run in runs]


# ---------------------------------------------------------------- reporting


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table; numeric-looking columns are right-aligned, pipes escaped."""

    def numeric(column: int) -> bool:
        cells = [row[column] for row in rows if row[column]]
        return bool(cells) and all(re.match(r"^[-+]?[\d.,]", cell) for cell in cells)

    def cells(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    aligns = ["---:" if numeric(i) else "---" for i in range(len(header))]
    lines = [cells(header), "|" + "|".join(aligns) + "|", *(cells(row) for row in rows)]
    return "\n".join(lines)


@dataclass
class Provenance:
    """Where, when and how a benchmark ran: the lines above every generated table."""

    command: str
    machine: Machine
    load_before: tuple[float, float, float] | None
    started: str = field(default_factory=lambda: now_utc())
    load_after: tuple[float, float, float] | None = None

    @classmethod
    def start(cls, command: str, machine: Machine) -> Provenance:
        return cls(command=command, machine=machine, load_before=load_average())

    def finish(self) -> None:
        self.load_after = load_average()

    def markdown(self) -> str:
        return "\n".join(
            [
                f"- command: `{self.command}`",
                f"- machine: {self.machine.describe()}",
                f"- load average (1 / 5 / 15 min) before: {format_load(self.load_before)}; "
                f"after: {format_load(self.load_after)}",
                f"- date: {self.started}",
            ]
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat("T", "seconds")


def command_line(script: str | Path, argv: Sequence[str] | None) -> str:
    """How to rerun: the script's path relative to the repository root, and its arguments."""
    path = Path(script).resolve()
    with contextlib.suppress(ValueError):  # a script outside the repository keeps its path
        path = path.relative_to(repo_root())
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", str(path), *args])


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write through a temporary file in the same folder and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_report(out_dir: str | Path, name: str, markdown: str, data: Mapping[str, Any]) -> Path:
    """``<out_dir>/<name>.md`` (what the READMEs copy) and ``<name>.json`` (every round)."""
    out = Path(out_dir)
    write_atomic(out / f"{name}.json", json.dumps(data, indent=2, default=str) + "\n")
    write_atomic(out / f"{name}.md", markdown.rstrip() + "\n")
    return out / f"{name}.md"


def markers(key: str, kind: str = "bench") -> tuple[str, str]:
    """``<!-- KIND:KEY:start -->`` and its end: ``bench`` for benchmark tables, ``study``
    for a study's tables (``benchmarks/study_to_docs.py``)."""
    return f"<!-- {kind}:{key}:start -->", f"<!-- {kind}:{key}:end -->"


def replace_marked(text: str, key: str, content: str, kind: str = "bench") -> str:
    """``text`` with what lies between ``key``'s markers replaced by ``content``.

    Both markers must be there, once each, start before end: a README whose markers
    were edited away is an error to fix, not a place to append to.
    """
    start, end = markers(key, kind)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"expected one {start} ... {end} pair")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


def format_seconds(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:.0f}"
    if seconds >= 10:
        return f"{seconds:.1f}"
    return f"{seconds:.2f}"
