"""The policy's configuration: one validated pydantic model, loadable from JSON/YAML.

Every field has a default that works except ``model`` (a hub name or a local
directory). Invalid values raise ``pydantic.ValidationError`` naming the field
and what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glam_policy.errors import RemoteCodeError
from glam_policy.prompts import TEMPLATES, PromptTemplate

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
Autocast = Literal["auto", "off", "bfloat16", "float16"]
DTYPE_ALIASES: dict[str, str] = {
    "auto": "auto",
    "fp32": "float32",
    "float": "float32",
    "float32": "float32",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
}
AUTOCAST_ALIASES: dict[str, str] = {
    "auto": "auto",
    "off": "off",
    "none": "off",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
}
#: What a device may be, for error messages.
DEVICE_FORMS = "'auto', 'cpu', 'cuda', 'cuda:N' (e.g. 'cuda:0') or 'mps'"
Activation = Literal["sigmoid", "relu", "tanh", "gelu"]


class LoraSettings(BaseModel):
    """LoRA adapter parameters, passed to ``peft.LoraConfig``.

    ``target_modules=None`` lets ``peft`` pick its default for the architecture
    (GPT-2: ``c_attn``; T5: ``q``, ``v``).
    """

    model_config = ConfigDict(extra="forbid")

    r: int = Field(8, gt=0)
    alpha: float = Field(16.0, gt=0)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None
    bias: Literal["none", "all", "lora_only"] = "none"


def validate_device(value: str) -> str:
    """``value`` if it names a torch device (or is ``"auto"``), else a ``ValueError`` saying why.

    Only the form is checked here, not whether this machine has the device: a
    config written for a GPU machine must stay readable on a laptop.
    """
    if value == "auto":
        return value
    try:
        import torch

        torch.device(value)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"unknown device {value!r}; use {DEVICE_FORMS}") from None
    return value


class LLMPolicyConfig(BaseModel):
    """Everything that defines an :class:`~glam_policy.policy.LLMPolicy`.

    Model
        ``model`` hub name or local directory; ``architecture`` ``"auto"`` reads
        ``is_encoder_decoder`` from the model's config; ``pretrained=False`` builds
        the architecture with random weights (the paper's NPAE baseline), keeping
        the pretrained input embeddings with ``keep_pretrained_embeddings``.
    Device and precision (see :mod:`glam_policy.precision`)
        ``device`` ``"auto"`` is the current CUDA device when there is one, else
        the CPU; it is resolved when the policy is built, so a policy saved on a
        GPU machine with ``"auto"`` loads on a CPU-only one. ``dtype`` is the
        storage dtype of the LM's weights: ``"auto"`` keeps weights that train in
        float32 (a bfloat16 weight cannot take lr-1e-6 steps) and stores an LM
        whose base weights do not train (``frozen``, ``lora`` with bias
        ``none``) in bfloat16 on a CUDA device with native bfloat16, float32
        elsewhere. ``autocast`` runs the LM's forward passes under
        ``torch.autocast``: ``"auto"`` is bfloat16 on such a CUDA device and
        ``"off"`` elsewhere, where scores stay exact; ``"bfloat16"`` works on the
        CPU too. Heads are always float32, and so are the policy's outputs.
        Explicit values always win.
    Scoring
        ``template`` a named prompt template (``paper``, ``i_would_like``,
        ``you_have_to``, ``french``: the reference code's text character for
        character; ``compact`` and its ``compact_*`` variants: the same words one
        part per line, what glam's offline runs use) or a custom one;
        ``normalization``: ``sum`` of token log-probabilities (the paper's text), ``token`` (mean
        per token), ``word`` (per word of the action text, TWOSOME) or ``probability_ratio`` (what
        the paper's code played: each action's probability divided by the largest, see
        ``glam_policy.policy.probability_ratio_logits``); ``append_eos`` scores the end-of-sequence
        token after each action too (off by default, for both families alike: the score is that of
        the action's own tokens; the paper's Lamorel tokenized each candidate with the tokenizer's
        special tokens, which for Flan-T5 appends ``</s>``, and scored it: the packaged ``paper``
        config turns it on). Prompts always get the tokenizer's special tokens, as in the paper (T5:
        a trailing ``</s>``).
        ``action_prefix`` is put before each action's text before tokenizing it
        (``None``: nothing for encoder-decoder models, whose decoder starts a new
        sequence, nor for decoder-only models when the template's prompts end with
        whitespace, as the paper's ``"Action 2: "`` does, so that the scored text
        has one space; a space for decoder-only models otherwise, as after the
        compact template's ``"Action 2:"``); ``max_prompt_tokens`` caps prompts
        (default: no cap but the model's position table, if it has one: GPT-2's
        ``n_positions``; none for T5's relative positions, which take any length,
        as in the paper), longer ones are cut from the left with a warning;
        ``token_budget`` bounds the padded tokens of one forward pass; ``scoring``
        picks the strategy (``auto``, ``packed``, ``expanded``, ``naive``; see
        :mod:`glam_policy.scoring`).
    Heads
        ``head="scoring"`` (the LLM's likelihoods are the logits) or
        ``"action_heads"`` (an MLP with one logit per entry of ``actions``, NPAE);
        value head ``value_hidden_sizes`` / ``value_activation`` (default: the
        paper's two hidden layers of 1024 with sigmoids; the action head uses the
        same activation); ``detach_value`` stops the critic's gradient from
        reaching the LM.
    Remote code
        ``trust_remote_code`` lets transformers import Python files shipped with
        the model (an ``auto_map`` in its ``config.json``). It is the caller's
        decision for one call: set it in Python, or pass it to
        :meth:`from_file` / ``LLMPolicy.from_pretrained``; a file that says
        ``true`` is refused, not obeyed (a saved policy or a config file is
        data that someone else may have written).
    Training
        ``finetuning``: ``full``, ``frozen`` (only heads train) or ``lora``
        (``lora`` settings); ``gradient_checkpointing``; ``disable_dropout`` zeroes
        the LM's dropout so that PPO's ratios start at exactly 1.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(min_length=1)
    architecture: Literal["auto", "decoder", "encoder-decoder"] = "auto"
    dtype: Dtype = "auto"
    autocast: Autocast = "auto"
    device: str = "auto"
    pretrained: bool = True
    keep_pretrained_embeddings: bool = False
    trust_remote_code: bool = False
    local_files_only: bool = False
    revision: str | None = None
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"
    seed: int = 0

    template: str | PromptTemplate = "paper"
    normalization: Literal["sum", "token", "word", "probability_ratio"] = "sum"
    append_eos: bool = False
    action_prefix: str | None = None
    max_prompt_tokens: int | None = Field(None, gt=0)
    token_budget: int = Field(8192, gt=0)
    scoring: Literal["auto", "packed", "expanded", "naive"] = "auto"

    head: Literal["scoring", "action_heads"] = "scoring"
    actions: list[str] | None = None
    action_head_hidden_sizes: list[int] = Field(default_factory=lambda: [1024, 1024])
    value_hidden_sizes: list[int] = Field(default_factory=lambda: [1024, 1024])
    value_activation: Activation = "sigmoid"
    detach_value: bool = False

    finetuning: Literal["full", "frozen", "lora"] = "full"
    lora: LoraSettings = Field(default_factory=LoraSettings)
    gradient_checkpointing: bool = False
    disable_dropout: bool = True

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype_alias(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() in DTYPE_ALIASES:
            return DTYPE_ALIASES[value.lower()]
        if isinstance(value, str):
            raise ValueError(
                f"unknown dtype {value!r}; allowed: {', '.join(sorted(DTYPE_ALIASES))}"
            )
        return value

    @field_validator("autocast", mode="before")
    @classmethod
    def _autocast_alias(cls, value: Any) -> Any:
        if value is False:  # YAML reads a bare ``off`` (or ``no``) as false
            return "off"
        if isinstance(value, str) and value.lower() in AUTOCAST_ALIASES:
            return AUTOCAST_ALIASES[value.lower()]
        raise ValueError(
            f"unknown autocast {value!r}; allowed: auto, off, bfloat16 (bf16), float16 (fp16)"
        )

    @field_validator("device")
    @classmethod
    def _device_valid(cls, value: str) -> str:
        return validate_device(value)

    @field_validator("template", mode="before")
    @classmethod
    def _template_known(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in TEMPLATES:
            raise ValueError(
                f"unknown prompt template {value!r}; named templates: {', '.join(TEMPLATES)} "
                "(or give a mapping of PromptTemplate fields)"
            )
        if isinstance(value, Mapping):
            return PromptTemplate.model_validate(dict(value))
        return value

    @field_validator("value_hidden_sizes", "action_head_hidden_sizes")
    @classmethod
    def _positive_sizes(cls, value: list[int]) -> list[int]:
        if any(size < 1 for size in value):
            raise ValueError(f"hidden sizes must be positive integers, got {value}")
        return value

    @field_validator("actions")
    @classmethod
    def _actions_valid(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("actions must not be empty")
        if any(not isinstance(a, str) or not a.strip() for a in value):
            raise ValueError("actions must be non-blank strings")
        duplicates = sorted({a for a in value if value.count(a) > 1})
        if duplicates:
            raise ValueError(f"actions must be unique; repeated: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LLMPolicyConfig:
        if self.head == "action_heads" and not self.actions:
            raise ValueError(
                "head 'action_heads' needs the fixed action list: set 'actions' "
                "(e.g. the six BabyAI actions)"
            )
        if self.keep_pretrained_embeddings and self.pretrained:
            raise ValueError(
                "keep_pretrained_embeddings only applies with pretrained=False "
                "(random weights but pretrained embeddings)"
            )
        return self

    # ------------------------------------------------------------------ files

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LLMPolicyConfig:
        """Validate a plain mapping (e.g. a section of a run's config)."""
        return cls.model_validate(dict(data))

    @classmethod
    def from_file(cls, path: str | Path, *, trust_remote_code: bool = False) -> LLMPolicyConfig:
        """Read a ``.json``, ``.yaml`` or ``.yml`` file.

        The file's ``trust_remote_code`` is never obeyed: the result holds the
        argument's value, and a file saying ``true`` without the argument raises
        :class:`~glam_policy.errors.RemoteCodeError` naming the file (the file
        asked to run code; only the caller may allow it). A file that is not
        valid JSON/YAML (truncated, binary) raises a ``ValueError`` naming it.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise ValueError(f"config file {path} must end in .json, .yaml or .yml")
        try:
            text = path.read_text(encoding="utf-8")
            if suffix == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except UnicodeDecodeError:
            raise ValueError(f"config file {path} is not text (corrupt or not a config)") from None
        except ValueError as error:  # json.JSONDecodeError
            reason = " ".join(str(error).split())
            raise ValueError(f"config file {path} is not valid JSON: {reason}") from None
        except Exception as error:  # yaml.YAMLError
            reason = " ".join(str(error).split())
            raise ValueError(f"config file {path} is not valid YAML: {reason}") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"config file {path} must hold a mapping of fields")
        asked = data.get("trust_remote_code", False)
        if asked not in (False, None) and not trust_remote_code:  # "yes", 1: any true
            raise RemoteCodeError(str(path), f"'trust_remote_code': {asked!r}")
        return cls.from_dict({**data, "trust_remote_code": trust_remote_code})

    def to_json(self) -> str:
        """The config as indented JSON (what ``save_pretrained`` writes)."""
        return self.model_dump_json(indent=2)
