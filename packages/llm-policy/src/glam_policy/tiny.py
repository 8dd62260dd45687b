"""Tiny language models that need no model hub.

Every test of this package (and of the apps) runs on models built here: a byte-level
BPE tokenizer trained in milliseconds on a small corpus, and a GPT-2 (decoder-only)
or T5 (encoder-decoder) architecture of a few named sizes with seeded random
weights. :func:`save_tiny_model` writes them in Hugging Face format, so that the
directory loads through ``AutoTokenizer`` / ``AutoModelForCausalLM`` /
``AutoModelForSeq2SeqLM.from_pretrained(directory)`` exactly like a hub model: the
policy code has a single loading path, and no test touches the network.

Byte-level BPE starts from the 256 byte symbols, so any string, including words
never seen in the corpus ("dax", "xolo") and accented French, encodes without an
unknown token; that is what the paper's generalisation tests (invented words,
French) need.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from glam_policy.quiet import quiet_transformers

logger = logging.getLogger(__name__)

ModelKind = Literal["decoder", "encoder-decoder"]
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)

PAD_TOKEN = "<pad>"
EOS_TOKEN = "</s>"
BOS_TOKEN = "<s>"
#: Special tokens in id order: pad is 0 (T5's decoder start token is its pad token).
SPECIAL_TOKENS: tuple[str, ...] = (PAD_TOKEN, EOS_TOKEN, BOS_TOKEN)

DEFAULT_VOCAB_SIZE = 1000
#: The tanh GELU of GPT-2 and Flan-T5, as one fused kernel: the hub configs' "gelu_new" is
#: the same function built from six elementwise ops, a third of a CPU forward pass.
_GELU = "gelu_pytorch_tanh"


@dataclass(frozen=True)
class TinyModelSpec:
    """Shape of one named tiny size, shared by both model kinds.

    The decoder-only model has ``decoder_layers`` GPT-2 blocks (feed-forward width
    4 x ``d_model``); the encoder-decoder model has ``encoder_decoder_layers`` T5
    blocks in each stack (gated-GELU feed-forward of width 2 x ``d_model``, as in
    Flan-T5). Both give about ``approx_non_embedding_params`` parameters outside
    the embeddings, so a size means the same compute for either kind.
    """

    name: str
    d_model: int
    num_heads: int
    decoder_layers: int
    encoder_decoder_layers: int
    approx_non_embedding_params: int


TINY_SIZES: dict[str, TinyModelSpec] = {
    spec.name: spec
    for spec in (
        TinyModelSpec("nano", d_model=64, num_heads=2, decoder_layers=2,
                      encoder_decoder_layers=1, approx_non_embedding_params=100_000),
        TinyModelSpec("micro", d_model=128, num_heads=4, decoder_layers=5,
                      encoder_decoder_layers=2, approx_non_embedding_params=1_000_000),
        TinyModelSpec("small", d_model=256, num_heads=4, decoder_layers=6,
                      encoder_decoder_layers=3, approx_non_embedding_params=5_000_000),
        TinyModelSpec("base25m", d_model=512, num_heads=8, decoder_layers=8,
                      encoder_decoder_layers=4, approx_non_embedding_params=25_000_000),
    )
}  # fmt: skip


def get_tiny_spec(size: str) -> TinyModelSpec:
    """The spec of a named size; a clear error listing the valid names otherwise."""
    try:
        return TINY_SIZES[size]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown tiny model size {size!r}; valid sizes: {', '.join(TINY_SIZES)}"
        ) from None


def _check_kind(kind: str) -> None:
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; valid kinds: {', '.join(MODEL_KINDS)}")


# --------------------------------------------------------------------------- tokenizer


def train_bpe_tokenizer(
    texts: Iterable[str],
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    *,
    min_frequency: int = 1,
    add_eos: bool = False,
    model_max_length: int = 512,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it for ``transformers``.

    Ids 0, 1, 2 are ``<pad>``, ``</s>``, ``<s>`` (pad, eos, bos). There is no unknown
    token: the 256 byte symbols are always in the vocabulary, so unseen words and
    any Unicode text encode. ``vocab_size`` is an upper bound: a small corpus stops
    merging earlier. With ``add_eos`` the tokenizer appends ``</s>`` to every encoded
    sequence (when ``add_special_tokens`` is on), as T5 tokenizers do; GPT-2-style
    tokenizers (the default) add nothing.
    """
    min_size = len(SPECIAL_TOKENS) + len(pre_tokenizers.ByteLevel.alphabet())
    if vocab_size < min_size:
        raise ValueError(
            f"vocab_size must be at least {min_size} (bytes + specials), got {vocab_size}"
        )
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    if model_max_length < 1:
        raise ValueError(f"model_max_length must be >= 1, got {model_max_length}")
    texts = [t for t in texts if isinstance(t, str) and t]
    if not texts:
        raise ValueError("texts must contain at least one non-empty string to train a tokenizer")

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    byte_level = processors.ByteLevel(trim_offsets=False)
    if add_eos:
        eos_id = backend.token_to_id(EOS_TOKEN)
        backend.post_processor = processors.Sequence(
            [
                byte_level,
                processors.TemplateProcessing(
                    single=f"$A {EOS_TOKEN}",
                    pair=f"$A {EOS_TOKEN} $B {EOS_TOKEN}",
                    special_tokens=[(EOS_TOKEN, eos_id)],
                ),
            ]
        )
    else:
        backend.post_processor = byte_level
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        bos_token=BOS_TOKEN,
        model_max_length=model_max_length,
    )
    logger.debug("trained byte-level BPE tokenizer: %d tokens", len(tokenizer))
    return tokenizer


# --------------------------------------------------------------------------- models


def build_tiny_model(
    kind: ModelKind,
    size: str,
    tokenizer: PreTrainedTokenizerBase,
    *,
    seed: int = 0,
    max_positions: int = 512,
) -> PreTrainedModel:
    """A randomly initialised GPT-2 (``"decoder"``) or T5 (``"encoder-decoder"``) model.

    The vocabulary and the pad/eos/bos ids come from ``tokenizer``; T5's decoder
    start token is its pad token, as in the hub's T5 models. Dropout is 0 so that
    training-mode and eval-mode outputs agree (tests compare them exactly). T5's
    output layer is initialised so that token logits have unit variance (a random
    model's action distribution starts near uniform, as GPT-2's does). The weights
    depend only on ``seed``; the global torch RNG is left untouched.
    ``max_positions`` is GPT-2's learned position table size (T5 uses relative
    positions and has no such limit; the tokenizer's ``model_max_length`` states it).
    """
    _check_kind(kind)
    spec = get_tiny_spec(size)
    if max_positions < 1:
        raise ValueError(f"max_positions must be >= 1, got {max_positions}")
    pad_id, eos_id, bos_id = _special_ids(tokenizer)
    vocab_size = len(tokenizer)
    if kind == "decoder":
        config = GPT2Config(
            vocab_size=vocab_size,
            n_positions=max_positions,
            n_embd=spec.d_model,
            n_layer=spec.decoder_layers,
            n_head=spec.num_heads,
            n_inner=4 * spec.d_model,
            activation_function=_GELU,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=bos_id,
            eos_token_id=eos_id,
            pad_token_id=pad_id,
        )
        model_class: type[PreTrainedModel] = GPT2LMHeadModel
    else:
        config = T5Config(
            vocab_size=vocab_size,
            d_model=spec.d_model,
            d_kv=spec.d_model // spec.num_heads,
            d_ff=2 * spec.d_model,
            num_layers=spec.encoder_decoder_layers,
            num_decoder_layers=spec.encoder_decoder_layers,
            num_heads=spec.num_heads,
            feed_forward_proj=f"gated-{_GELU}",
            dropout_rate=0.0,
            tie_word_embeddings=False,
            pad_token_id=pad_id,
            eos_token_id=eos_id,
            bos_token_id=bos_id,
            decoder_start_token_id=pad_id,
        )
        model_class = T5ForConditionalGeneration
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
        if kind == "encoder-decoder":
            # T5 initialises its untied output layer with std 1, which on a unit-scale
            # final hidden state gives token logits of std sqrt(d_model): a random tiny
            # model would then be near-deterministic over actions. std d_model**-0.5
            # gives unit-variance logits, near-uniform like the (tied) GPT-2 models.
            with torch.no_grad():
                model.lm_head.weight.normal_(0.0, spec.d_model**-0.5)
    model.eval()
    logger.debug(
        "built tiny %s model %r: %d non-embedding parameters",
        kind,
        size,
        count_non_embedding_parameters(model),
    )
    return model


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int, int]:
    ids = (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id)
    names = ("pad", "eos", "bos")
    missing = [name for name, value in zip(names, ids, strict=True) if value is None]
    if missing:
        raise ValueError(f"the tokenizer needs {', '.join(missing)} token(s) set")
    return ids  # type: ignore[return-value]


def count_non_embedding_parameters(model: torch.nn.Module) -> int:
    """Parameters outside the token/position embeddings and an untied output layer.

    This is the ``N`` of the usual ``2 N`` forward FLOPs per token estimate.
    """
    excluded: set[int] = set()
    if isinstance(model, PreTrainedModel):
        for layer in (model.get_input_embeddings(), model.get_output_embeddings()):
            if layer is not None:
                excluded.update(id(p) for p in layer.parameters())
    for name, module in model.named_modules():
        if name.endswith("wpe") and isinstance(module, torch.nn.Embedding):
            excluded.update(id(p) for p in module.parameters())
    seen: set[int] = set()
    total = 0
    for param in model.parameters():
        if id(param) in seen or id(param) in excluded:
            continue
        seen.add(id(param))
        total += param.numel()
    return total


def save_tiny_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, directory: str | Path
) -> Path:
    """Write model (safetensors) and tokenizer in Hugging Face format; return the path.

    The directory then loads through the ``Auto*`` classes like a hub checkpoint.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():  # no progress bar from a library
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    logger.info("saved tiny model to %s", path)
    return path


def make_tiny_model_dir(
    directory: str | Path,
    *,
    kind: ModelKind,
    size: str = "nano",
    corpus: Iterable[str] | None = None,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    seed: int = 0,
    max_positions: int = 512,
) -> Path:
    """Train a tokenizer, build a model and save both to ``directory``, in one call.

    ``corpus`` defaults to :func:`default_corpus` (BabyAI-like English and French
    sentences). An encoder-decoder's tokenizer appends ``</s>`` like T5's hub
    tokenizers; a decoder's adds nothing, like GPT-2's.
    """
    _check_kind(kind)
    get_tiny_spec(size)
    texts = list(default_corpus(seed=seed) if corpus is None else corpus)
    tokenizer = train_bpe_tokenizer(
        texts,
        vocab_size,
        add_eos=kind == "encoder-decoder",
        model_max_length=max_positions,
    )
    model = build_tiny_model(kind, size, tokenizer, seed=seed, max_positions=max_positions)
    return save_tiny_model(model, tokenizer, directory)


# --------------------------------------------------------------------------- corpus

_COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
_TYPES = ("key", "ball", "box")
_ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
_COLORS_FR = ("rouge", "verte", "bleue", "violette", "jaune", "grise")
_TYPES_FR = ("clef", "balle", "boîte")
_ACTIONS_FR = (
    "tourner à gauche",
    "tourner à droite",
    "aller tout droit",
    "attraper",
    "lâcher",
    "basculer",
)
_DIRS_FR = ("devant", "à gauche", "à droite")


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def _english_sentence(rng: random.Random) -> str:
    color, kind = rng.choice(_COLORS), rng.choice(_TYPES)
    choice = rng.randrange(6)
    if choice == 0:
        return (
            f"You see a wall {_steps(rng.randint(1, 6))} {rng.choice(('forward', 'left', 'right'))}"
        )
    if choice == 1:
        return (
            f"You see a {color} {kind} {_steps(rng.randint(1, 3))} "
            f"{rng.choice(('left', 'right'))} and {_steps(rng.randint(1, 6))} forward"
        )
    if choice == 2:
        state = rng.choice(("an open", "a closed", "a locked"))
        return f"You see {state} {color} door {_steps(rng.randint(1, 6))} forward"
    if choice == 3:
        return f"You carry a {color} {kind}"
    if choice == 4:
        other = f"{rng.choice(_COLORS)} {rng.choice(_TYPES)}"
        return rng.choice(
            (
                f"Goal of the agent: go to the {color} {kind}",
                f"I would like the agent to pick up a {color} {kind}",
                f"You have to put the {color} {kind} next to the {other}",
                f"pick up the {color} {kind}, then go to a {other}",
                f"go to the {other} after you pick up the {color} {kind}",
                f"open the {color} door",
            )
        )
    return f"Possible action of the agent: {', '.join(_ACTIONS)}"


def _french_sentence(rng: random.Random) -> str:
    color, kind = rng.choice(_COLORS_FR), rng.choice(_TYPES_FR)
    choice = rng.randrange(4)
    if choice == 0:
        return f"Tu vois un mur à {rng.randint(1, 6)} pas {rng.choice(_DIRS_FR)}"
    if choice == 1:
        return (
            f"Tu vois une {kind} {color} {rng.randint(1, 3)} pas "
            f"{rng.choice(_DIRS_FR[1:])} et {rng.randint(1, 6)} pas devant"
        )
    if choice == 2:
        return f"Tu portes une {kind} {color}"
    return f"Actions possibles de l'agent: {', '.join(_ACTIONS_FR)}"


def default_corpus(n_sentences: int = 400, *, seed: int = 0) -> list[str]:
    """BabyAI-Text-like English and French sentences, generated without the env package.

    Three sentences in four are English. Deterministic for a given ``seed``.
    """
    if n_sentences < 1:
        raise ValueError(f"n_sentences must be >= 1, got {n_sentences}")
    rng = random.Random(seed)
    return list(_sentences(rng, n_sentences))


def _sentences(rng: random.Random, n: int) -> Iterator[str]:
    for _ in range(n):
        yield _french_sentence(rng) if rng.random() < 0.25 else _english_sentence(rng)
