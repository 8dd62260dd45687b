"""Benchmark: glam's packed action scoring against one forward per pair and Lamorel's method.

Workload: ``--prompts`` compact-template prompts (the layout the figures were measured
with, formerly named ``paper``) of about ``--prompt-tokens`` tokens, each with the 6
BabyAI actions, token ids from the policy's own ``PolicyEncoder``; randomly initialised
tiny models of each ``--sizes``, decoder-only (GPT-2) and encoder-decoder (T5), no hub.

Three systems score the same batch:

* ``naive``: one forward pass per (prompt, action) pair over the prompt + action ids
  (``ActionScorer(strategy="naive")``; ``--naive-batch-size k`` puts k pairs in a pass);
* ``lamorel``: Lamorel's method, re-implemented from its description in
  ``lamorel_method.py``: each prompt encoded once and its key/value cache (decoder) or
  encoder output (T5) repeated once per action, prompts left-padded for decoders;
* ``packed``: glam's default strategy: each prompt run once for all of its actions,
  side by side behind a 4-D mask, no cache copies.

They run in interleaved rounds (``benchmarks/harness.py``: the order rotated every
round); each gets one untimed run first, which doubles as the exactness check: the
largest |score - naive score| in nats. Reported: wall and CPU seconds (median and
range over rounds), the per-round ratios, and packed scoring's useful FLOP/s against
a matrix-multiply ceiling measured in the same run. Useful FLOPs are ``2 x
non-embedding parameters x real tokens`` (T5: each stack's parameters x its tokens).

The action-count scaling curve (``--scaling-actions``, 2 to 48 by default) scores
``--scaling-prompts`` prompts with that many actions (the 6 BabyAI actions, then "go
to", "pick up" and "open" actions on coloured objects) and plots the three systems'
times to ``scoring-actions.png``.

    python packages/llm-policy/benchmarks/scoring.py --out-dir docs/benchmarks   # CPU, 1 thread
    python packages/llm-policy/benchmarks/scoring.py --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import random
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def import_harness() -> Any:
    """The shared benchmark harness, ``benchmarks/harness.py`` at the repository root."""
    root = Path(__file__).resolve().parents[3]
    sys.path.insert(0, str(root / "benchmarks"))
    import harness

    return harness


H = import_harness()
sys.path.insert(0, str(Path(__file__).resolve().parent))
from lamorel_method import LamorelMethodScorer  # noqa: E402

ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
OBJECTS = ("ball", "box", "key")
#: 48 distinct actions for the scaling curve: the BabyAI ones first.
MANY_ACTIONS = (
    *ACTIONS,
    *(f"go to the {c} {o}" for c in COLORS for o in OBJECTS),
    *(f"pick up the {c} {o}" for c in COLORS for o in OBJECTS),
    *(f"open the {c} door" for c in COLORS),
)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
SYSTEMS = ("naive", "lamorel", "packed")
LABELS = {"naive": "one forward per pair", "lamorel": "Lamorel's method", "packed": "glam packed"}
KIND_LABELS = {"decoder": "decoder", "encoder-decoder": "T5"}

Prompts = list[list[int]]
Actions = list[list[list[int]]]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_ceiling(device: torch.device, dtype: torch.dtype, sizes: Sequence[int]) -> dict:
    """FLOP/s of square matrix products (median of 3): the practical peak models are held to."""
    result = {}
    generator = torch.Generator().manual_seed(0)
    for n in sizes:
        a = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        b = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        inner = max(1, int(2e9 // (2 * n**3))) if device.type == "cpu" else 20

        def product(a: torch.Tensor = a, b: torch.Tensor = b, k: int = inner) -> None:
            for _ in range(k):
                a @ b
            sync(device)

        product()
        runs = H.interleave({"matmul": lambda _r: product()}, 3)["matmul"]
        result[n] = 2 * n**3 * inner / H.Spread.of(H.walls(runs)).median
    return result


def make_workload(
    tokenizer: Any, kind: str, n_prompts: int, prompt_tokens: int, seed: int
) -> tuple[Prompts, Actions]:
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


def action_ids(tokenizer: Any, kind: str, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of ``texts`` as the policy encodes actions (its prefix, no prompt)."""
    encoder = PolicyEncoder(tokenizer, "compact", kind)
    data = PolicyInput("go to the red ball", (("You see a wall",),), (), tuple(texts))
    return encoder.encode([data]).action_ids[0]


def useful_flops(model: Any, kind: str, prompts: Prompts, actions: Actions) -> float:
    """2 x parameters x real tokens, each prompt counted once (what packed scoring runs)."""
    if kind == "decoder":
        n = count_non_embedding_parameters(model)
        tokens = sum(
            len(p) + sum(len(a) - 1 for a in acts) for p, acts in zip(prompts, actions, strict=True)
        )
        return 2.0 * n * tokens
    n_enc = count_non_embedding_parameters(model.get_encoder())
    n_dec = count_non_embedding_parameters(model.get_decoder())
    dec_tokens = sum(len(a) for acts in actions for a in acts)
    return 2.0 * (n_enc * sum(len(p) for p in prompts) + n_dec * dec_tokens)


def scorers(args: argparse.Namespace, model: Any, kind: str, tokenizer: Any) -> dict[str, Any]:
    """The three systems as ``(prompts, actions) -> log-likelihood tensor`` callables."""
    common = {
        "pad_token_id": tokenizer.pad_token_id,
        "decoder_start_token_id": (
            model.config.decoder_start_token_id if kind == "encoder-decoder" else None
        ),
    }
    naive = ActionScorer(
        model, kind, strategy="naive", naive_batch_size=args.naive_batch_size, **common
    )
    packed = ActionScorer(model, kind, token_budget=args.token_budget, **common)
    lamorel = LamorelMethodScorer(model, kind, minibatch_size=args.lamorel_minibatch, **common)
    return {
        "naive": lambda p, a: naive(p, a).logprobs,
        "lamorel": lamorel,
        "packed": lambda p, a: packed(p, a).logprobs,
    }


def compare(
    systems: dict[str, Callable[[Prompts, Actions], torch.Tensor]],
    prompts: Prompts,
    actions: Actions,
    rounds: int,
    device: torch.device,
    label: str,
) -> dict[str, Any]:
    """Exactness against naive (the untimed warm-up run), then interleaved timed rounds."""
    with torch.inference_mode():
        scores = {name: fn(prompts, actions).float() for name, fn in systems.items()}
        sync(device)
        reference = scores["naive"]
        finite = torch.isfinite(reference)
        diffs = {name: float((s - reference)[finite].abs().max()) for name, s in scores.items()}

        def timed(name: str) -> Callable[[int], None]:
            def run(_round: int) -> None:
                systems[name](prompts, actions)
                sync(device)

            return run

        def progress(r: int, name: str, t: Any) -> None:
            print(
                f"  {label} round {r} {name}: {t.wall_s:.3f} s wall, {t.cpu_s:.3f} s CPU",
                flush=True,
            )

        runs = H.interleave({n: timed(n) for n in systems}, rounds, on_result=progress)
    return {"runs": runs, "max_abs_diff": diffs}


def load_model(kind: str, size: str, tokenizer: Any, device: torch.device, dtype: torch.dtype):
    model = build_tiny_model(kind, size, tokenizer, seed=0, max_positions=1024)
    return model.to(device=device, dtype=dtype).eval()


def bench_model(
    args: argparse.Namespace, tokenizer: Any, kind: str, size: str, device, dtype, ceiling: float
) -> dict[str, Any]:
    model = load_model(kind, size, tokenizer, device, dtype)
    prompts, actions = make_workload(tokenizer, kind, args.prompts, args.prompt_tokens, args.seed)
    result = compare(
        scorers(args, model, kind, tokenizer),
        prompts,
        actions,
        args.rounds,
        device,
        f"{kind} {size}",
    )
    runs = result["runs"]
    packed_s = H.Spread.of(H.walls(runs["packed"])).median
    flops = useful_flops(model, kind, prompts, actions)
    return {
        "kind": kind,
        "size": size,
        "non_embedding_params": count_non_embedding_parameters(model),
        "pairs": sum(len(a) for a in actions),
        "prompt_tokens": [min(map(len, prompts)), max(map(len, prompts))],
        "runs": runs,
        "max_abs_diff": result["max_abs_diff"],
        "packed_gflops": flops / packed_s / 1e9,
        "packed_fraction_of_ceiling": flops / packed_s / ceiling,
        "packed_vs_naive": H.Ratio.paired(H.walls(runs["naive"]), H.walls(runs["packed"])),
        "packed_vs_lamorel": H.Ratio.paired(H.walls(runs["lamorel"]), H.walls(runs["packed"])),
    }


def bench_scaling(
    args: argparse.Namespace, tokenizer: Any, kind: str, device, dtype
) -> list[dict[str, Any]]:
    """Times of the three systems against the number of actions per prompt."""
    model = load_model(kind, args.scaling_size, tokenizer, device, dtype)
    prompts, _ = make_workload(
        tokenizer, kind, args.scaling_prompts, args.prompt_tokens, args.seed + 1
    )
    systems = scorers(args, model, kind, tokenizer)
    points = []
    for count in args.scaling_actions:
        ids = action_ids(tokenizer, kind, MANY_ACTIONS[:count])
        actions = [ids for _ in prompts]
        result = compare(
            systems, prompts, actions, args.scaling_rounds, device, f"{kind} {count} actions"
        )
        points.append({"kind": kind, "actions": count, **result})
    return points


def plot_scaling(points: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(p["kind"] for p in points))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.8), squeeze=False)
    for axis, kind in zip(axes[0], kinds, strict=True):
        mine = [p for p in points if p["kind"] == kind]
        x = [p["actions"] for p in mine]
        for name, marker in zip(SYSTEMS, "osD", strict=True):
            spreads = [H.Spread.of(H.walls(p["runs"][name])) for p in mine]
            y = [s.median for s in spreads]
            err = [[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]]
            axis.errorbar(x, y, yerr=err, marker=marker, capsize=3, label=LABELS[name])
        axis.set_xticks(x)
        axis.set_xlabel("actions per prompt")
        axis.set_ylabel("seconds (median, range over rounds)")
        axis.set_yscale("log")
        axis.set_title(KIND_LABELS[kind])
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(textwrap.fill(title, 120), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(temp, dpi=110)
    plt.close(fig)
    temp.replace(path)


def model_table(rows: list[dict[str, Any]]) -> str:
    header = [
        "model",
        "params",
        "pairs",
        *(f"{LABELS[s]} s" for s in SYSTEMS),
        "CPU s (pair / Lamorel / packed)",
        "packed vs per pair",
        "packed vs Lamorel",
        "max abs diff vs per pair, nats: Lamorel / packed",
        "packed % of ceiling",
    ]
    body = []
    for row in rows:
        runs = row["runs"]
        body.append(
            [
                f"{KIND_LABELS[row['kind']]} {row['size']}",
                f"{row['non_embedding_params'] / 1e6:.2f}M",
                str(row["pairs"]),
                *(H.Spread.of(H.walls(runs[s])).format(".3f") for s in SYSTEMS),
                " / ".join(f"{H.Spread.of(H.cpus(runs[s])).median:.3f}" for s in SYSTEMS),
                row["packed_vs_naive"].format(),
                row["packed_vs_lamorel"].format(),
                f"{row['max_abs_diff']['lamorel']:.1e} / {row['max_abs_diff']['packed']:.1e}",
                f"{100 * row['packed_fraction_of_ceiling']:.0f}%",
            ]
        )
    return H.markdown_table(header, body)


def scaling_table(points: list[dict[str, Any]]) -> str:
    header = [
        "model",
        "actions",
        *(f"{LABELS[s]} s" for s in SYSTEMS),
        "packed vs Lamorel",
        "max abs diff vs per pair, nats: Lamorel / packed",
    ]
    body = []
    for p in points:
        runs = p["runs"]
        body.append(
            [
                KIND_LABELS[p["kind"]],
                str(p["actions"]),
                *(H.Spread.of(H.walls(runs[s])).format(".3f") for s in SYSTEMS),
                H.Ratio.paired(H.walls(runs["lamorel"]), H.walls(runs["packed"])).format(),
                f"{p['max_abs_diff']['lamorel']:.1e} / {p['max_abs_diff']['packed']:.1e}",
            ]
        )
    return H.markdown_table(header, body)


def growth_lines(points: list[dict[str, Any]]) -> list[str]:
    """How much each system's median time grows from the fewest to the most actions."""
    lines = []
    for kind in dict.fromkeys(p["kind"] for p in points):
        mine = [p for p in points if p["kind"] == kind]
        if len(mine) < 2:
            continue
        first, last = mine[0], mine[-1]
        parts = []
        for s in SYSTEMS:
            a = H.Spread.of(H.walls(first["runs"][s])).median
            b = H.Spread.of(H.walls(last["runs"][s])).median
            parts.append(f"{LABELS[s]} x{b / a:.1f}")
        lines.append(
            f"- {KIND_LABELS[kind]}, {first['actions']} to {last['actions']} actions: "
            + ", ".join(parts)
        )
    return lines


def verdict_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per model and comparison: the headline, or why there is none."""
    lines = []
    for row in rows:
        name = f"{KIND_LABELS[row['kind']]} {row['size']}"
        for key, label in (("packed_vs_naive", "per pair"), ("packed_vs_lamorel", "Lamorel")):
            lines.append(f"- {name}, glam packed vs {label}: {row[key].headline()}")
    return lines


def headlines(args: argparse.Namespace, rows: list[dict[str, Any]]) -> list[str]:
    """Lines for the top README's table of measured figures (the largest size only)."""
    size = args.sizes[-1]
    mine = [r for r in rows if r["size"] == size]
    if not mine:
        return []
    parts = []
    for row in mine:
        kind = KIND_LABELS[row["kind"]]
        parts.append(
            f"{kind}: glam packed vs one forward per pair {row['packed_vs_naive'].headline()}, "
            f"vs Lamorel's method {row['packed_vs_lamorel'].headline()}; largest score "
            f"difference from per-pair scoring {row['max_abs_diff']['packed']:.2g} nats "
            f"(packed), {row['max_abs_diff']['lamorel']:.2g} (Lamorel's method)"
        )
    return [
        f"action scoring, {size}, {args.prompts} prompts x {len(ACTIONS)} "
        f"actions, speed-up (median [range] of rounds): " + "; ".join(parts)
    ]


def to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, H.Ratio):
        return value.to_json()
    if isinstance(value, H.Timed):
        return {"wall_s": value.wall_s, "cpu_s": value.cpu_s}
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--sizes", default="base25m", help=f"of {', '.join(TINY_SIZES)}")
    parser.add_argument("--kinds", default="decoder,encoder-decoder")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=150)
    parser.add_argument("--token-budget", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds")
    parser.add_argument(
        "--naive-batch-size",
        type=int,
        default=1,
        help="(prompt, action) pairs per naive forward pass: 1 is one pass per pair",
    )
    parser.add_argument(
        "--lamorel-minibatch", type=int, default=64, help="candidate rows per Lamorel forward"
    )
    parser.add_argument(
        "--scaling-actions",
        default="2,6,12,24,48",
        help="action counts of the scaling curve (at most 48; empty: no curve)",
    )
    parser.add_argument("--scaling-prompts", type=int, default=4)
    parser.add_argument("--scaling-rounds", type=int, default=3)
    parser.add_argument("--scaling-size", default="", help="model size (default: the last size)")
    parser.add_argument(
        "--matmul-sizes", default="", help="default 1024,2048 (cpu), 4096,8192 (cuda)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default="", help="write scoring.md/.json/-actions.png here")
    args = parser.parse_args(argv)
    args.sizes = args.sizes.split(",")
    args.kinds = args.kinds.split(",")
    for size in args.sizes:
        if size not in TINY_SIZES:
            parser.error(f"unknown size {size!r}; choose from {', '.join(TINY_SIZES)}")
    bad_kinds = set(args.kinds) - set(KIND_LABELS)
    if bad_kinds:
        parser.error(f"unknown kinds {sorted(bad_kinds)}; choose from {', '.join(KIND_LABELS)}")
    args.scaling_actions = [int(x) for x in args.scaling_actions.split(",") if x]
    if any(not 1 <= x <= len(MANY_ACTIONS) for x in args.scaling_actions):
        parser.error(f"--scaling-actions must be between 1 and {len(MANY_ACTIONS)}")
    args.scaling_size = args.scaling_size or args.sizes[-1]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    H.set_threads(args.threads)
    default_sizes = "1024,2048" if device.type == "cpu" else "4096,8192"
    mm_sizes = [int(s) for s in (args.matmul_sizes or default_sizes).split(",")]
    tokenizer = train_bpe_tokenizer(default_corpus())
    import transformers

    machine = H.Machine.current(args.threads, transformers=transformers.__version__)
    if device.type == "cuda":
        machine = H.Machine(**{**vars(machine), "cpu": torch.cuda.get_device_name(device)})
    provenance = H.Provenance.start(H.command_line(__file__, argv), machine)
    print(f"machine: {machine.describe()}")
    print(f"load average before: {H.format_load(provenance.load_before)}", flush=True)
    ceilings = matmul_ceiling(device, dtype, mm_sizes)
    ceiling = max(ceilings.values())
    ceiling_text = ", ".join(f"{n}² {f / 1e9:.1f}" for n, f in ceilings.items())
    print(f"matmul GFLOP/s ({args.dtype}): {ceiling_text}", flush=True)
    rows = [
        bench_model(args, tokenizer, kind, size, device, dtype, ceiling)
        for kind in args.kinds
        for size in args.sizes
    ]
    points = [
        point
        for kind in args.kinds
        for point in (
            bench_scaling(args, tokenizer, kind, device, dtype) if args.scaling_actions else []
        )
    ]
    provenance.finish()
    tokens = [t for row in rows for t in row["prompt_tokens"]]
    lines = [
        f"{args.prompts} compact-template prompts of {min(tokens)}–{max(tokens)} tokens x "
        f"{len(ACTIONS)} BabyAI actions, {args.dtype} on {device}, {args.rounds} interleaved "
        f"rounds (median [range]); one forward per pair: {args.naive_batch_size} pair(s) per "
        f"pass; matmul ceiling (GFLOP/s): {ceiling_text}.",
        "",
        provenance.markdown(),
        "",
        model_table(rows),
        "",
        *verdict_lines(rows),
    ]
    if points:
        lines += [
            "",
            f"Scaling with the number of actions ({args.scaling_prompts} prompts, "
            f"{args.scaling_size} models, {args.scaling_rounds} interleaved rounds; "
            "plot: `scoring-actions.png`):",
            "",
            scaling_table(points),
            "",
            *growth_lines(points),
        ]
    markdown = "\n".join(lines)
    print(f"\n{markdown}")
    if args.out_dir:
        out = Path(args.out_dir)
        if points:
            plot_scaling(
                points,
                out / "scoring-actions.png",
                f"{args.scaling_prompts} prompts, {args.scaling_size}; {machine.describe()}",
            )
        data = {
            "args": {k: to_json(v) for k, v in vars(args).items()},
            "provenance": provenance.to_json(),
            "matmul_gflops": {str(k): v / 1e9 for k, v in ceilings.items()},
            "models": to_json(rows),
            "scaling": to_json(points),
            "headlines": headlines(args, rows),
        }
        print(f"wrote {H.write_report(out, 'scoring', markdown, data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
