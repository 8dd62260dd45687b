"""A small network on disk: safetensors weights beside the JSON that rebuilds it.

The saved policies of glam's non-LLM agents (``glam_ppo.networks``' symbolic
network, ``glam_ppo.drrn``'s Q-network) are folders of two files: the weights and
a JSON document of constructor arguments (plus the caller's ``extra`` data, e.g.
the environment the policy plays). A file someone else made is data: loading it
builds the module from validated numbers, never from code, and any damage is a
:class:`~glam_ppo.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from glam_ppo.checkpoint import (
    load_module_tensors,
    load_tensors,
    module_tensors,
    read_json,
    save_tensors,
    write_json_atomic,
)
from glam_ppo.errors import CheckpointError

Module = TypeVar("Module", bound=torch.nn.Module)


def save_module(
    module: torch.nn.Module,
    directory: str | Path,
    names: tuple[str, str],
    arguments: dict[str, Any],
) -> Path:
    """Write ``module``'s weights and ``arguments`` as ``names = (weights, json)``."""
    weights_file, arguments_file = names
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    tensors, _ = module_tensors(module, trainable_only=False)
    save_tensors(target / weights_file, tensors)
    write_json_atomic(target / arguments_file, arguments)
    return target


def load_module(
    directory: str | Path,
    names: tuple[str, str],
    build: Callable[[dict[str, Any]], Module],
    weights_of: Callable[[Module], torch.nn.Module] = lambda module: module,
    what: str = "module",
) -> tuple[Module, dict[str, Any]]:
    """``build(arguments)``, then its weights (``weights_of`` picks the saved submodule).

    Returns the module and the arguments document. ``build`` may raise ``KeyError``,
    ``TypeError`` or ``ValueError`` on bad arguments: that is a ``CheckpointError``.
    """
    weights_file, arguments_file = names
    path = Path(directory)
    arguments = read_json(path / arguments_file)
    try:
        if not isinstance(arguments, dict):
            raise TypeError("not a JSON object")
        module = build(arguments)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(
            f"{path / arguments_file} does not describe a {what}: {error}"
        ) from error
    tensors = load_tensors(path / weights_file)
    try:
        load_module_tensors(weights_of(module), tensors, {}, trainable_only=False)
    except (CheckpointError, RuntimeError) as error:
        reason = f"{path / weights_file} does not fit its arguments: {error}"
        raise CheckpointError(reason) from error
    return module, arguments
