"""Capturing and restoring random-number-generator states without pickles.

Tensor-valued states (torch's CPU and CUDA generators) go to safetensors; the
Python and NumPy states are lists of integers and go to JSON.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def global_rng_tensors() -> dict[str, torch.Tensor]:
    """The global torch generators' states (CPU, and each CUDA device if in use)."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{index}"] = state
    return tensors


def restore_global_rng_tensors(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = sorted(
        (int(name.rsplit("_", 1)[1]), state)
        for name, state in tensors.items()
        if name.startswith("torch_cuda_")
    )
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state for _, state in cuda])


def global_rng_json() -> dict[str, Any]:
    """Python's and NumPy's global generator states as JSON-ready values."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }


def restore_global_rng_json(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


@contextlib.contextmanager
def seeded_torch_rng(seed: int) -> Iterator[None]:
    """Run a block with torch's global generators seeded by ``seed``, then restore them.

    The policy may draw from torch's global generator (dropout, in the update). Seeding
    it per training phase makes those draws a function of the run's seed and the
    iteration only: whatever else the program does with the global generator between
    iterations (evaluations in callbacks, building models) cannot change training, and
    the caller's own random stream is left as it was.
    """
    devices: list[int] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
