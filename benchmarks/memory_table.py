"""Estimated GPU memory of PPO fine-tuning per model, from parameter counts and shapes.

Prints two Markdown tables (used in docs/scaling.md); nothing is measured here, every
figure is computed from the shapes below with the formulas of this docstring.

Parameter counts are computed from the architectures' shapes (the public configs of
google/flan-t5-{small,base,large,xl}, with their untied output layer, and of a
Llama-2-7B-shaped decoder), so that the table can be checked against the published
sizes (77M, 248M, 783M, 2.85B, 6.74B).

Model states (bytes per parameter, P parameters, K ranks):

* acting only (rollouts, evaluation), bf16 weights: 2 P;
* full fine-tuning (``finetuning: full``; ``dtype: auto`` keeps trained weights in
  float32): weights 4 + gradients 4 + Adam moments 8 = 16 P; under bf16 autocast the
  bf16 copies of the weights made during a forward add up to 2 P more (18 P);
* FSDP (``distributed.strategy: fsdp``): during the PPO update, weights, gradients and
  Adam states are sharded over K ranks: 16 P / K per GPU, plus the block being
  gathered; rollouts and evaluations run with every block's weights gathered
  (``glam_ppo.sharding.gathered``: a forward then needs no collective), so the full
  float32 weights must fit on one GPU next to the shards of the Adam states: 4 P +
  12 P / K (gradients are freed after each optimizer step). FSDP saves the
  gradients, the Adam states and the weights during the backward pass, not the
  weights during rollouts;
* LoRA (``finetuning: lora``, r, targets q and v, the peft default for T5 and Llama):
  frozen base weights stored in bf16 (``dtype: auto``): 2 P, plus the adapters
  (r x (d_in + d_out) per targeted matrix) at 16 bytes each.

The value head (``value_hidden_sizes`` 1024, 1024 of the paper) trains in float32 in
every case (16 bytes per parameter) and is included.

Activations kept for the backward pass of one PPO minibatch (or micro-batch: the
``ppo.micro_batch_size`` pieces are back-propagated one by one) grow linearly with the
number of transitions b in it and with the tokens of each transition: s prompt
tokens, t action tokens (the 6 actions' tokens, each after a start token, packed in
one decoder row). With e bytes per activation (2 under bf16 autocast, 4 in float32),
h = d_model, h' = heads x d_kv, f = d_ff, a = heads, V = vocabulary, per transition:

* T5 encoder layer: s (4h + 4h' + 4f) + 2 a s^2 elements (RMSNorm inputs and outputs,
  q/k/v and attention output, the gated-GELU's four f-wide tensors; attention
  probabilities stored as eager attention does, an upper bound: fused attention
  kernels keep no s^2 matrix);
* T5 decoder layer: t (6h + 6h' + 4f) + 2 s h' (cross-attention keys and values of the
  prompt) + 2 a t^2 + 2 a t s elements;
* decoder-only layer (prompt and actions in one packed row, n = s + t): n (4h + 2h' +
  2k' + 4f) + 2 a n^2 elements (k' = key/value heads x d_kv: the SwiGLU has the same
  four f-wide tensors);
* output layer: logits of the scored tokens, e + 4 bytes per logit (the float32
  log-softmax): t V for T5, n V for a decoder;
* with gradient checkpointing (``policy.gradient_checkpointing: true``): each layer's
  input only (s h per encoder layer, t h per T5 decoder layer plus the encoder output
  once, n h per decoder-only layer) plus one layer's full activations, recomputed
  during the backward pass.

Total for a GPU = model states + activations of one micro-batch + the CUDA context
and allocator slack (about 1-2 GiB, not in the tables).

    python benchmarks/memory_table.py                      # the paper's minibatch, 256 tokens
    python benchmarks/memory_table.py --prompt-tokens 512 --micro-batch 8
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class Arch:
    """The shape of a model, enough to count its parameters and activations."""

    name: str
    kind: str  # "t5" (encoder-decoder, T5 v1.1 / Flan-T5) or "decoder" (Llama-style)
    vocab: int
    d_model: int
    d_ff: int
    layers: int  # per stack for T5
    heads: int
    d_kv: int
    kv_heads: int | None = None  # decoder: grouped-query attention

    @property
    def inner(self) -> int:
        return self.heads * self.d_kv

    @property
    def kv_inner(self) -> int:
        return (self.kv_heads or self.heads) * self.d_kv


#: Public configs: google/flan-t5-* (T5 v1.1: gated-GELU, untied output layer) and
#: a Llama-2-7B-shaped decoder (SwiGLU, untied output layer).
MODELS: tuple[Arch, ...] = (
    Arch("Flan-T5 small", "t5", 32128, 512, 1024, 8, 6, 64),
    Arch("Flan-T5 base", "t5", 32128, 768, 2048, 12, 12, 64),
    Arch("Flan-T5 large (the paper's)", "t5", 32128, 1024, 2816, 24, 16, 64),
    Arch("Flan-T5 xl", "t5", 32128, 2048, 5120, 24, 32, 64),
    Arch("7B decoder (Llama-2-7B shape)", "decoder", 32000, 4096, 11008, 32, 32, 128),
)

RELATIVE_BUCKETS = 32  # T5's relative attention buckets (one bias table per stack)


def parameter_count(arch: Arch) -> int:
    """Parameters of the model, embeddings and untied output layer included."""
    h, f = arch.d_model, arch.d_ff
    embeddings = 2 * arch.vocab * h  # input embedding + untied output layer
    if arch.kind == "t5":
        attention = 4 * h * arch.inner
        feed_forward = 3 * h * f
        encoder = arch.layers * (attention + feed_forward + 2 * h)
        decoder = arch.layers * (2 * attention + feed_forward + 3 * h)
        biases = 2 * RELATIVE_BUCKETS * arch.heads
        return embeddings + encoder + decoder + biases + 2 * h
    attention = 2 * h * arch.inner + 2 * h * arch.kv_inner
    layer = attention + 3 * h * f + 2 * h
    return embeddings + arch.layers * layer + h


def lora_parameters(arch: Arch, rank: int) -> int:
    """LoRA adapters on the query and value projections of every attention block."""
    h = arch.d_model
    per_block = rank * (h + arch.inner) + rank * (h + arch.kv_inner)
    blocks = 3 * arch.layers if arch.kind == "t5" else arch.layers  # T5: 1 + 2 per layer
    return blocks * per_block


def value_head_parameters(arch: Arch, hidden: Sequence[int]) -> int:
    sizes = [arch.d_model, *hidden, 1]
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def activation_elements(arch: Arch, s: int, t: int) -> tuple[float, float, float]:
    """Per transition: (elements of all layers, elements with checkpointing, logits)."""
    h, hp, f, a = arch.d_model, arch.inner, arch.d_ff, arch.heads
    if arch.kind == "t5":
        enc = s * (4 * h + 4 * hp + 4 * f) + 2 * a * s * s
        dec = t * (6 * h + 6 * hp + 4 * f) + 2 * s * hp + 2 * a * t * t + 2 * a * t * s
        full = arch.layers * (enc + dec)
        checkpointed = arch.layers * (s * h + t * h) + s * h + max(enc, dec)
        logits = t * arch.vocab
    else:
        n = s + t
        layer = n * (4 * h + 2 * hp + 2 * arch.kv_inner + 4 * f) + 2 * a * n * n
        full = arch.layers * layer
        checkpointed = arch.layers * n * h + layer
        logits = n * arch.vocab
    return float(full), float(checkpointed), float(logits)


def activation_bytes(arch: Arch, s: int, t: int, e: int, checkpointing: bool) -> float:
    """Bytes of activations of one transition with e-byte activations."""
    full, checkpointed, logits = activation_elements(arch, s, t)
    return (checkpointed if checkpointing else full) * e + logits * (e + 4)


def _gib(value: float) -> str:
    return f"{value / GIB:.1f}" if value >= 0.1 * GIB else f"{value / GIB:.2f}"


def _params(value: int) -> str:
    if value >= 1e9:
        return f"{value / 1e9:.2f}B"
    return f"{value / 1e6:.0f}M" if value >= 1e7 else f"{value / 1e6:.2f}M"


def states_table(args: argparse.Namespace) -> list[str]:
    ranks = [int(k) for k in args.fsdp_ranks.split(",")]
    header = [
        "model",
        "parameters",
        "bf16 weights (acting only)",
        "full FT, fp32 (16 B/param)",
        "full FT + bf16 autocast copies (18 B/param)",
        *[f"FSDP full FT, K={k}, per GPU: rollout / update" for k in ranks],
        f"LoRA r={args.lora_r}: bf16 base + adapters",
        "LoRA adapters",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arch in MODELS:
        p = parameter_count(arch)
        head = value_head_parameters(arch, args.value_hidden) * 16
        adapters = lora_parameters(arch, args.lora_r)
        cells = [
            arch.name,
            _params(p),
            _gib(2 * p),
            _gib(16 * p + head),
            _gib(18 * p + head),
            *[f"{_gib(4 * p + 12 * p / k + head)} / {_gib(16 * p / k + head)}" for k in ranks],
            _gib(2 * p + 16 * adapters + head),
            _params(adapters),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def activations_table(args: argparse.Namespace) -> list[str]:
    s, t, b = args.prompt_tokens, args.action_tokens, args.micro_batch
    header = [
        "model",
        "per transition, bf16",
        f"micro-batch {b}, bf16 autocast",
        f"micro-batch {b}, fp32",
        f"micro-batch {b}, bf16 + gradient checkpointing",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arch in MODELS:
        one = activation_bytes(arch, s, t, 2, checkpointing=False)
        cells = [
            arch.name,
            f"{one / 1024**2:.0f} MiB",
            _gib(b * one),
            _gib(b * activation_bytes(arch, s, t, 4, checkpointing=False)),
            _gib(b * activation_bytes(arch, s, t, 2, checkpointing=True)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--prompt-tokens", type=int, default=256, help="s: prompt tokens")
    parser.add_argument(
        "--action-tokens",
        type=int,
        default=16,
        help="t: decoder tokens per transition (6 actions' tokens + 6 start tokens)",
    )
    parser.add_argument(
        "--micro-batch", type=int, default=64, help="transitions per backward (paper: 64)"
    )
    parser.add_argument("--fsdp-ranks", default="4,8", help="K values of the FSDP columns")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument(
        "--value-hidden",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[1024, 1024],
        help="value head hidden sizes (paper: 1024,1024)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print("Model states (GiB; activations not included):")
    print()
    print("\n".join(states_table(args)))
    print()
    print(
        f"Activations of one PPO backward pass (GiB; s = {args.prompt_tokens} prompt tokens, "
        f"t = {args.action_tokens} action tokens per transition):"
    )
    print()
    print("\n".join(activations_table(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
