"""The LLM policy: action scores as logits, a value head as the critic, one forward pass.

``policy(observations) -> (logits, values)`` is the PPO package's policy
contract (by shape, without importing it): ``logits`` is ``(batch, max_actions)``
float32 with ``-inf`` past each observation's admissible actions and ``values``
is ``(batch,)``. Logit ``j`` of observation ``i`` belongs to
``admissible_actions[j]`` of that observation.

With ``head="scoring"`` (GLAM) the logits are the normalised log-likelihoods of
the actions' texts given the prompt; with ``head="action_heads"`` (NPAE) they
come from an MLP over the LM's hidden state, one output per action of a fixed
list, matched to the admissible actions by name, else by position for renamed
actions (:class:`~glam_policy.heads.ActionHead`). The value head reads the same
hidden state in both cases.

Precision (:mod:`glam_policy.precision`): the LM's weights are stored in the
resolved storage dtype and its forward passes run under the resolved autocast;
the heads hold float32 weights and run outside any autocast on
``hidden.float()``, so ``logits`` and ``values`` are float32 whatever the LM's
precision.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from glam_policy.config import LLMPolicyConfig
from glam_policy.encoding import EncodedBatch, PolicyEncoder
from glam_policy.finetuning import apply_finetuning
from glam_policy.heads import ActionHead, ValueHead
from glam_policy.inputs import PolicyInput
from glam_policy.loading import (
    LoadedModel,
    hard_position_limit,
    load_language_model,
    resolve_device,
)
from glam_policy.precision import Precision, dtype_name, precision_warnings, resolve_precision
from glam_policy.scoring import ActionScorer, Architecture, ScoringResult, unwrap_model

logger = logging.getLogger(__name__)

Observation = PolicyInput | Mapping[str, Any]
NORMALIZATIONS = ("sum", "token", "word", "probability_ratio")
#: ``probability_ratio``: below this largest action probability the paper's code
#: played uniformly (float32 products of token probabilities underflow there).
PROBABILITY_RATIO_FLOOR = math.log(1e-45)


def _hidden_size(model: PreTrainedModel) -> int:
    config = model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    size = getattr(text_config, "hidden_size", None)
    if isinstance(size, int) and size > 0:
        return size
    return int(model.get_input_embeddings().embedding_dim)


def _special_ids(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, architecture: Architecture
) -> tuple[int, int | None]:
    """Padding id (any valid id: pads are masked) and the decoder start id."""
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    start = None
    if architecture == "encoder-decoder":
        start = getattr(model.config, "decoder_start_token_id", None)
        if start is None:
            start = getattr(model.generation_config, "decoder_start_token_id", None)
        if start is None:
            raise ValueError(
                f"encoder-decoder model {model.config.name_or_path!r} has no decoder_start_token_id"
            )
    return int(pad), start


def probability_ratio_logits(logprobs: torch.Tensor) -> torch.Tensor:
    """The logits of the paper's code: each action's probability over the largest one.

    The GLAM paper describes its policy as the softmax of the actions' log-likelihoods
    (``normalization: sum``). The code it ran (February 2023, Lamorel's first
    release) scored each action by its sequence *probability* p and played
    ``softmax(p / max p)``, uniformly when ``max p < 1e-45``. Since
    ``p / max p = exp(log p - max log p)``, the logits are computed here in log
    space, exactly. They lie in (0, 1]: the most likely action is at most e times
    as likely as any other, a far flatter policy than the softmax of log-likelihoods.
    Padding (``-inf``) stays ``-inf``.
    """
    finite = torch.isfinite(logprobs)
    best = logprobs.masked_fill(~finite, float("-inf")).amax(dim=1, keepdim=True)
    ratios = torch.exp(logprobs - best.clamp(min=PROBABILITY_RATIO_FLOOR))
    ratios = torch.where(best < PROBABILITY_RATIO_FLOOR, torch.ones_like(ratios), ratios)
    return ratios.masked_fill(~finite, float("-inf"))


class LLMPolicy(nn.Module):
    """A Hugging Face language model as an actor-critic policy over text actions.

    Build with :meth:`from_config`, or :meth:`from_pretrained` for a saved policy or a model.
    The policy starts in eval mode; PPO switches it with ``train()``.
    """

    def __init__(
        self,
        config: LLMPolicyConfig,
        loaded: LoadedModel,
        *,
        adapter_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.architecture: Architecture = loaded.architecture
        self.tokenizer = loaded.tokenizer
        hf_model = loaded.model
        device = resolve_device(config.device)
        self.precision: Precision = resolve_precision(config, device)
        lm_dtype = next(hf_model.parameters()).dtype
        if lm_dtype != self.precision.storage_dtype:
            logger.warning(
                "the language model's weights are %s but the config resolves to %s",
                dtype_name(lm_dtype),
                dtype_name(self.precision.storage_dtype),
            )
        self.lm = apply_finetuning(hf_model, config, adapter_dir=adapter_dir)
        hidden_size = _hidden_size(hf_model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.value_head = ValueHead(
                hidden_size, config.value_hidden_sizes, config.value_activation
            )
            self.action_head: ActionHead | None = (
                ActionHead(
                    hidden_size,
                    config.actions or (),
                    config.action_head_hidden_sizes,
                    config.value_activation,
                )
                if config.head == "action_heads"
                else None
            )
        self.value_head.to(device)
        if self.action_head is not None:
            self.action_head.to(device)
        pad_id, start_id = _special_ids(hf_model, self.tokenizer, self.architecture)
        self.scorer = ActionScorer(
            self.lm,
            self.architecture,
            pad_token_id=pad_id,
            decoder_start_token_id=start_id,
            strategy=config.scoring,
            token_budget=config.token_budget,
            autocast_dtype=self.precision.autocast_dtype,
        )
        # Prompts are cut only where the positions really end (GPT-2's table), never
        # at T5's nominal 512: the paper scored its longer prompts whole.
        self.encoder = PolicyEncoder(
            self.tokenizer,
            config.template,
            self.architecture,
            append_eos=config.append_eos,
            action_prefix=config.action_prefix,
            max_prompt_tokens=config.max_prompt_tokens,
            position_limit=hard_position_limit(hf_model),
        )
        if config.finetuning == "frozen" and config.head == "scoring":
            logger.warning(
                "frozen LM with the scoring head: the policy's logits cannot change, "
                "only the value head trains"
            )
        for note in precision_warnings(config, self.precision):
            logger.warning("%s", note)
        self.eval()
        logger.info(
            "LLM policy: %s, %s head, %s fine-tuning, %s scoring, on %s with %s",
            self.architecture,
            config.head,
            config.finetuning,
            self.scorer.strategy,
            device,
            self.precision.describe(),
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(cls, config: LLMPolicyConfig | Mapping[str, Any] | str | Path) -> LLMPolicy:
        """Load the model named by ``config`` (a config, a mapping, or a JSON/YAML path)."""
        if isinstance(config, str | Path):
            config = LLMPolicyConfig.from_file(config)
        elif not isinstance(config, LLMPolicyConfig):
            config = LLMPolicyConfig.from_dict(config)
        return cls(config, load_language_model(config))

    @classmethod
    def from_pretrained(cls, directory: str | Path, **overrides: Any) -> LLMPolicy:
        """Load a policy written by :meth:`save_pretrained`, or build one from a model.

        ``directory`` is a saved policy (it has ``policy_config.json``), or a
        language model: a Hugging Face model directory or a hub name
        (``"google/flan-t5-small"``), from which a new policy is built with the
        default config, as ``from_config({"model": directory, **overrides})`` would:
        the value head is new, and only the LM comes from the model.
        ``overrides`` replace config fields (e.g. ``device="cpu"`` for a policy saved
        with ``device="cuda"``, ``dtype="bf16"``, ``autocast="off"``,
        ``token_budget=4096``); precision is resolved again for the new device.
        ``trust_remote_code=True`` is the only way to let the model run code of
        its own: a saved config that asks for it is refused
        (:class:`~glam_policy.errors.RemoteCodeError`, naming the file).
        A folder that is neither raises ``FileNotFoundError`` naming what is missing.
        """
        from glam_policy.serialization import CONFIG_FILE, load_policy

        path = Path(directory).expanduser()
        if (path / CONFIG_FILE).is_file():
            return load_policy(cls, path, **overrides)
        if path.is_dir() and not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{path} is not a saved policy ({CONFIG_FILE} is missing) nor a Hugging Face "
                "model directory (config.json is missing)"
            )
        if "model" in overrides:
            raise TypeError(
                f"from_pretrained({str(directory)!r}) names the model already; drop model= "
                "or use LLMPolicy.from_config"
            )
        logger.info("%s is a language model, not a saved policy: building a new policy", directory)
        return cls.from_config(LLMPolicyConfig.from_dict({"model": str(directory), **overrides}))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the LM and tokenizer (HF format), LoRA adapters, heads and config; atomically."""
        from glam_policy.serialization import save_policy

        return save_policy(self, directory)

    # ------------------------------------------------------------------ properties

    @property
    def hf_model(self) -> PreTrainedModel:
        """The Hugging Face model (under the ``peft`` wrapper for LoRA)."""
        return unwrap_model(self.lm)  # type: ignore[return-value]

    @property
    def device(self) -> torch.device:
        return next(self.value_head.parameters()).device

    def head_modules(self) -> list[nn.Module]:
        """The value head and, for NPAE, the action head."""
        return [m for m in (self.value_head, self.action_head) if m is not None]

    def lm_parameters(self) -> list[nn.Parameter]:
        """The language model's trainable parameters (all, none, or the LoRA adapters)."""
        return [p for p in self.lm.parameters() if p.requires_grad]

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for m in self.head_modules() for p in m.parameters() if p.requires_grad]

    def param_groups(self, lm_lr: float, head_lr: float | None = None) -> list[dict[str, Any]]:
        """Optimizer parameter groups: the LM's trainable weights and the heads.

        ``head_lr`` defaults to ``lm_lr``; empty groups (a frozen LM) are left out.
        """
        head_lr = lm_lr if head_lr is None else head_lr
        groups = [
            {"name": "lm", "params": self.lm_parameters(), "lr": lm_lr},
            {"name": "heads", "params": self.head_parameters(), "lr": head_lr},
        ]
        return [g for g in groups if g["params"]]

    # ------------------------------------------------------------------ computation

    def _lm_context(self) -> contextlib.AbstractContextManager[Any]:
        """No autograd graph through an LM that has nothing to train."""
        if self.config.finetuning == "frozen":
            return torch.no_grad()
        return contextlib.nullcontext()

    def _run(self, encoded: EncodedBatch) -> ScoringResult:
        with self._lm_context():
            return self.scorer(encoded.prompt_ids, encoded.action_ids)

    def _normalize(
        self, logprobs: torch.Tensor, encoded: EncodedBatch, normalization: str
    ) -> torch.Tensor:
        if normalization == "sum":
            return logprobs
        if normalization == "probability_ratio":
            return probability_ratio_logits(logprobs)
        if normalization == "token":
            counts = [[len(a) for a in acts] for acts in encoded.action_ids]
        elif normalization == "word":
            counts = encoded.word_counts
        else:
            raise ValueError(
                f"unknown normalization {normalization!r}; allowed: {', '.join(NORMALIZATIONS)}"
            )
        width = logprobs.shape[1]
        padded = [row + [1] * (width - len(row)) for row in counts]
        return logprobs / torch.tensor(padded, dtype=logprobs.dtype, device=logprobs.device)

    def _float32(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast off, even inside a caller's: the heads compute in float32 always."""
        return torch.autocast(device_type=self.device.type, enabled=False)

    def _values(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.float()
        with self._float32():
            return self.value_head(hidden.detach() if self.config.detach_value else hidden)

    def forward(self, observations: Sequence[Observation]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (batch, max_actions), values (batch,))`` for a batch of observations.

        Observations are :class:`~glam_policy.inputs.PolicyInput` or text-game
        observation mappings (``mission``, ``observation`` or
        ``observation_history``, ``action_history``, ``admissible_actions``).
        """
        if self.action_head is not None:
            encoded = self.encoder.encode(observations, with_actions=False)
            result = self._run(encoded)
            with self._float32():
                head_logits = self.action_head(result.hidden.float())
            logits = self.action_head.select(
                head_logits, [item.admissible_actions for item in encoded.inputs]
            )
        else:
            encoded = self.encoder.encode(observations)
            result = self._run(encoded)
            logits = self._normalize(result.logprobs, encoded, self.config.normalization)
        return logits, self._values(result.hidden)

    def predict_values(self, observations: Sequence[Observation]) -> torch.Tensor:
        """Values ``(batch,)`` alone: the prompts only, no action tokens."""
        encoded = self.encoder.encode(observations, with_actions=False)
        return self._values(self._run(encoded).hidden)

    def score(
        self, observations: Sequence[Observation], normalization: str | None = None
    ) -> list[torch.Tensor]:
        """Per observation, the 1-D tensor of its admissible actions' logits.

        With the scoring head these are the action log-likelihoods under
        ``normalization`` (default: the config's); with action heads, the heads'
        logits.
        """
        if self.action_head is not None:
            if normalization is not None:
                raise ValueError("normalization applies to the scoring head only")
            logits, _ = self.forward(observations)
            counts = [len(PolicyInput.from_any(o).admissible_actions) for o in observations]
        else:
            encoded = self.encoder.encode(observations)
            result = self._run(encoded)
            logits = self._normalize(
                result.logprobs, encoded, normalization or self.config.normalization
            )
            counts = [len(acts) for acts in encoded.action_ids]
        return [logits[i, :n] for i, n in enumerate(counts)]
