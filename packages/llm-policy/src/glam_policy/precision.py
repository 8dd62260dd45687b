"""Which dtype the LM's weights are stored in, and which dtype its forward passes run in.

Two separate choices, because they fail in different ways:

Storage (``dtype``)
    Weights that train must stay float32: a PPO step at the paper's learning
    rate (1e-6) changes a weight by about one part in a million, and bfloat16
    (8 bits of mantissa, a relative resolution of ~4e-3) rounds such an update
    to nothing. Weights that never train (``finetuning`` ``frozen``, or the base
    of a LoRA model whose adapters stay float32) lose nothing by being stored in
    bfloat16, and halve the memory.
Compute (``autocast``)
    The LM's forward passes may run under ``torch.autocast``: matrix products in
    bfloat16 from float32 master weights, several times faster on GPUs with
    bfloat16 tensor cores, at the price of scores that are no longer exact.

``"auto"`` for both picks the fast setting only where it is safe and available:
a CUDA device with native bfloat16 (Ampere or newer). Everywhere else (CPU,
older GPUs) the policy stays exact float32. The heads (value, action) always
hold float32 weights and run outside autocast on a float32 copy of the LM's
hidden state: they are small, and the value regression is sensitive to rounding.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from glam_policy.config import LLMPolicyConfig

logger = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass(frozen=True)
class Precision:
    """The resolved precision of an LM: weight storage dtype and forward autocast dtype.

    ``autocast_dtype=None`` means no autocast: the forward passes run in
    ``storage_dtype``.
    """

    storage_dtype: torch.dtype
    autocast_dtype: torch.dtype | None

    def describe(self) -> str:
        """A short phrase for logs, e.g. ``"float32 weights, bfloat16 autocast"``."""
        compute = (
            "no autocast"
            if self.autocast_dtype is None
            else f"{dtype_name(self.autocast_dtype)} autocast"
        )
        return f"{dtype_name(self.storage_dtype)} weights, {compute}"

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        """The context the LM's forward passes run in on ``device`` (a no-op without autocast)."""
        return autocast_context(device, self.autocast_dtype)

    @property
    def exact(self) -> bool:
        """Whether forward passes compute in float32 (scores match the float32 reference)."""
        return self.autocast_dtype is None and self.storage_dtype == torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")


def autocast_context(
    device: torch.device, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast(device.type, dtype)``, or a no-op when ``dtype`` is ``None``."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def cuda_bf16_supported() -> bool:
    """Whether the current CUDA device computes in bfloat16 natively (not emulated).

    ``torch.cuda.is_bf16_supported()`` alone also says yes on pre-Ampere GPUs
    (V100, T4) that emulate bfloat16 slowly; those are better off in float32.
    """
    try:
        return bool(
            torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
        )
    except (RuntimeError, AssertionError):  # a CUDA build without a usable driver
        return False


def base_weights_train(config: LLMPolicyConfig) -> bool:
    """Whether the optimizer updates any weight of the LM that LoRA adapters do not hold.

    ``full`` trains them all; ``lora`` with ``bias`` other than ``none`` trains the
    base model's biases too; ``frozen`` and plain LoRA train none.
    """
    if config.finetuning == "full":
        return True
    if config.finetuning == "lora":
        return config.lora.bias != "none"
    return False


def resolve_precision(config: LLMPolicyConfig, device: torch.device) -> Precision:
    """The storage and autocast dtypes of ``config``'s LM on ``device``.

    Storage: an explicit ``dtype`` wins; ``"auto"`` is bfloat16 only for an LM
    whose base weights do not train on a CUDA device with native bfloat16, else
    float32. Autocast: an explicit dtype or ``"off"`` wins; ``"auto"`` is bfloat16
    on a CUDA device with native bfloat16 (unless the weights are explicitly
    float16, which then compute as they are), else off.
    """
    fast = device.type == "cuda" and cuda_bf16_supported()
    if config.dtype != "auto":
        storage = DTYPES[config.dtype]
    elif fast and not base_weights_train(config):
        storage = torch.bfloat16
    else:
        storage = torch.float32
    if config.autocast == "off":
        autocast: torch.dtype | None = None
    elif config.autocast != "auto":
        autocast = DTYPES[config.autocast]
    elif fast and storage != torch.float16:
        autocast = torch.bfloat16
    else:
        autocast = None
    return Precision(storage_dtype=storage, autocast_dtype=autocast)


def precision_warnings(config: LLMPolicyConfig, precision: Precision) -> list[str]:
    """Settings that work but lose something a user may not expect (logged at policy build)."""
    notes: list[str] = []
    if precision.storage_dtype != torch.float32 and base_weights_train(config):
        notes.append(
            f"the LM's trained weights are stored in {dtype_name(precision.storage_dtype)}: "
            "updates smaller than its resolution (e.g. lr 1e-6 steps) are lost; "
            "use dtype 'float32' (or 'auto') and autocast for speed"
        )
    if precision.autocast_dtype == torch.float16 and config.finetuning != "frozen":
        notes.append(
            "float16 autocast while training the LM: small gradients may underflow "
            "without loss scaling; prefer autocast 'bfloat16'"
        )
    return notes
