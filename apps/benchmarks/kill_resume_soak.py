"""Kill-and-resume soak: SIGKILL ``glam train`` at random moments, resume, compare.

What it does:

1. Trains a tiny reference run without interruption (the integration tests' tiny
   settings, ``TINY_RUN`` in ``tests/conftest.py``, as ``--set`` overrides: nano
   offline model, 2 envs x 4 steps per update, ``--updates`` updates, a checkpoint
   after every update, an evaluation every ``--eval-every`` updates and at the end).
   It polls the run directory meanwhile to time its phases (directory written,
   first update, first checkpoint, final evaluation, exit).
2. ``--kills`` times: starts the same run into a fresh directory as a subprocess and
   SIGKILLs it (its whole process group) after a random delay drawn from the
   reference run's duration: with probability ``--early-fraction`` uniform over its
   startup (Python, torch, model and environments: most of a tiny run's time), with
   probability ``--late-fraction`` uniform over its end (last checkpoint, final
   evaluation and saves: a few tenths of a second of the tiny run), otherwise
   uniform over the rest of the run; the last two counted from the moment the killed
   run writes its ``config.yaml`` (startup time varies from process to process more
   than a tiny run's phases), so that kills land before the first checkpoint, during
   checkpoint writes, during training and during the final evaluation and saving.
   The run directory's state at the kill says where it landed. Then ``glam train
   --resume DIR`` runs until the status is ``finished``; with probability
   ``--kill-resumes`` a resume is killed too (at most ``--max-killed-resumes`` per
   run), after a delay uniform over the reference run's whole duration. A resume
   must exit 0 or be killed by this script: any other exit code or a traceback is a
   failure, recorded with its output. A run killed before it wrote ``config.yaml``
   is not a run yet: ``--resume`` must refuse it with one ``error:`` line (exit 2),
   and the original command is started again.
3. Compares every finished run with the reference: the newest periodic checkpoint
   (same iteration, every ``model.safetensors`` tensor equal with ``torch.equal``),
   the final policy's tensors, ``metrics.jsonl`` (``global_step`` 8, 16, ... with no
   duplicate or gap; every value but the timing fields equal), ``eval/
   evaluations.jsonl`` (the same), ``best/best.json``, ``eval/final.json``'s
   results, ``status.json`` (``finished``, same final and best success), and no
   leftover temporary file or folder (``RUN_DIR/.lock`` stays: it is a plain file
   that only a live process's ``flock`` makes a lock).
4. Prints a table (one row per kill) and a summary, and writes both as JSON and
   Markdown to ``--out``.

Why bit-identical is the right expectation: a checkpoint holds everything the run
depends on, the episodes in progress included (apps/README.md, "Resuming"), so a
resumed run continues exactly where its checkpoint left off. The reference and every
killed run checkpoint after every update (so that kills land in checkpoint writes
often); a SIGKILL writes no checkpoint of its own, so each resumed run continues from
a checkpoint the reference also wrote and must end with the reference's weights,
metrics and evaluations bit for bit. (That the checkpoint schedule itself does not
change training is tested in tests/test_checkpoint_schedule.py.)

    .venv/bin/python apps/benchmarks/kill_resume_soak.py --kills 30 --seed 0
    .venv/bin/python apps/benchmarks/kill_resume_soak.py --kills 3 --updates 4 --out /tmp/s
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from glam_apps.runs.rundir import read_jsonl

#: The tests' tiny run (tests/conftest.py TINY_RUN) without its schedule keys, which
#: the script sets from its flags (checkpoint every update, evaluations, length).
TINY_SETTINGS: tuple[str, ...] = (
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
    "run.eval_episodes=2",
    "run.eval_num_envs=2",
    "run.torch_threads=null",
    "ppo.num_steps=4",
    "ppo.minibatch_size=4",
    "ppo.num_epochs=2",
    "ppo.lr_schedule=constant",
)
STEPS_PER_UPDATE = 8  # 2 envs x 4 steps
MAX_ATTEMPTS = 12  # resumes per killed run before giving up (a dead end)
POLL = 0.02


def run_settings(updates: int, eval_every: int) -> list[str]:
    """``--set`` arguments of the soak's run."""
    settings = [
        *TINY_SETTINGS,
        f"run.total_steps={updates * STEPS_PER_UPDATE}",
        f"run.checkpoint_every={STEPS_PER_UPDATE}",
        f"run.eval_every={eval_every * STEPS_PER_UPDATE}",
    ]
    args: list[str] = []
    for item in settings:
        args += ["--set", item]
    return args


def glam_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "glam_apps", *args]


# ---------------------------------------------------------------------- run directory


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def leftovers(run: Path) -> list[str]:
    """Temporary files and folders a kill may leave (``.lock`` is not one)."""
    found = []
    for path in run.rglob("*"):
        name = path.name
        if (
            name.startswith(".tmp-")
            or name.endswith(".tmp")
            or ".new-" in name
            or ".old-" in name
            or (name.startswith(".") and name != ".lock" and path.parent.name == "checkpoints")
        ):
            found.append(str(path.relative_to(run)))
    return sorted(found)


def snapshot(run: Path, updates: int) -> dict[str, Any]:
    """The state of a run directory right after a kill."""
    periodic = run / "checkpoints" / "periodic"
    checkpoints = sorted(p.name for p in periodic.glob("iteration_*")) if periodic.is_dir() else []
    status = read_json(run / "status.json")
    steps = [int(r.get("global_step", 0)) for r in read_jsonl(run / "metrics.jsonl")]
    return {
        "exists": run.is_dir(),
        "config": (run / "config.yaml").is_file(),
        "status": status.get("status"),
        "metrics_last_step": steps[-1] if steps else 0,
        "checkpoints": checkpoints,
        "latest": (periodic / "latest").read_text().strip()
        if (periodic / "latest").is_file()
        else None,
        "final_policy": (run / "checkpoints" / "final").is_dir(),
        "final_report": (run / "eval" / "final.json").is_file(),
        "leftovers": leftovers(run) if run.is_dir() else [],
        "updates": updates,
    }


def landed(state: dict[str, Any]) -> str:
    """Where a kill landed, from the run directory it left."""
    if not state["config"]:
        return "before the run directory"
    if state["status"] == "finished":
        return "after the run finished"
    # A checkpoint write: its staging folder, the `latest` pointer, or the checkpoint's
    # glam_config.yaml (written into the folder after it was renamed into place).
    checkpoint_write = [p for p in state["leftovers"] if p.startswith("checkpoints/periodic/")]
    writing = [p for p in state["leftovers"] if ".best." in p or ".final." in p]
    writing += checkpoint_write
    last = f"iteration_{state['updates']:06d}"
    if last in state["checkpoints"]:
        if checkpoint_write:
            return "during the last checkpoint write"
        what = "final save" if any(".final." in p for p in writing) else "final evaluation"
        return f"during the {what}"
    if not state["checkpoints"]:
        if writing:
            return "during the first checkpoint write"
        return "before the first checkpoint"
    if checkpoint_write:
        return "during a checkpoint write"
    if any(".best." in p for p in writing):
        return "during a best-policy save"
    return "during training"


# ---------------------------------------------------------------------- processes


@dataclass
class Attempt:
    """One process on a run: the first start, a resume or a restart."""

    kind: str  # train / resume / restart / resume-refused
    delay: float | None  # seconds before the SIGKILL, None when not killed
    code: int | None = None
    killed: bool = False
    seconds: float = 0.0
    output_tail: str = ""
    landed: str | None = None
    state: dict[str, Any] | None = None


def run_process(
    command: list[str],
    log: Path,
    delay: float | None,
    env: dict[str, str],
    anchor: Path | None = None,
) -> tuple[int, bool, float, str]:
    """Run ``command`` (its own process group), SIGKILL it after ``delay`` seconds.

    The delay counts from the start, or from the moment ``anchor`` exists (the run's
    ``config.yaml``: startup time varies from one process to the next, the run's own
    phases much less). Returns the exit code, whether this script killed it, the
    seconds and the output.
    """
    start = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        killed = False
        try:
            if delay is None:
                process.wait(timeout=600)
            else:
                while anchor is not None and not anchor.exists() and process.poll() is None:
                    time.sleep(POLL / 2)
                try:
                    process.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    killed = True
                    process.wait(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    seconds = time.monotonic() - start
    return process.returncode, killed, seconds, log.read_text(errors="replace")


def timed_reference(
    run: Path, args: list[str], updates: int, log: Path, env: dict[str, str]
) -> dict[str, float]:
    """Train the reference run, polling its directory for the moments of its phases."""
    marks: dict[str, float] = {}
    start = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            glam_command("train", "--no-progress", "--run-dir", str(run), *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        periodic = run / "checkpoints" / "periodic"
        last = f"iteration_{updates:06d}"
        while process.poll() is None:
            now = time.monotonic() - start
            if "run_directory" not in marks and (run / "config.yaml").is_file():
                marks["run_directory"] = now
            if "first_update" not in marks and (run / "metrics.jsonl").is_file():
                marks["first_update"] = now
            if "first_checkpoint" not in marks and any(periodic.glob("iteration_*")):
                marks["first_checkpoint"] = now
            if "last_checkpoint" not in marks and (periodic / last).is_dir():
                marks["last_checkpoint"] = now
            if "final_save" not in marks and any((run / "checkpoints").glob("*final*")):
                marks["final_save"] = now
            if "finished" not in marks and read_json(run / "status.json").get("status") == (
                "finished"
            ):
                marks["finished"] = now
            time.sleep(POLL)
        marks["exit"] = time.monotonic() - start
    if process.returncode != 0:
        raise SystemExit(f"the reference run failed ({process.returncode}): see {log}")
    return marks


# ---------------------------------------------------------------------- comparison


TIMING_SUFFIXES = ("_seconds", "steps_per_second")


def untimed(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.endswith(TIMING_SUFFIXES)}


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def same_records(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Keys whose values differ between two records (timing fields ignored)."""
    a, b = untimed(a), untimed(b)
    return sorted(k for k in set(a) | set(b) if not same_value(a.get(k), b.get(k)))


def tensors_differ(a: Path, b: Path) -> list[str]:
    """Names of the tensors that differ (``missing`` when a file is missing)."""
    if not a.is_file() or not b.is_file():
        return [f"missing {b.name}"]
    ta, tb = load_file(str(a)), load_file(str(b))
    if ta.keys() != tb.keys():
        return ["tensor names"]
    return sorted(k for k in ta if ta[k].dtype != tb[k].dtype or not torch.equal(ta[k], tb[k]))


def compare(run: Path, reference: Path, updates: int) -> list[str]:
    """What differs between a finished run and the reference (empty: identical)."""
    problems: list[str] = []
    status, ref_status = read_json(run / "status.json"), read_json(reference / "status.json")
    if status.get("status") != "finished":
        problems.append(f"status {status.get('status')!r}")
    for key in ("global_step", "iteration", "final_success_rate", "best_success_rate"):
        if not same_value(status.get(key), ref_status.get(key)):
            problems.append(f"status.{key} {status.get(key)} != {ref_status.get(key)}")
    periodic, ref_periodic = run / "checkpoints/periodic", reference / "checkpoints/periodic"
    latest = (periodic / "latest").read_text().strip() if (periodic / "latest").is_file() else ""
    ref_latest = (ref_periodic / "latest").read_text().strip()
    if latest != ref_latest:
        problems.append(f"latest {latest!r} != {ref_latest!r}")
    else:
        diff = tensors_differ(
            ref_periodic / latest / "model.safetensors", periodic / latest / "model.safetensors"
        )
        if diff:
            problems.append(f"checkpoint model tensors ({len(diff)}: {', '.join(diff[:3])})")
    for part in ("heads.safetensors", "lm/model.safetensors"):
        diff = tensors_differ(
            reference / "checkpoints/final" / part, run / "checkpoints/final" / part
        )
        if diff:
            problems.append(f"final policy {part} ({len(diff)}: {', '.join(diff[:3])})")
    expected = [STEPS_PER_UPDATE * (i + 1) for i in range(updates)]
    for name in ("metrics.jsonl", "eval/evaluations.jsonl"):
        records, ref_records = read_jsonl(run / name), read_jsonl(reference / name)
        steps = [int(r.get("global_step", -1)) for r in records]
        ref_steps = [int(r.get("global_step", -1)) for r in ref_records]
        if name == "metrics.jsonl" and steps != expected:
            problems.append(f"{name} steps {steps} (expected 8..{expected[-1]} once each)")
            continue
        if steps != ref_steps:
            problems.append(f"{name} steps {steps} != reference {ref_steps}")
            continue
        keys = sorted(
            {k for a, b in zip(records, ref_records, strict=True) for k in same_records(a, b)}
        )
        if keys:
            problems.append(f"{name} values ({', '.join(keys[:4])})")
    best, ref_best = (
        read_json(run / "checkpoints/best/best.json"),
        read_json(reference / "checkpoints/best/best.json"),
    )
    if same_records(best, ref_best):
        problems.append("best/best.json")
    final, ref_final = read_json(run / "eval/final.json"), read_json(reference / "eval/final.json")
    results, ref_results = final.get("results"), ref_final.get("results")
    if results != ref_results:
        problems.append("eval/final.json results")
    left = leftovers(run)
    if left:
        problems.append(f"leftovers {left}")
    return problems


# ---------------------------------------------------------------------- one kill


@dataclass
class KillResult:
    index: int
    kill_at: str
    landed: str
    state: dict[str, Any]
    resumes: int = 0
    killed_resumes: int = 0
    result: str = ""
    ok: bool = False
    seconds: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)


def bad_exit(code: int, output: str) -> str | None:
    if "Traceback" in output:
        return f"traceback (exit {code})"
    if code != 0:
        return f"exit {code}"
    return None


def soak_one(
    index: int,
    run: Path,
    args: list[str],
    reference: Path,
    updates: int,
    kill_at: tuple[float, bool],
    rng: random.Random,
    options: argparse.Namespace,
    marks: dict[str, float],
    env: dict[str, str],
) -> KillResult:
    start = time.monotonic()
    logs = run.parent / f"{run.name}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    train = glam_command("train", "--no-progress", "--run-dir", str(run), *args)
    resume = glam_command("train", "--resume", str(run), "--no-progress")
    delay, from_start = kill_at
    anchor = None if from_start else run / "config.yaml"
    code, killed, seconds, output = run_process(train, logs / "0-train.log", delay, env, anchor)
    state = snapshot(run, updates)
    moment = f"{'start' if from_start else 'config.yaml'} + {delay:.2f} s"
    result = KillResult(index, moment, landed(state), state)
    result.attempts.append(
        asdict(Attempt("train", delay, code, killed, round(seconds, 2), output[-2000:]))
    )
    failure = None if killed else bad_exit(code, output)
    if not killed and failure is None:
        result.landed = "never (the run ended first)"
    killed_resumes = 0
    attempt = 0
    while failure is None and read_json(run / "status.json").get("status") != "finished":
        attempt += 1
        if attempt > MAX_ATTEMPTS:
            status = read_json(run / "status.json").get("status")
            failure = f"not finished after {MAX_ATTEMPTS} resumes (status {status!r})"
            break
        log = logs / f"{attempt}.log"
        if not (run / "config.yaml").is_file():
            # Not a run yet: --resume must refuse it cleanly; then start it again.
            code, _, seconds, output = run_process(resume, log, None, env)
            errors = [line for line in output.splitlines() if line.startswith("error: ")]
            result.attempts.append(
                asdict(
                    Attempt("resume-refused", None, code, False, round(seconds, 2), output[-2000:])
                )
            )
            if code != 2 or "Traceback" in output or len(errors) != 1:
                failure = f"--resume of an unstarted run: exit {code}, not one error line"
                break
            kind, command = "restart", train
        else:
            kind, command = "resume", resume
        kill_delay = None
        if killed_resumes < options.max_killed_resumes and rng.random() < options.kill_resumes:
            kill_delay = rng.uniform(0.0, marks["exit"])  # from the start
        code, killed, seconds, output = run_process(
            command, logs / f"{attempt}-{kind}.log", kill_delay, env
        )
        item = Attempt(kind, kill_delay, code, killed, round(seconds, 2), output[-2000:])
        if killed:
            killed_resumes += 1
            item.state = snapshot(run, updates)
            item.landed = landed(item.state)
        result.attempts.append(asdict(item))
        if kind == "resume":
            result.resumes += 1
        if not killed:
            failure = bad_exit(code, output)
    result.killed_resumes = killed_resumes
    if failure is None:
        problems = compare(run, reference, updates)
        result.ok = not problems
        result.result = "identical" if not problems else "differs in " + "; ".join(problems)
    else:
        result.result = f"failed: {failure}"
    result.seconds = round(time.monotonic() - start, 1)
    if result.ok and not options.keep:
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
    return result


def draw_delay(
    rng: random.Random, marks: dict[str, float], early_fraction: float, late_fraction: float
) -> tuple[float, bool]:
    """A kill moment: ``(seconds, from_start)``. With probability ``early_fraction``
    uniform over the startup (before the run directory is written); with probability
    ``late_fraction`` uniform over the end (from 0.1 s before the last checkpoint to the
    status ``finished``: the last checkpoint write, the final evaluation and saves);
    else uniform over the rest of the reference run until its status said
    ``finished``; the last two counted from the run's ``config.yaml``."""
    directory = marks.get("run_directory", 0.0)
    end = marks.get("finished", marks["exit"]) - directory
    draw = rng.random()
    if draw < early_fraction:
        return rng.uniform(0.0, directory), True
    if draw < early_fraction + late_fraction:
        last = marks.get("last_checkpoint", marks["exit"]) - directory
        return rng.uniform(max(0.0, last - 0.1), end), False
    return rng.uniform(0.0, end), False


# ---------------------------------------------------------------------- report


def markdown(summary: dict[str, Any], results: list[KillResult]) -> str:
    lines = [
        "| # | killed at | landed | state at the kill | then | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.state
        state = (
            "no run directory"
            if not s["config"]
            else f"ckpt {int(s['checkpoints'][-1].split('_')[-1]) if s['checkpoints'] else '-'}"
            f"/{s['updates']}, {s['metrics_last_step']} steps logged, "
            f"status {s['status']}"
            + (f", leftovers {len(s['leftovers'])}" if s["leftovers"] else "")
        )
        resumes = ", ".join(
            {"resume": "R", "restart": "S", "resume-refused": "r"}[a["kind"]]
            + ("(k)" if a["killed"] else "")
            for a in r.attempts[1:]
        )
        lines.append(f"| {r.index} | {r.kill_at} | {r.landed} | {state} | {resumes} | {r.result} |")
    lines += [
        "",
        "then: the processes run after the kill, in order: R a `--resume`, r a `--resume`"
        " refused (not a run yet: exit 2, one error line), S the first command started"
        " again, (k) killed by the soak too.",
        "",
        summary["line"],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=30, help="runs to kill and resume")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random kill moments")
    parser.add_argument("--updates", type=int, default=16, help="PPO updates per run")
    parser.add_argument("--eval-every", type=int, default=4, help="evaluate every N updates")
    parser.add_argument(
        "--kill-resumes", type=float, default=0.25, help="probability a resume is killed too"
    )
    parser.add_argument("--max-killed-resumes", type=int, default=2, help="per run")
    parser.add_argument(
        "--early-fraction",
        type=float,
        default=0.2,
        help="share of kills drawn over the whole run (startup included)",
    )
    parser.add_argument(
        "--late-fraction",
        type=float,
        default=0.2,
        help="share of kills drawn around the last checkpoint and the final evaluation",
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/glam-soak"))
    parser.add_argument("--keep", action="store_true", help="keep identical runs' directories")
    options = parser.parse_args(argv)

    out: Path = options.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = dict(os.environ)
    cache = Path(tempfile.mkdtemp(prefix="glam-soak-cache-"))
    env["GLAM_CACHE_DIR"] = str(cache)
    args = run_settings(options.updates, options.eval_every)
    rng = random.Random(options.seed)
    began = time.monotonic()
    try:
        # Build the model once (not timed), then time the reference on a warm cache.
        warm = out / "warmup"
        code, _, _, output = run_process(
            glam_command("train", "--no-progress", "--run-dir", str(warm), *args),
            out / "warmup.log",
            None,
            env,
        )
        if code != 0:
            print(output[-3000:])
            return 2
        shutil.rmtree(warm)
        reference = out / "reference"
        marks = timed_reference(reference, args, options.updates, out / "reference.log", env)
        print("reference run (s): " + ", ".join(f"{k} {v:.2f}" for k, v in marks.items()))
        results: list[KillResult] = []
        for index in range(1, options.kills + 1):
            kill_at = draw_delay(rng, marks, options.early_fraction, options.late_fraction)
            run = out / "runs" / f"kill_{index:03d}"
            result = soak_one(
                index, run, args, reference, options.updates, kill_at, rng, options, marks, env
            )
            results.append(result)
            print(
                f"{index:3d}  kill at {result.kill_at:22s} {result.landed:35s}  "
                f"resumes {result.resumes} ({result.killed_resumes} killed)  {result.result}"
                f"  [{result.seconds:.1f}s]",
                flush=True,
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    total = time.monotonic() - began
    identical = sum(r.ok for r in results)
    failed = sum(r.result.startswith("failed") for r in results)
    differs = len(results) - identical - failed
    where: dict[str, int] = {}
    where_resumes: dict[str, int] = {}
    for r in results:
        where[r.landed] = where.get(r.landed, 0) + 1
        for a in r.attempts[1:]:
            if a["landed"]:
                where_resumes[a["landed"]] = where_resumes.get(a["landed"], 0) + 1
    per_kill = sum(r.seconds for r in results) / max(len(results), 1)
    line = (
        f"{len(results)} kills (+{sum(r.killed_resumes for r in results)} killed resumes), "
        f"{sum(r.resumes for r in results)} resumes: {identical} identical, {differs} differ, "
        f"{failed} failed; {per_kill:.1f} s per kill, {total / 60:.1f} min in all"
    )
    summary = {
        "line": line,
        "kills": len(results),
        "identical": identical,
        "differ": differs,
        "failed": failed,
        "landed": where,
        "killed_resumes_landed": where_resumes,
        "seconds_per_kill": round(per_kill, 1),
        "minutes": round(total / 60, 1),
        "reference_marks_s": {k: round(v, 2) for k, v in marks.items()},
        "settings": vars(options) | {"out": str(out)},
        "run_settings": [a for a in args if a != "--set"],
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, torch {torch.__version__}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = markdown(summary, results)
    print()
    print(text)
    print("landed: " + ", ".join(f"{k}: {v}" for k, v in sorted(where.items())))
    (out / "soak.json").write_text(
        json.dumps({"summary": summary, "kills": [asdict(r) for r in results]}, indent=2) + "\n"
    )
    (out / "soak.md").write_text(
        "Reference run phases (s from start): "
        + ", ".join(f"{k} {v:.2f}" for k, v in marks.items())
        + "\n\n"
        + text
        + "\nlanded: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(where.items()))
        + "\n\nkilled resumes landed: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(where_resumes.items()))
        + "\n"
    )
    print(f"written: {out / 'soak.json'}, {out / 'soak.md'}")
    return 0 if identical == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
