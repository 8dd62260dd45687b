"""glam_policy: a Hugging Face language model as an RL policy and critic.

The policy scores each admissible action's text by its log-likelihood given a
prompt (goal, recent observations and actions), a softmax over the scores is the
policy, and an MLP on the model's hidden state is the critic. Start with
:class:`LLMPolicy` and :class:`LLMPolicyConfig`; the tiny offline models of
:mod:`glam_policy.tiny` make everything runnable without a model hub.
"""

from glam_policy.config import LLMPolicyConfig, LoraSettings, validate_device
from glam_policy.encoding import EncodedBatch, PolicyEncoder, parse_observations
from glam_policy.errors import (
    ModelLoadError,
    PolicyInputError,
    RemoteCodeError,
    SavedPolicyError,
)
from glam_policy.finetuning import apply_finetuning, disable_dropout
from glam_policy.heads import ActionHead, ValueHead, build_mlp
from glam_policy.inputs import PolicyInput
from glam_policy.loading import (
    LoadedModel,
    detect_architecture,
    hard_position_limit,
    has_relative_positions,
    load_language_model,
    position_limit,
)
from glam_policy.policy import LLMPolicy
from glam_policy.precision import Precision, resolve_precision
from glam_policy.prompts import (
    TEMPLATES,
    PromptTemplate,
    build_prompt,
    build_prompts,
    get_template,
    resolve_template,
    truncate_left,
)
from glam_policy.scoring import ActionScorer, ScoringResult, default_strategy, plan_chunks
from glam_policy.tiny import (
    TINY_SIZES,
    build_tiny_model,
    count_non_embedding_parameters,
    default_corpus,
    make_tiny_model_dir,
    save_tiny_model,
    train_bpe_tokenizer,
)

__version__ = "0.1.0"

__all__ = [
    "TEMPLATES",
    "TINY_SIZES",
    "ActionHead",
    "ActionScorer",
    "EncodedBatch",
    "LLMPolicy",
    "LLMPolicyConfig",
    "LoadedModel",
    "LoraSettings",
    "ModelLoadError",
    "PolicyEncoder",
    "PolicyInput",
    "PolicyInputError",
    "Precision",
    "PromptTemplate",
    "RemoteCodeError",
    "SavedPolicyError",
    "ScoringResult",
    "ValueHead",
    "__version__",
    "apply_finetuning",
    "build_mlp",
    "build_prompt",
    "build_prompts",
    "build_tiny_model",
    "count_non_embedding_parameters",
    "default_corpus",
    "default_strategy",
    "detect_architecture",
    "disable_dropout",
    "get_template",
    "hard_position_limit",
    "has_relative_positions",
    "load_language_model",
    "make_tiny_model_dir",
    "parse_observations",
    "plan_chunks",
    "position_limit",
    "resolve_precision",
    "resolve_template",
    "save_tiny_model",
    "train_bpe_tokenizer",
    "truncate_left",
    "validate_device",
]
