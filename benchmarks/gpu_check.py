"""GPU check: the paper's PPO recipe with a Flan-T5-large-shaped model, per precision mode.

Nothing is downloaded. The script

1. plays random-action episodes of the paper's level (MixedTrainLocal) for a text
   corpus, trains a byte-level BPE tokenizer on it (``glam_policy.tiny``) and builds
   a T5 with random weights: by default Flan-T5-large's shape (d_model 1024, d_ff
   2816, 24 + 24 layers, 16 heads, gated GELU) with the small vocabulary of that
   tokenizer (a few hundred tokens: the layers are Flan-T5-large's, the embeddings
   almost nothing), saved in Hugging Face format to a temporary folder;
2. runs ``glam train --config paper`` with that model (32 envs x 40 steps, minibatch
   64, 4 epochs) for ``--updates`` PPO updates in each mode, one fresh process per
   mode, training in-process through ``glam_apps.training.train.train`` so that the peak GPU
   memory (``torch.cuda.max_memory_allocated``) is read around the run itself:

   * ``fp32``: ``policy.dtype=float32 policy.autocast=off``;
   * ``auto``: ``policy.dtype=auto policy.autocast=auto`` (bf16 autocast on a GPU
     with bf16, exact float32 on a CPU);
   * ``ddp``: ``auto`` under ``torchrun`` over ``--nproc`` ranks (default: every
     visible GPU; only when there are several), ``distributed.strategy=data_parallel``;
   * ``fsdp``: ``auto`` under ``torchrun`` over ``--nproc`` ranks (one GPU is a valid
     world of one), ``distributed.strategy=fsdp``;

   in each single-process mode, before training, a scoring micro-benchmark times
   ``LLMPolicy.score`` on ``--scoring-prompts`` paper-template prompts (real
   observations of the level, 6 actions each) and reports (prompt, action) pairs/s;
3. prints a Markdown table (env steps/s from the run's ``metrics.jsonl``
   ``steps_per_second``, the first update left out as warm-up when there are at
   least two; rollout and update seconds; scoring pairs/s; peak GPU memory; wall
   time) and writes it with the raw results to ``--out``: ``gpu_check.md``,
   ``gpu_check.json`` and ``logs/<mode>.log``.

On a GPU machine (``benchmarks/gpu_machine.sh`` on one without the project
installed; the defaults were sized for about 6 minutes on one H200, an estimate)::

    python benchmarks/gpu_check.py --out benchmarks/results

On a CPU, at the tiniest size (``tests/test_gpu_check.py`` runs about this)::

    python benchmarks/gpu_check.py --size tiny --updates 2 --num-envs 2 --steps 4 \\
        --minibatch 4 --eval-episodes 2 --scoring-prompts 4 --corpus-episodes 5 \\
        --set env.max_steps=6 --out /tmp/gpu-check

``--budget-s`` bounds the whole run: a mode that would start with less than
``--min-mode-s`` seconds left is skipped, one still training when the budget is
spent stops after its current update (its row says so) and is killed if it has
not ended ``--grace-s`` later; the table is rewritten after every mode, so what
finished is kept. A mode whose overrides the config refuses is skipped with the
reason in the table.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import math
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("gpu_check")

#: The paper config's name (``apps/src/glam_apps/configs/paper.yaml``).
CONFIG = "paper"
TABLE_FILE = "gpu_check.md"
JSON_FILE = "gpu_check.json"
LOG_DIR = "logs"
GIB = 1024**3


@dataclass(frozen=True)
class T5Shape:
    """A T5 v1.1 / Flan-T5 architecture (random weights, the corpus tokenizer's vocabulary)."""

    d_model: int
    d_ff: int
    num_layers: int
    num_heads: int
    d_kv: int = 64


#: Flan-T5's shapes (google/flan-t5-*): same layers, a ~2k vocabulary instead of 32k.
T5_SHAPES: dict[str, T5Shape] = {
    "t5-small": T5Shape(d_model=512, d_ff=1024, num_layers=8, num_heads=6),
    "t5-base": T5Shape(d_model=768, d_ff=2048, num_layers=12, num_heads=12),
    "t5-large": T5Shape(d_model=1024, d_ff=2816, num_layers=24, num_heads=16),
}
#: ``tiny`` is glam_policy.tiny's smallest encoder-decoder.
TINY_ALIASES = {"tiny": "nano"}


@dataclass(frozen=True)
class Mode:
    """One training configuration to measure."""

    name: str
    overrides: tuple[str, ...]
    torchrun: bool
    description: str


MODES: dict[str, Mode] = {
    "fp32": Mode(
        "fp32",
        ("policy.dtype=float32", "policy.autocast=off"),
        False,
        "float32 weights, no autocast, 1 process",
    ),
    "auto": Mode(
        "auto",
        ("policy.dtype=auto", "policy.autocast=auto"),
        False,
        "dtype/autocast auto (bf16 autocast on a bf16 GPU), 1 process",
    ),
    "ddp": Mode(
        "ddp",
        ("policy.dtype=auto", "policy.autocast=auto", "distributed.strategy=data_parallel"),
        True,
        "auto precision, torchrun, data parallel",
    ),
    "fsdp": Mode(
        "fsdp",
        ("policy.dtype=auto", "policy.autocast=auto", "distributed.strategy=fsdp"),
        True,
        "auto precision, torchrun, FSDP2 over the ranks",
    ),
}


@dataclass
class ModeResult:
    """What one mode measured (or why it did not run)."""

    mode: str
    description: str
    ranks: int
    status: str = "not run"
    note: str = ""
    wall_seconds: float | None = None
    updates_measured: int = 0
    steps_per_second: float | None = None
    rollout_seconds: float | None = None
    update_seconds: float | None = None
    scoring_pairs_per_second: float | None = None
    peak_memory_bytes: int | None = None
    overrides: list[str] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    ranks_raw: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------------- helpers


def _quiet_libraries() -> None:
    """No progress bars or info chatter from transformers in the logs."""
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()


def _setup_logging(prefix: str = "") -> None:
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s"
    )
    logger.setLevel(logging.INFO)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def environment_info() -> dict[str, Any]:
    """Versions and the GPU(s) this process sees."""
    import torch
    import transformers

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "cuda_available": torch.cuda.is_available(),
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
    }
    if info["cuda_available"]:
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu_name=torch.cuda.get_device_name(0),
            gpu_memory_bytes=int(props.total_memory),
            gpu_capability=".".join(str(v) for v in torch.cuda.get_device_capability(0)),
            bf16_supported=bool(torch.cuda.is_bf16_supported()),
            cudnn=torch.backends.cudnn.version(),
        )
    else:
        info["cpu"] = platform.processor() or platform.machine()
    return info


# ---------------------------------------------------------------------------- the model


def corpus_texts_for(env_config: Any, episodes: int, seed: int) -> list[str]:
    """Prompts (every named template) and actions of random-action episodes of the level."""
    from glam_apps.config.schema import DefaultModelRecipe
    from glam_apps.models.default_model import corpus_samples, corpus_texts

    recipe = DefaultModelRecipe(
        kind="encoder-decoder", size="nano", corpus_episodes=episodes, seed=seed
    )
    return corpus_texts(list(corpus_samples(recipe, env_config)))


def build_model(
    directory: Path,
    size: str,
    *,
    vocab_size: int,
    corpus_episodes: int,
    layers: int | None,
    seed: int,
    device: str,
) -> dict[str, Any]:
    """Tokenizer + T5 of ``size`` saved to ``directory``; returns what was built."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from glam_apps.config.packaged import load_train_config
    from glam_policy.tiny import (
        build_tiny_model,
        count_non_embedding_parameters,
        save_tiny_model,
        train_bpe_tokenizer,
    )

    start = time.perf_counter()
    env_config = load_train_config(CONFIG).env
    texts = corpus_texts_for(env_config, corpus_episodes, seed)
    tokenizer = train_bpe_tokenizer(texts, vocab_size, add_eos=True, model_max_length=512)
    corpus_seconds = time.perf_counter() - start
    start = time.perf_counter()
    if size in T5_SHAPES:
        shape = T5_SHAPES[size]
        num_layers = layers or shape.num_layers
        config = T5Config(
            vocab_size=len(tokenizer),
            d_model=shape.d_model,
            d_kv=shape.d_kv,
            d_ff=shape.d_ff,
            num_layers=num_layers,
            num_decoder_layers=num_layers,
            num_heads=shape.num_heads,
            feed_forward_proj="gated-gelu",  # Flan-T5's own setting
            dropout_rate=0.1,  # as Flan-T5; the policy zeroes dropout (disable_dropout)
            tie_word_embeddings=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
        with torch.random.fork_rng(devices=[]), torch.device(device):
            torch.manual_seed(seed)
            model = T5ForConditionalGeneration(config)
            with torch.no_grad():  # unit-variance logits, as glam_policy.tiny does
                model.lm_head.weight.normal_(0.0, shape.d_model**-0.5)
        description = (
            f"T5 d_model {shape.d_model}, d_ff {shape.d_ff}, {num_layers}+{num_layers} "
            f"layers, {shape.num_heads} heads, gated-gelu"
        )
    else:
        tiny = TINY_ALIASES.get(size, size)
        model = build_tiny_model("encoder-decoder", tiny, tokenizer, seed=seed, max_positions=512)
        description = f"glam_policy.tiny encoder-decoder {tiny!r}"
    model.eval()
    parameters = sum(p.numel() for p in model.parameters())
    non_embedding = count_non_embedding_parameters(model)
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    save_tiny_model(model.to("cpu"), tokenizer, directory)
    save_seconds = time.perf_counter() - start
    del model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {
        "size": size,
        "description": description,
        "parameters": parameters,
        "non_embedding_parameters": non_embedding,
        "vocab_size": len(tokenizer),
        "corpus_texts": len(texts),
        "corpus_seconds": corpus_seconds,
        "build_seconds": build_seconds,
        "build_device": device,
        "save_seconds": save_seconds,
    }


# ---------------------------------------------------------------------------- worker


def sample_observations(env_config: Any, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` observations of the level after 2-4 random actions: full 3-step histories."""
    from glam_apps.games.envs import make_game

    rng = random.Random(seed)
    game = make_game(env_config)
    observations = []
    try:
        for index in range(count):
            obs, _ = game.reset(seed=seed + index)
            for _ in range(2 + index % 3):
                obs, _, terminated, truncated, _ = game.step(
                    rng.randrange(len(obs["admissible_actions"]))
                )
                if terminated or truncated:
                    obs, _ = game.reset(seed=seed + count + index)
            observations.append(obs)
    finally:
        game.close()
    return observations


def scoring_benchmark(config: Any, prompts: int, repeats: int) -> dict[str, Any]:
    """(prompt, action) pairs scored per second by ``LLMPolicy.score``, median of ``repeats``."""
    import torch

    from glam_apps.models.policies import build_policy

    policy = build_policy(config)
    observations = sample_observations(config.env, prompts, seed=config.run.eval_seed)
    device = policy.device
    encoded = policy.encoder.encode(observations)
    prompt_tokens = [len(ids) for ids in encoded.prompt_ids]
    action_tokens = [len(a) for acts in encoded.action_ids for a in acts]
    pairs = sum(len(acts) for acts in encoded.action_ids)
    times = []
    with torch.inference_mode():
        for _ in range(2):  # warm-up (kernel selection, allocator)
            policy.score(observations)
        _sync(device)
        for _ in range(repeats):
            start = time.perf_counter()
            policy.score(observations)
            _sync(device)
            times.append(time.perf_counter() - start)
    precision = getattr(policy, "precision", None)
    result = {
        "prompts": len(observations),
        "pairs": pairs,
        "repeats": repeats,
        "median_seconds": statistics.median(times),
        "pairs_per_second": pairs / statistics.median(times),
        "prompt_tokens_mean": statistics.mean(prompt_tokens),
        "prompt_tokens_max": max(prompt_tokens),
        "action_tokens_mean": statistics.mean(action_tokens),
        "policy_parameters": sum(p.numel() for p in policy.parameters()),
        "device": str(device),
        "precision": precision.describe() if hasattr(precision, "describe") else None,
        "lm_dtype": str(next(policy.hf_model.parameters()).dtype),
    }
    del policy
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def run_worker(spec_path: Path) -> int:
    """One process of one mode (a torchrun rank, or the only process)."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    _setup_logging(f"[{spec['mode']} rank {rank}] ")
    for name in ("glam_apps", "glam_policy", "glam_ppo"):  # precision, ranks, sharding
        logging.getLogger(name).setLevel(logging.INFO)
    _quiet_libraries()
    import torch

    from glam_apps.config.packaged import load_train_config
    from glam_apps.training.train import StopFlag, train

    result: dict[str, Any] = {
        "mode": spec["mode"],
        "rank": rank,
        "world_size": world_size,
        "local_rank": local_rank,
    }
    out = Path(f"{spec['result_prefix']}.rank{rank}.json")
    try:
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local_rank)
        if spec.get("threads"):
            torch.set_num_threads(int(spec["threads"]))
        result["environment"] = environment_info()
        config = load_train_config(spec["config"], spec["overrides"])
        if spec.get("scoring") and world_size == 1:
            logger.info("scoring micro-benchmark")
            result["scoring"] = scoring_benchmark(
                config, spec["scoring"]["prompts"], spec["scoring"]["repeats"]
            )
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        logger.info("training")
        # At the deadline the run stops after the current update (and saves a checkpoint),
        # as after a first Ctrl-C; under torchrun the ranks agree on the update.
        stop = StopFlag()
        timer = threading.Timer(
            max(0.0, float(spec["deadline"]) - time.time()), stop.set, args=("time budget",)
        )
        timer.daemon = True
        timer.start()
        start = time.perf_counter()
        try:
            outcome = train(config, stop=stop)
        finally:
            timer.cancel()
        result["train_seconds"] = time.perf_counter() - start
        result["status"] = outcome.status
        result["env_steps"] = outcome.env_steps
        result["iteration"] = outcome.iteration
        if outcome.final_report is not None:
            result["final_success_rate"] = outcome.final_report.results[0].summary.success_rate
        if cuda:
            result["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated())
            result["peak_reserved_bytes"] = int(torch.cuda.max_memory_reserved())
        result["max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result["float32_matmul_precision"] = torch.get_float32_matmul_precision()
        code = 0
    except BaseException as error:  # recorded for the table, then re-raised
        result["status"] = "failed"
        result["error"] = f"{type(error).__name__}: {' '.join(str(error).split())}"[:500]
        result["traceback"] = traceback.format_exc()
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        raise
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return code


# ---------------------------------------------------------------------------- driver


def mode_overrides(
    args: argparse.Namespace, mode: Mode, model_dir: Path, run_dir: Path
) -> list[str]:
    """Every ``--set`` of one mode's run."""
    total_steps = args.updates * args.num_envs * args.steps
    return [
        f"policy.model={model_dir}",
        "policy.device=auto",
        f"run.run_dir={run_dir}",
        f"run.total_steps={total_steps}",
        f"run.num_envs={args.num_envs}",
        f"ppo.num_steps={args.steps}",
        f"ppo.minibatch_size={args.minibatch}",
        "run.eval_every=null",
        "run.checkpoint_every=null",
        f"run.eval_episodes={args.eval_episodes}",
        f"run.eval_num_envs={min(args.eval_episodes, args.num_envs)}",
        "run.eval_baselines=[]",
        *mode.overrides,
        *args.set,
    ]


def check_config(overrides: Sequence[str]) -> str | None:
    """Why this tree cannot load the mode's config (``None`` when it can)."""
    from glam_apps.config.packaged import load_train_config
    from glam_apps.errors import UserError

    try:
        load_train_config(CONFIG, overrides)
    except (UserError, ValueError) as error:
        return " ".join(str(error).split())
    return None


def summarise_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the updates, the first left out as warm-up when there are >= 2."""
    kept = records[1:] if len(records) >= 2 else records
    if not kept:
        return {"updates_measured": 0}

    def mean(key: str) -> float | None:
        values = [float(r[key]) for r in kept if r.get(key) is not None]
        return statistics.mean(values) if values else None

    return {
        "updates_measured": len(kept),
        "steps_per_second": mean("steps_per_second"),
        "rollout_seconds": mean("rollout_seconds"),
        "update_seconds": mean("update_seconds"),
    }


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_mode(
    args: argparse.Namespace,
    mode: Mode,
    ranks: int,
    model_dir: Path,
    work: Path,
    out: Path,
    deadline: float,
    timeout: float,
) -> ModeResult:
    """Launch one mode in fresh process(es) and collect what they measured."""
    result = ModeResult(mode.name, mode.description, ranks)
    run_dir = work / f"run-{mode.name}"
    overrides = mode_overrides(args, mode, model_dir, run_dir)
    result.overrides = overrides
    problem = check_config(overrides)
    if problem is not None:
        result.status = "skipped"
        result.note = f"config not valid in this tree: {problem}"
        return result
    spec = {
        "mode": mode.name,
        "config": CONFIG,
        "overrides": overrides,
        "result_prefix": str(work / f"result-{mode.name}"),
        "threads": args.threads,
        "deadline": deadline,
        "scoring": None
        if mode.torchrun or args.scoring_prompts == 0
        else {"prompts": args.scoring_prompts, "repeats": args.scoring_repeats},
    }
    spec_path = work / f"spec-{mode.name}.json"
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    script = str(Path(__file__).resolve())
    if mode.torchrun:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(ranks),
            script,
            "worker",
            str(spec_path),
        ]
    else:
        command = [sys.executable, script, "worker", str(spec_path)]
    log_path = out / LOG_DIR / f"{mode.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("mode %s: %s", mode.name, " ".join(command))
    start = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            code = None
        except BaseException:
            _kill_group(process)
            raise
    result.wall_seconds = time.perf_counter() - start
    for rank in range(ranks):
        path = Path(f"{spec['result_prefix']}.rank{rank}.json")
        if path.is_file():
            result.ranks_raw.append(json.loads(path.read_text(encoding="utf-8")))
    metrics_path = run_dir / "metrics.jsonl"
    if metrics_path.is_file():
        result.metrics = [
            json.loads(line)
            for line in metrics_path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    summary = summarise_metrics(result.metrics)
    result.updates_measured = summary["updates_measured"]
    result.steps_per_second = summary.get("steps_per_second")
    result.rollout_seconds = summary.get("rollout_seconds")
    result.update_seconds = summary.get("update_seconds")
    peaks = [r["peak_memory_bytes"] for r in result.ranks_raw if r.get("peak_memory_bytes")]
    result.peak_memory_bytes = max(peaks) if peaks else None
    for raw in result.ranks_raw:
        if raw.get("scoring"):
            result.scoring_pairs_per_second = raw["scoring"]["pairs_per_second"]
    errors = [r["error"] for r in result.ranks_raw if r.get("error")]
    statuses = {r.get("status") for r in result.ranks_raw}
    if code is None:
        result.status = "timeout"
        result.note = f"killed after {timeout:.0f} s (time budget); see {LOG_DIR}/{mode.name}.log"
    elif code != 0:
        result.status = "failed"
        reason = errors[0] if errors else f"exit code {code}"
        result.note = f"{reason}; see {LOG_DIR}/{mode.name}.log"
    elif len(result.ranks_raw) != ranks:
        result.status = "failed"
        result.note = f"{len(result.ranks_raw)} of {ranks} rank results written"
    elif statuses != {"finished"}:
        result.status = "partial"
        result.note = (
            f"stopped by the time budget after {len(result.metrics)} of {args.updates} updates"
        )
    else:
        result.status = "ok"
    if len(result.metrics) == 1:
        result.note = "; ".join(filter(None, [result.note, "1 update: warm-up included"]))
    if not args.keep_work:
        shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints of a 780M model are GBs
    return result


def _fmt(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def render_table(
    results: list[ModeResult], info: dict[str, Any], model: dict[str, Any], args: argparse.Namespace
) -> str:
    """The Markdown report: machine, workload, one row per mode."""
    scoring = next(
        (raw["scoring"] for r in results for raw in r.ranks_raw if raw.get("scoring")), None
    )
    if info.get("cuda_available"):
        machine = (
            f"{info['gpu_count']} x {info['gpu_name']} "
            f"({info['gpu_memory_bytes'] / GIB:.0f} GiB, compute capability "
            f"{info['gpu_capability']}, bf16 {'yes' if info['bf16_supported'] else 'no'})"
        )
    else:
        machine = f"CPU only ({info.get('cpu')}, {info['cpu_count']} cores)"
    lines = [
        "# GPU check",
        "",
        f"- machine: {machine}; host {info['host']}",
        f"- software: Python {info['python']}, torch {info['torch']}, CUDA {info['cuda']}, "
        f"transformers {info['transformers']}",
        f"- model: {model['description']}, vocabulary {model['vocab_size']} "
        f"(BPE trained on {model['corpus_texts']} MixedTrainLocal texts): "
        f"{model['parameters'] / 1e6:.1f}M parameters "
        f"({model['non_embedding_parameters'] / 1e6:.1f}M outside the embeddings)",
        f"- workload: `--config {CONFIG}` (MixedTrainLocal, history 3), {args.num_envs} envs x "
        f"{args.steps} steps = {args.num_envs * args.steps} transitions per update, "
        f"minibatch {args.minibatch}, {args.updates} update(s) per mode; env steps/s, rollout "
        "and update seconds are means over the updates after the first (warm-up) when "
        "there are >= 2",
    ]
    if args.set:
        lines[-1] += "; extra overrides: " + ", ".join(f"`{item}`" for item in args.set)
    if scoring is not None:
        lines.append(
            f"- scoring: {scoring['prompts']} paper-template prompts "
            f"(mean {scoring['prompt_tokens_mean']:.0f}, max {scoring['prompt_tokens_max']} "
            f"tokens) x 6 actions (mean {scoring['action_tokens_mean']:.1f} tokens), "
            f"`LLMPolicy.score` under inference mode, median of {scoring['repeats']} calls"
        )
    lines.append(f"- model build: {model['build_seconds']:.1f} s on {model['build_device']}, ")
    lines[-1] += (
        f"corpus + tokenizer {model['corpus_seconds']:.1f} s, save {model['save_seconds']:.1f} s"
    )
    lines += [
        "",
        "| mode | ranks | parameters | env steps/s | rollout s | update s | scoring pairs/s "
        "| peak GPU memory | wall s | status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        memory = f"{r.peak_memory_bytes / GIB:.1f} GiB" if r.peak_memory_bytes is not None else "-"
        if r.peak_memory_bytes is not None and r.ranks > 1:
            memory += " (max over ranks)"
        status = r.status if not r.note else f"{r.status}: {r.note}"
        lines.append(
            f"| {r.mode} | {r.ranks} | {model['parameters'] / 1e6:.1f}M "
            f"| {_fmt(r.steps_per_second, '.1f')} | {_fmt(r.rollout_seconds, '.2f')} "
            f"| {_fmt(r.update_seconds, '.2f')} | {_fmt(r.scoring_pairs_per_second, '.0f')} "
            f"| {memory} | {_fmt(r.wall_seconds, '.0f')} | {status.replace('|', '/')} |"
        )
    lines += ["", "Modes:", ""]
    for r in results:
        resolved = next(
            (raw["scoring"].get("precision") for raw in r.ranks_raw if raw.get("scoring")), None
        )
        where = f" (resolved: {resolved})" if resolved else ""
        lines.append(f"- `{r.mode}`: {r.description}{where}")
    lines += [
        "",
        "Peak GPU memory is `torch.cuda.max_memory_allocated()` around `train()` in the "
        "process (each rank's own device under torchrun); wall s is the mode's whole "
        "process: start, imports, model load, scoring micro-benchmark, training, final "
        "evaluation and checkpoint writing.",
        "",
    ]
    return "\n".join(lines)


def write_outputs(
    out: Path,
    results: list[ModeResult],
    info: dict[str, Any],
    model: dict[str, Any],
    args: argparse.Namespace,
    elapsed: float,
) -> str:
    table = render_table(results, info, model, args)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "args": {k: v for k, v in vars(args).items() if k != "command"},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "environment": info,
        "model": model,
        "elapsed_seconds": elapsed,
        "results": [asdict(r) for r in results],
    }
    for name, text in ((TABLE_FILE, table), (JSON_FILE, json.dumps(payload, indent=2))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
    return table


def default_modes(cuda: bool, gpus: int) -> list[str]:
    if not cuda:
        return ["fp32", "auto"]
    # fp32, the slowest, last: when the budget runs short it is the one cut after an update.
    modes = ["auto", "fsdp"]
    if gpus > 1:
        modes.append("ddp")
    return [*modes, "fp32"]


def run_driver(args: argparse.Namespace) -> int:
    _setup_logging()
    _quiet_libraries()
    began = time.perf_counter()
    import torch

    info = environment_info()
    cuda = bool(info["cuda_available"])
    gpus = int(info["gpu_count"])
    modes = args.modes.split(",") if args.modes else default_modes(cuda, gpus)
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit(f"unknown mode(s) {', '.join(unknown)}; valid: {', '.join(MODES)}")
    nproc = args.nproc or (gpus if cuda else 2)
    out = Path(args.out)
    if args.work_dir:
        work = Path(args.work_dir)
        if work.exists() and any(work.iterdir()):
            raise SystemExit(f"--work-dir {work} is not empty: give a new or empty folder")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    if args.threads:
        torch.set_num_threads(args.threads)
    logger.info("machine: %s", json.dumps(info))
    logger.info("building the %s model in %s", args.size, work / "model")
    model = build_model(
        work / "model",
        args.size,
        vocab_size=args.vocab_size,
        corpus_episodes=args.corpus_episodes,
        layers=args.layers,
        seed=args.seed,
        device="cuda" if cuda else "cpu",
    )
    logger.info("model: %s", json.dumps(model))
    results: list[ModeResult] = []
    last_wall = 0.0
    try:
        for name in modes:
            mode = MODES[name]
            ranks = nproc if mode.torchrun else 1
            left = args.budget_s - (time.perf_counter() - began)
            if mode.name == "ddp" and ranks < 2:
                result = ModeResult(name, mode.description, ranks, "skipped", "needs >= 2 ranks")
            elif left < max(args.min_mode_s, 0.5 * last_wall):
                result = ModeResult(
                    name, mode.description, ranks, "skipped", f"time budget: {left:.0f} s left"
                )
            else:
                result = run_mode(
                    args,
                    mode,
                    ranks,
                    work / "model",
                    work,
                    out,
                    deadline=time.time() + left,
                    timeout=left + args.grace_s,
                )
                last_wall = result.wall_seconds or last_wall
            logger.info(
                "mode %s: %s %s",
                name,
                result.status,
                json.dumps(
                    {
                        "steps_per_second": result.steps_per_second,
                        "peak_memory_bytes": result.peak_memory_bytes,
                        "wall_seconds": result.wall_seconds,
                        "note": result.note,
                    }
                ),
            )
            results.append(result)
            write_outputs(out, results, info, model, args, time.perf_counter() - began)
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    table = write_outputs(out, results, info, model, args, time.perf_counter() - began)
    print(table)
    print(f"written: {out / TABLE_FILE}, {out / JSON_FILE}, {out / LOG_DIR}/")
    failed = [r.mode for r in results if r.status in ("failed", "timeout")]
    return 1 if failed and args.strict else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sizes = [*T5_SHAPES, *TINY_ALIASES, "nano", "micro", "small", "base25m"]
    parser.add_argument(
        "--size",
        default="t5-large",
        choices=sizes,
        help="t5-*: Flan-T5's shapes (random weights, small vocabulary); the others: "
        "glam_policy.tiny encoder-decoders (tiny = nano). Default: t5-large",
    )
    parser.add_argument("--layers", type=int, default=None, help="t5-*: layers per stack")
    parser.add_argument("--vocab-size", type=int, default=2000, help="BPE vocabulary bound")
    parser.add_argument(
        "--corpus-episodes", type=int, default=50, help="random episodes for the corpus"
    )
    parser.add_argument("--updates", type=int, default=2, help="PPO updates per mode")
    parser.add_argument("--num-envs", type=int, default=32, help="global (paper: 32)")
    parser.add_argument("--steps", type=int, default=40, help="steps per env per update (40)")
    parser.add_argument("--minibatch", type=int, default=64, help="global minibatch (64)")
    parser.add_argument("--eval-episodes", type=int, default=32, help="final evaluation")
    parser.add_argument("--scoring-prompts", type=int, default=32, help="0: no scoring bench")
    parser.add_argument("--scoring-repeats", type=int, default=10)
    parser.add_argument(
        "--modes", default="", help=f"comma list of {', '.join(MODES)}; default: by machine"
    )
    parser.add_argument(
        "--nproc", type=int, default=0, help="ranks of torchrun modes (default: every GPU; CPU: 2)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config override for every mode (repeatable)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--budget-s",
        type=float,
        default=420.0,
        help="wall-clock budget: a mode still training then stops after its current update",
    )
    parser.add_argument(
        "--grace-s",
        type=float,
        default=75.0,
        help="after the budget, time left to finish an update and save before a mode is killed",
    )
    parser.add_argument(
        "--min-mode-s", type=float, default=45.0, help="do not start a mode with less left"
    )
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument("--work-dir", default="", help="model and runs (default: a temp dir)")
    parser.add_argument("--keep-work", action="store_true", help="keep the model and run dirs")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a mode failed or timed out"
    )
    args = parser.parse_args(argv)
    for name in ("updates", "num_envs", "steps", "minibatch", "eval_episodes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        if len(argv) != 2:
            raise SystemExit("usage: gpu_check.py worker SPEC.json")
        return run_worker(Path(argv[1]))
    return run_driver(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
