"""Which submodules of a language model to shard as FSDP2 units.

FSDP2 (``torch.distributed.fsdp.fully_shard``) gathers one unit's parameters at a
time: the natural unit of a transformer is its repeated block, the largest piece
that is computed in one go and that Hugging Face itself never splits across
devices. Every ``PreTrainedModel`` names those classes in ``_no_split_modules``
(``GPT2Block``, ``T5Block``, ``LlamaDecoderLayer``...), so the blocks are found
from the model's own declaration instead of a table of architectures here.

The sharding itself belongs to the trainer (``glam_ppo.sharding.shard_policy``);
this module only knows about language models. Typical use (in the apps layer)::

    shard_policy(policy, transformer_blocks(policy))
"""

from __future__ import annotations

import logging

from torch import nn

logger = logging.getLogger(__name__)


def no_split_class_names(model: nn.Module) -> set[str]:
    """The class names declared in ``_no_split_modules`` by any module inside ``model``.

    The whole module tree is searched, so a ``peft`` wrapper (LoRA), an
    :class:`~glam_policy.LLMPolicy` or any module holding a Hugging Face model works.
    """
    names: set[str] = set()
    for module in model.modules():
        declared = getattr(module, "_no_split_modules", None)
        if declared:
            names.update(str(name) for name in declared)
    return names


def transformer_blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated transformer blocks inside ``model``, in module order.

    Blocks are the modules whose class (or a base class: FSDP2 renames the classes
    of the modules it shards) is named in a Hugging Face model's
    ``_no_split_modules``; a block nested in another is not listed twice. Embeddings,
    final norms, output layers and policy heads are left to the FSDP root.

    Raises:
        ValueError: ``model`` holds no Hugging Face model that declares its blocks.
    """
    names = no_split_class_names(model)
    if not names:
        raise ValueError(
            f"no module inside {type(model).__name__} declares _no_split_modules "
            "(not a Hugging Face model?): pass the modules to shard explicitly"
        )
    blocks: list[nn.Module] = []
    prefixes: list[str] = []
    for name, module in model.named_modules():
        if not any(cls.__name__ in names for cls in type(module).__mro__):
            continue
        if any(name.startswith(prefix + ".") for prefix in prefixes):
            continue
        blocks.append(module)
        prefixes.append(name)
    if not blocks:
        raise ValueError(
            f"{type(model).__name__} declares {sorted(names)} as its blocks but has none"
        )
    logger.debug("%d transformer blocks (%s)", len(blocks), ", ".join(sorted(names)))
    return blocks
