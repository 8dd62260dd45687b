"""Atomic checkpoints of the full training state: safetensors + JSON, never pickles.

Layout of one checkpoint (a directory ``<dir>/iteration_000042``)::

    model.safetensors        policy parameters and buffers (shared tensors stored once)
    optimizer.safetensors    optimizer state tensors (Adam moments, step counts)
    rank0.safetensors        torch RNG states and the action sampler of rank 0
    rank0.json               NumPy/Python RNGs, shuffling RNG, reward scaler of rank 0
    state.json               config, counters, optimizer groups and scalar state, model aliases

A checkpoint is written into ``<dir>/.tmp-iteration_000042`` and renamed when
complete (a rename is atomic), then ``<dir>/latest`` (a one-line text file,
itself replaced atomically) is pointed at it. A crash leaves at most a stray
temporary directory, never a half-written checkpoint under a real name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from glam_ppo.errors import CheckpointError

logger = logging.getLogger(__name__)

FORMAT = "glam_ppo.checkpoint/1"
LATEST = "latest"
PREFIX = "iteration_"


def _plain_mode(path: Path) -> None:
    """Give ``path`` the mode a plain ``open()`` would (mkstemp and safetensors use 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Some filesystems cannot fsync directories; the rename still holds.
    with contextlib.suppress(OSError):
        _fsync_file(path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file in the same directory, then rename.

    A kill at any moment leaves either the old file or the new one, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _plain_mode(Path(tmp))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, allow_nan=True))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """safetensors file of ``tensors`` (copied only where two would share memory)."""
    out: dict[str, torch.Tensor] = {}
    storages: set[int] = set()
    for name, tensor in tensors.items():
        tensor = tensor.detach().to("cpu")
        storage = tensor.untyped_storage().data_ptr()
        if storage in storages or not tensor.is_contiguous():
            tensor = tensor.contiguous().clone()
            storage = tensor.untyped_storage().data_ptr()
        storages.add(storage)
        out[name] = tensor
    save_file(out, str(path))
    _plain_mode(path)
    _fsync_file(path)


def _reason(error: BaseException) -> str:
    """``Type: message`` of a library error, on one short line."""
    return " ".join(f"{type(error).__name__}: {error}".split())[:300]


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; :class:`CheckpointError` naming it if unreadable.

    safetensors never unpickles: a truncated file, garbage or a pickle saved under
    a ``.safetensors`` name all fail here (``SafetensorError`` and friends), and
    the caller gets one error that says which file to restore.
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint file missing: {path}")
    try:
        return load_file(str(path))
    except Exception as error:  # SafetensorError, OSError, ... (never a pickle loader)
        raise CheckpointError(
            f"checkpoint file {path} is not a readable safetensors file "
            f"(truncated or corrupt?): {_reason(error)}"
        ) from error


# --- model -----------------------------------------------------------------------


def module_tensors(
    module: torch.nn.Module, trainable_only: bool
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state dict with each shared tensor once, and ``alias -> stored name``."""
    state = module.state_dict()
    if trainable_only:
        names = {name for name, p in module.named_parameters() if p.requires_grad}
        state = {k: v for k, v in state.items() if k in names}
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[Any, ...], str] = {}
    for name, tensor in state.items():
        key = (
            tensor.device,
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tuple(tensor.stride()),
            tensor.dtype,
        )
        if key in seen:
            aliases[name] = seen[key]
        else:
            seen[key] = name
            tensors[name] = tensor
    return tensors, aliases


def load_module_tensors(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    aliases: dict[str, str],
    trainable_only: bool,
) -> None:
    state = dict(tensors)
    for alias, name in aliases.items():
        state[alias] = tensors[name]
    result = module.load_state_dict(state, strict=not trainable_only)
    if trainable_only:
        trainable = {name for name, p in module.named_parameters() if p.requires_grad}
        missing_trainable = sorted(set(result.missing_keys) & trainable)
        if missing_trainable or result.unexpected_keys:
            raise CheckpointError(
                "checkpoint does not fit the policy: missing trainable "
                f"{missing_trainable[:5]}, unexpected {list(result.unexpected_keys)[:5]}"
            )


# --- optimizer -------------------------------------------------------------------


def _split_state(
    state: dict[Any, dict[str, Any]], param_id: dict[Any, int] | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, Any]]]:
    """Per-parameter optimizer state as ``"<id>.<name>"`` tensors and JSON scalars.

    ``param_id`` maps the state's keys to parameter ids (positions in the
    optimizer's groups, as ``Optimizer.state_dict`` numbers them); None: the keys
    are those ids already.
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for key, entries in state.items():
        index = key if param_id is None else param_id[key]
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, scalars


def _group_json(state_dict: dict[str, Any]) -> dict[str, Any]:
    """The JSON part of an optimizer state dict: groups (ids as params), ids with state."""
    groups = []
    for group in state_dict["param_groups"]:
        groups.append({k: list(v) if isinstance(v, tuple) else v for k, v in group.items()})
    return {"param_groups": groups, "state_ids": sorted(state_dict["state"])}


def optimizer_state(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors and JSON-ready values."""
    state_dict = optimizer.state_dict()
    tensors, scalars = _split_state(state_dict["state"])
    return tensors, {**_group_json(state_dict), "scalars": scalars}


def _saved_groups(optimizer: torch.optim.Optimizer, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The checkpoint's parameter groups, checked against the optimizer's, tuples restored."""
    current = optimizer.param_groups
    if len(current) != len(data["param_groups"]):
        raise CheckpointError(
            f"checkpoint has {len(data['param_groups'])} parameter groups, "
            f"the optimizer has {len(current)}"
        )
    groups = []
    for saved, live in zip(data["param_groups"], current, strict=True):
        # JSON turned tuples (Adam's betas) into lists; give them their type back.
        groups.append(
            {k: tuple(v) if isinstance(live.get(k), tuple) else v for k, v in saved.items()}
        )
    return groups


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], data: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in data["scalars"].items():
        state.setdefault(int(param_id), {}).update(entries)
    groups = _saved_groups(optimizer, data)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"optimizer state does not fit the optimizer: {error}") from error


# --- sharded (FSDP2) modules -------------------------------------------------------
#
# A sharded run writes the very files an unsharded run writes: full tensors under the
# unsharded names (FSDP2 keeps them), optimizer state keyed by parameter id. The
# functions below are collectives (every rank calls them); torch's distributed state
# dict gathers each tensor in turn to rank 0's CPU, and on loading rank 0 alone needs
# the files' tensors: it broadcasts them and every rank keeps its shard.


def _rank() -> int:
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _stored_names(
    module: torch.nn.Module, trainable_only: bool
) -> tuple[list[str], dict[str, str]]:
    """Names to store and ``alias -> stored name``, as :func:`module_tensors` finds them.

    A sharded module's tensors cannot be compared by storage (each rank holds a
    piece), so tied parameters are found by identity, which FSDP2 preserves.
    """
    live = module.state_dict(keep_vars=True)
    if trainable_only:
        trainable = {name for name, p in module.named_parameters() if p.requires_grad}
        live = {k: v for k, v in live.items() if k in trainable}
    names: list[str] = []
    aliases: dict[str, str] = {}
    first: dict[int, str] = {}
    for name, tensor in live.items():
        stored = first.setdefault(id(tensor), name)
        if stored == name:
            names.append(name)
        else:
            aliases[name] = stored
    return names, aliases


def full_module_tensors(
    module: torch.nn.Module, trainable_only: bool
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """:func:`module_tensors` of a sharded module: full CPU tensors on rank 0, ``{}`` elsewhere.

    A collective. The aliases are returned on every rank. With ``trainable_only``
    the frozen parameters are not even gathered (LoRA: the adapters alone).
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(
        full_state_dict=True, cpu_offload=True, ignore_frozen_params=trainable_only
    )
    state = get_model_state_dict(module, options=options)
    names, aliases = _stored_names(module, trainable_only)
    tensors = {name: state[name] for name in names} if state else {}
    return tensors, aliases


def check_module_tensors(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    aliases: dict[str, str],
    trainable_only: bool,
) -> None:
    """Raise :class:`CheckpointError` unless the names fit ``module`` (no communication).

    For a sharded module, rank 0 checks before :func:`load_full_module_tensors`: a
    mismatch found inside that collective would leave the other ranks waiting.
    """
    expected = set(module.state_dict(keep_vars=True))
    if trainable_only:
        required = {name for name, p in module.named_parameters() if p.requires_grad}
    else:
        required = expected
    given = set(tensors) | set(aliases)
    missing = sorted(required - given)
    unexpected = sorted(given - expected)
    if missing or unexpected:
        raise CheckpointError(
            "checkpoint does not fit the policy: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )


def load_full_module_tensors(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    aliases: dict[str, str],
    trainable_only: bool,
) -> None:
    """Load full tensors (rank 0's; other ranks pass ``{}``) into a sharded module.

    A collective: rank 0 broadcasts each tensor and every rank keeps its shard.
    Check the names first with :func:`check_module_tensors` on rank 0.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    state = dict(tensors)
    if state:
        for alias, name in aliases.items():
            state[alias] = tensors[name]
    options = StateDictOptions(
        full_state_dict=True, broadcast_from_rank0=True, strict=not trainable_only
    )
    set_model_state_dict(module, state, options=options)


def full_optimizer_state(
    module: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """:func:`optimizer_state` of a sharded module's optimizer: same layout, full tensors.

    A collective; the tensors come on rank 0 (``{}`` elsewhere), the JSON on every
    rank. torch's full optimizer state dict keys the state by parameter name; the
    names are turned back into the ids ``Optimizer.state_dict`` uses (positions in
    the groups), so the file also loads into the unsharded optimizer.
    """
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_optimizer_state_dict,
    )

    data = {**_group_json(optimizer.state_dict()), "scalars": {}}
    if not optimizer.state:
        # torch would first create the state with a zero-learning-rate step, which
        # changes Adam's step count: an optimizer that has not stepped has nothing.
        return {}, data
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    full = get_optimizer_state_dict(module, optimizer, options=options)
    if not full or not full.get("state"):
        return {}, data
    names = [name for group in full["param_groups"] for name in group["params"]]
    tensors, scalars = _split_state(full["state"], {name: i for i, name in enumerate(names)})
    return tensors, {**data, "scalars": scalars}


def load_full_optimizer_state(
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    data: dict[str, Any],
) -> None:
    """Load :func:`full_optimizer_state`'s output (rank 0's tensors; ``{}`` elsewhere).

    A collective. ``data`` (the JSON part) must be the same on every rank: it
    decides, without communication, whether there is any state to broadcast.
    """
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_optimizer_state_dict,
    )

    groups = _saved_groups(optimizer, data)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    sizes = [len(group["params"]) for group in groups]
    if sizes != [len(group["params"]) for group in optimizer.param_groups]:
        raise CheckpointError(
            f"optimizer state does not fit the optimizer: groups of {sizes} parameters, "
            f"the optimizer has {[len(g['params']) for g in optimizer.param_groups]}"
        )
    state_ids = data.get("state_ids")
    if state_ids is None or state_ids:
        name_of = {id(p): name for name, p in module.named_parameters()}
        names = [name_of[id(p)] for p in params]
        full: dict[str, Any] = {}
        if _rank() == 0:
            state: dict[str, dict[str, Any]] = {}
            for key, value in tensors.items():
                param_id, entry = key.split(".", 1)
                state.setdefault(names[int(param_id)], {})[entry] = value
            for param_id, entries in data["scalars"].items():
                state.setdefault(names[int(param_id)], {}).update(entries)
            full = {
                "state": state,
                "param_groups": [
                    {**group, "params": [names[i] for i in group["params"]]} for group in groups
                ],
            }
        options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
        set_optimizer_state_dict(module, optimizer, full, options=options)
        if state_ids is not None:
            # torch creates every parameter's state before loading (a zero step);
            # parameters without state in the checkpoint get none, as when saved.
            keep = set(state_ids)
            for index, param in enumerate(params):
                if index not in keep:
                    optimizer.state.pop(param, None)
    for live, saved in zip(optimizer.param_groups, groups, strict=True):
        live.update({k: v for k, v in saved.items() if k != "params"})


# --- directories -----------------------------------------------------------------


def checkpoint_name(iteration: int) -> str:
    return f"{PREFIX}{iteration:06d}"


def temporary_dir(directory: Path, name: str) -> Path:
    """A fresh temporary directory for checkpoint ``name`` (any stale one removed)."""
    tmp = directory / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit(directory: Path, tmp: Path, name: str, keep: int) -> Path:
    """Rename ``tmp`` to ``directory/name``, point ``latest`` at it, prune old ones."""
    final = directory / name
    if final.exists():
        shutil.rmtree(final)
    _fsync_dir(tmp)
    os.replace(tmp, final)
    _fsync_dir(directory)
    latest_tmp = directory / f".{LATEST}.tmp"
    latest_tmp.write_text(name + "\n", encoding="utf-8")
    _fsync_file(latest_tmp)
    os.replace(latest_tmp, directory / LATEST)
    existing = sorted(p for p in directory.iterdir() if p.is_dir() and p.name.startswith(PREFIX))
    for old in existing[:-keep]:
        if old != final:
            shutil.rmtree(old)
    return final


#: Files every checkpoint has (the other ranks' files are checked when loading).
_REQUIRED = ("state.json", "model.safetensors", "optimizer.safetensors", "rank0.safetensors")


def is_complete(path: Path) -> bool:
    """Whether ``path`` looks like a whole checkpoint: its files, a readable state.json.

    A committed folder is complete by construction (it is renamed only once written);
    this keeps out one damaged by hand or by a full disk. Loading checks the rest.
    """
    if not all((path / name).is_file() for name in _REQUIRED):
        return False
    try:
        return isinstance(json.loads((path / "state.json").read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def _iteration_of(path: Path) -> int:
    try:
        return int(path.name[len(PREFIX) :])
    except ValueError:
        return -1


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest complete checkpoint in ``directory``, or None if there is none yet.

    ``latest`` names it normally; but a run killed after a checkpoint folder was
    renamed into place and before ``latest`` was rewritten leaves a newer complete
    ``iteration_*`` folder (or no ``latest`` at all), so the folders are scanned
    too: a complete folder newer than the one ``latest`` names wins. ``.tmp-*``
    folders (not renamed, so maybe partial) are never candidates. The folder
    ``latest`` names is otherwise returned even if damaged, so that loading says
    what is wrong instead of an older checkpoint being used without a word.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    candidates = [
        p for p in directory.iterdir() if p.name.startswith(PREFIX) and _iteration_of(p) >= 0
    ]
    pointer = directory / LATEST
    named: Path | None = None
    if pointer.is_file():
        named = directory / pointer.read_text(encoding="utf-8").strip()
        if named.parent == directory and named not in candidates:
            candidates.append(named)
    named_ok = named is not None and (named / "state.json").is_file()
    floor = _iteration_of(named) if named is not None and named_ok else -1
    for path in sorted(candidates, key=_iteration_of, reverse=True):
        if named_ok and _iteration_of(path) <= floor:
            return named  # even if damaged: loading it names what is wrong
        if path.is_dir() and is_complete(path):
            return path
        if path.is_dir():  # newer than what is used: say so rather than skip it silently
            logger.warning("checkpoint %s is incomplete or damaged: not used", path)
    return named if named_ok else None


def resolve(path: str | Path) -> Path:
    """A checkpoint directory, or a checkpoint root whose ``latest`` names one."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    latest = latest_checkpoint(path)
    if latest is None:
        raise CheckpointError(f"no checkpoint at {path} (no state.json, no '{LATEST}' pointer)")
    return latest


def read_json(path: Path) -> Any:
    """A checkpoint's JSON file; :class:`CheckpointError` naming it if truncated or not JSON."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint file missing: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise CheckpointError(
            f"checkpoint file {path} is not valid JSON (truncated or corrupt?): {_reason(error)}"
        ) from error
    if not isinstance(data, dict):
        raise CheckpointError(
            f"checkpoint file {path} holds a JSON {type(data).__name__}, expected an object"
        )
    return data
