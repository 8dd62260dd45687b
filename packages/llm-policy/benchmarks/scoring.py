"""Benchmark: naive per-pair action scoring against shared-prompt scoring.

Workload: ``--prompts`` compact-template prompts (the layout the figures were measured
with, formerly named ``paper``) of about ``--prompt-tokens`` tokens, each with the
``--actions`` BabyAI actions, for a decoder-only (GPT-2) and an encoder-decoder (T5)
tiny model of each ``--sizes`` (no hub needed).

For every model it prints the time of

* ``naive``: one forward pass per (prompt, action) pair over the prompt + action ids
  (``ActionScorer(strategy="naive")``; ``--naive-batch-size k`` puts k pairs in a pass,
  a stronger baseline that only repeats the prompts), and
* ``shared``: the package's default strategy (each prompt run once for all of its
  actions: packed key/value sharing for decoders, one encoder pass for T5),

their ratio, and the achieved FLOP/s of each against a matrix-multiply ceiling
measured in the same run. Useful FLOPs are ``2 x non-embedding parameters x tokens``
(T5: encoder parameters x encoder tokens + decoder parameters x decoder tokens),
counting only real tokens: padding and repeated prompts are not useful work, so
naive scoring's repeated prompts count once per pair, which is what it computes.

    python packages/llm-policy/benchmarks/scoring.py                 # CPU, 2 threads
    python packages/llm-policy/benchmarks/scoring.py --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from glam_policy.encoding import PolicyEncoder
from glam_policy.inputs import PolicyInput
from glam_policy.scoring import ActionScorer
from glam_policy.tiny import (
    TINY_SIZES,
    build_tiny_model,
    count_non_embedding_parameters,
    default_corpus,
    train_bpe_tokenizer,
)

ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Row:
    kind: str
    size: str
    non_embedding_params: int
    pairs: int
    naive_s: float
    shared_s: float
    speedup: float
    naive_gflops: float
    shared_gflops: float
    shared_fraction_of_ceiling: float
    pairs_per_s_shared: float
    max_abs_diff: float


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(
    fn: Callable[[], object], device: torch.device, repeats: int, *, warm_up: bool = True
) -> float:
    """Median wall time of ``repeats`` calls, after one warm-up call unless already warm."""
    if warm_up:
        fn()
        sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_ceiling(
    device: torch.device, dtype: torch.dtype, sizes: Sequence[int], repeats: int
) -> dict[int, float]:
    """FLOP/s of square matrix products: the practical peak the models are held against."""
    result = {}
    generator = torch.Generator().manual_seed(0)
    for n in sizes:
        a = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        b = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        inner = max(1, int(2e9 // (2 * n**3))) if device.type == "cpu" else 20
        seconds = timed(lambda a=a, b=b, k=inner: [a @ b for _ in range(k)], device, repeats)
        result[n] = 2 * n**3 * inner / seconds
    return result


def make_workload(
    tokenizer, kind: str, n_prompts: int, prompt_tokens: int, seed: int
) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Compact-template prompts grown sentence by sentence to about ``prompt_tokens`` tokens.

    Token ids come from the policy's own :class:`PolicyEncoder` (prompt and actions
    tokenized separately, its default action prefix and special tokens).
    """
    rng = random.Random(seed)
    encoder = PolicyEncoder(tokenizer, "compact", kind)
    sentences = [s for s in default_corpus(2000, seed=seed) if s.startswith("You ")]
    inputs = []
    for _ in range(n_prompts):
        observations = [[rng.choice(sentences)] for _ in range(3)]
        goal = f"go to the {rng.choice(('red', 'blue', 'grey'))} ball"
        past = (rng.choice(ACTIONS), rng.choice(ACTIONS))
        while True:
            data = PolicyInput(goal, tuple(tuple(o) for o in observations), past, ACTIONS)
            if len(encoder.encode([data]).prompt_ids[0]) >= prompt_tokens:
                break
            rng.choice(observations).append(rng.choice(sentences))
        inputs.append(data)
    encoded = encoder.encode(inputs)
    return encoded.prompt_ids, encoded.action_ids


def useful_flops(model, kind: str, prompts, actions, *, shared: bool) -> float:
    """2 x parameters x real tokens; see the module docstring."""
    if kind == "decoder":
        n = count_non_embedding_parameters(model)
        if shared:
            tokens = sum(
                len(p) + sum(len(a) - 1 for a in acts)
                for p, acts in zip(prompts, actions, strict=True)
            )
        else:
            tokens = sum(
                len(p) + len(a) - 1 for p, acts in zip(prompts, actions, strict=True) for a in acts
            )
        return 2.0 * n * tokens
    n_enc = count_non_embedding_parameters(model.get_encoder())
    n_dec = count_non_embedding_parameters(model.get_decoder())
    dec_tokens = sum(len(a) for acts in actions for a in acts)
    if shared:
        enc_tokens = sum(len(p) for p in prompts)
    else:
        enc_tokens = sum(len(p) * len(acts) for p, acts in zip(prompts, actions, strict=True))
    return 2.0 * (n_enc * enc_tokens + n_dec * dec_tokens)


def bench_model(args, tokenizer, kind: str, size: str, device, dtype, ceiling: float) -> Row:
    model = build_tiny_model(kind, size, tokenizer, seed=0, max_positions=1024)
    model.to(device=device, dtype=dtype).eval()
    prompts, actions = make_workload(tokenizer, kind, args.prompts, args.prompt_tokens, args.seed)
    common = {
        "pad_token_id": tokenizer.pad_token_id,
        "decoder_start_token_id": model.config.decoder_start_token_id
        if kind == "encoder-decoder"
        else None,
    }
    naive = ActionScorer(
        model, kind, strategy="naive", naive_batch_size=args.naive_batch_size, **common
    )
    shared = ActionScorer(model, kind, token_budget=args.token_budget, **common)
    with torch.inference_mode():  # the exactness check doubles as the warm-up
        expected = naive(prompts, actions).logprobs.float()
        diff = (expected - shared(prompts, actions).logprobs.float()).abs().max()
        sync(device)
        naive_s = timed(lambda: naive(prompts, actions), device, args.naive_repeats, warm_up=False)
        shared_s = timed(lambda: shared(prompts, actions), device, args.repeats, warm_up=False)
    naive_flops = useful_flops(model, kind, prompts, actions, shared=False)
    shared_flops = useful_flops(model, kind, prompts, actions, shared=True)
    pairs = sum(len(a) for a in actions)
    return Row(
        kind=kind,
        size=size,
        non_embedding_params=count_non_embedding_parameters(model),
        pairs=pairs,
        naive_s=naive_s,
        shared_s=shared_s,
        speedup=naive_s / shared_s,
        naive_gflops=naive_flops / naive_s / 1e9,
        shared_gflops=shared_flops / shared_s / 1e9,
        shared_fraction_of_ceiling=shared_flops / shared_s / ceiling,
        pairs_per_s_shared=pairs / shared_s,
        max_abs_diff=float(diff),
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--sizes", default="nano,base25m", help=f"of {', '.join(TINY_SIZES)}")
    parser.add_argument("--kinds", default="decoder,encoder-decoder")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=150)
    parser.add_argument("--token-budget", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of shared scoring")
    parser.add_argument("--naive-repeats", type=int, default=1, help="timed runs of naive scoring")
    parser.add_argument(
        "--naive-batch-size",
        type=int,
        default=1,
        help="(prompt, action) pairs per naive forward pass: 1 is one pass per pair",
    )
    parser.add_argument(
        "--matmul-sizes", default="", help="default 1024,2048 (cpu), 4096,8192 (cuda)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    torch.set_num_threads(args.threads)
    default_sizes = "1024,2048" if device.type == "cpu" else "4096,8192"
    mm_sizes = [int(s) for s in (args.matmul_sizes or default_sizes).split(",")]
    tokenizer = train_bpe_tokenizer(default_corpus())

    machine = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"machine: {machine}; torch {torch.__version__}; threads {torch.get_num_threads()}")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    ceilings = matmul_ceiling(device, dtype, mm_sizes, repeats=3)
    ceiling = max(ceilings.values())
    for n, flops in ceilings.items():
        print(f"matmul {n}x{n} {args.dtype}: {flops / 1e9:.1f} GFLOP/s")
    print(
        f"workload: {args.prompts} prompts of >= {args.prompt_tokens} tokens x {len(ACTIONS)} "
        f"actions, {args.dtype} on {device}; naive: {args.naive_batch_size} pair(s) per pass"
    )
    header = (
        f"| {'kind':<15} | {'size':<7} | {'params':>6} | {'naive s':>8} | {'shared s':>8} | "
        f"{'ratio':>6} | {'naive GF/s':>10} | {'shared GF/s':>11} | {'% ceiling':>9} | "
        f"{'pairs/s':>8} | {'max diff':>10} |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    rows = []
    for kind in args.kinds.split(","):
        for size in args.sizes.split(","):
            row = bench_model(args, tokenizer, kind, size, device, dtype, ceiling)
            rows.append(row)
            print(
                f"| {row.kind:<15} | {row.size:<7} | {row.non_embedding_params / 1e6:>5.2f}M | "
                f"{row.naive_s:>8.3f} | {row.shared_s:>8.3f} | {row.speedup:>5.1f}x | "
                f"{row.naive_gflops:>10.1f} | {row.shared_gflops:>11.1f} | "
                f"{100 * row.shared_fraction_of_ceiling:>8.1f}% | {row.pairs_per_s_shared:>8.0f} | "
                f"{row.max_abs_diff:>10.1e} |",
                flush=True,
            )
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        payload = {
            "args": vars(args),
            "machine": machine,
            "matmul_gflops": {str(k): v / 1e9 for k, v in ceilings.items()},
            "rows": [asdict(r) for r in rows],
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
