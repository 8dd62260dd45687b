"""Sharded data parallelism with PyTorch FSDP2 (``torch.distributed.fsdp.fully_shard``).

Plain data parallelism (distributed.py) keeps a full copy of the parameters, the
gradients and the Adam moments on every rank. FSDP2 splits all three over the
ranks, so a policy whose training state does not fit on one device still trains:
each rank holds ``1/world_size`` of it, plus the full parameters of the one unit
(e.g. a transformer block) being computed.

How glam_ppo uses it, and why:

* The update runs sharded. Each unit all-gathers its parameters before its forward
  and reduce-scatters its gradients in the backward, so the hand-written gradient
  all-reduce is skipped. The reduction must be a plain *sum* (gradient divide
  factor 1): every rank's loss is already divided by the minibatch's global size,
  so summing gives exactly the single-process gradient on the concatenated batch,
  as in plain data parallelism. :func:`shard_policy` sets this up.
* Rollouts run *gathered* (:func:`gathered`): every unit's parameters are
  all-gathered once before the rollout and freed after it. A rollout's number of
  forward passes depends on the data (a scorer that splits a batch by a token
  budget, SAME_STEP autoreset evaluating values only when an episode is
  truncated), and collectives inside a forward would hang as soon as two ranks
  made different numbers of calls. With every unit unsharded, a forward issues no
  collective at all (checked on gloo: zero collectives under ``no_grad`` and
  ``inference_mode``), so ranks may call the policy any number of times, and rank 0
  may even evaluate alone while the others wait.
* Inference needs only the parameters; their full size must fit on one device.
  What sharding saves is the gradients and the optimizer state (3x the
  parameters' size with Adam in float32) and the activations' parameter copies.

Nothing here imports a language-model library: which submodules are the units
is the caller's choice (``glam_policy.sharding.transformer_blocks`` for a Hugging
Face model).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import torch
from torch import nn

if TYPE_CHECKING:
    from torch.distributed.device_mesh import DeviceMesh
    from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy

logger = logging.getLogger(__name__)

ModuleT = TypeVar("ModuleT", bound=nn.Module)
PolicyT = TypeVar("PolicyT")

#: Methods that run the policy besides ``forward``; FSDP must treat them as forwards.
DEFAULT_FORWARD_METHODS: tuple[str, ...] = ("predict_values",)

# reshard_after_forward of each FSDP module made by shard_policy, to restore after gathered().
_RESHARD_AFTER_FORWARD: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()


def fsdp_available() -> bool:
    """Whether this torch build has FSDP2 (torch >= 2.6 with distributed support)."""
    if not torch.distributed.is_available():
        return False
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the torch build
        return False
    return True


def _loaded_attribute(module_name: str, attribute: str) -> Any:
    """``module_name.attribute`` if that module is imported already, else None.

    Nothing can be sharded before ``torch.distributed.fsdp`` is imported, so the
    checks every PPO update makes cost no import (FSDP's takes about half a second).
    """
    module = sys.modules.get(module_name)
    return getattr(module, attribute, None) if module is not None else None


def sharded_modules(module: object) -> list[FSDPModule]:
    """Every FSDP2-sharded module in ``module`` (itself included), outermost first."""
    fsdp_module = _loaded_attribute("torch.distributed.fsdp", "FSDPModule")
    if fsdp_module is None or not isinstance(module, nn.Module):
        return []
    return [cast("FSDPModule", m) for m in module.modules() if isinstance(m, fsdp_module)]


def is_sharded(module: object) -> bool:
    """Whether ``module`` (or a submodule) is sharded with FSDP2."""
    return bool(sharded_modules(module))


def is_sharded_tensor(tensor: object) -> bool:
    """Whether ``tensor`` is a ``DTensor`` (a sharded parameter or its gradient)."""
    dtensor = _loaded_attribute("torch.distributed.tensor", "DTensor")
    return dtensor is not None and isinstance(tensor, dtensor)


def sum_gradients(module: object) -> None:
    """Make FSDP sum gradients over ranks instead of averaging them.

    glam_ppo divides each rank's loss by the minibatch's global size, so the sum
    over ranks is the exact gradient. ``force_sum_reduction_for_comms`` makes FSDP
    use ``ReduceOp.SUM`` followed by a division by the factor (here 1) rather
    than ``AVG``/``PREMUL_SUM``, which gloo does not support ("Cannot use
    ReduceOp.PREMUL_SUM with Gloo"). Idempotent; not recursive in FSDP, so every
    sharded module is set.
    """
    for fsdp_module in sharded_modules(module):
        fsdp_module.set_gradient_divide_factor(1.0)
        fsdp_module.set_force_sum_reduction_for_comms(True)


def _broadcast_from_rank0(module: nn.Module, group: Any) -> None:
    """Copy the first rank's parameters and buffers (of ``group``) into every rank's module."""
    if not torch.distributed.is_initialized():
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            torch.distributed.broadcast(tensor.data, group=group, group_src=0)


def shard_policy(
    policy: ModuleT,
    units: Iterable[nn.Module],
    *,
    mesh: DeviceMesh | None = None,
    mp_policy: MixedPrecisionPolicy | None = None,
    reshard_after_forward: bool = True,
    forward_methods: Iterable[str] = DEFAULT_FORWARD_METHODS,
    sync_module_states: bool = True,
) -> ModuleT:
    """Shard ``policy`` with FSDP2: each unit, then the root; returns ``policy`` (now sharded).

    Every rank of the mesh must call this with the same module structure, before the
    optimizer is built (the optimizer must hold the sharded parameters: build
    :class:`glam_ppo.PPO` after this call).

    Args:
        policy: the actor-critic module; it becomes the FSDP root and owns every
            parameter outside the units (embeddings, heads).
        units: submodules sharded as one piece each (e.g. transformer blocks); each
            must be *called as a module* inside the policy's forward (FSDP's hooks
            run on ``unit(...)``, not on a direct use of ``unit.weight``). An empty
            list makes the whole policy one unit.
        mesh: a 1-D ``DeviceMesh`` (default: all ranks, on the current device type).
        mp_policy: an FSDP ``MixedPrecisionPolicy``; default: none (parameters,
            gradients and their reduction in the parameters' dtype). Gradients are
            summed over ranks: give it ``reduce_dtype=torch.float32`` with a 16-bit
            ``param_dtype``. A policy may instead run ``torch.autocast`` inside its
            forward over float32 parameters.
        reshard_after_forward: free each unit's full parameters after its forward
            (all-gather them again in the backward): less memory, more communication.
            The root keeps its parameters until the backward, as FSDP does by default.
        forward_methods: methods of the policy that run it besides ``forward``
            (``predict_values``, used for bootstrapping); FSDP wraps them with its
            forward hooks. Missing ones are skipped.
        sync_module_states: first broadcast rank 0's parameters and buffers to every
            rank (what the unsharded trainer does), so ranks may build the policy from
            different seeds. Needs the full parameters on every rank, as rollouts do.
    """
    if not fsdp_available():
        raise RuntimeError(
            "sharding needs torch.distributed.fsdp.fully_shard (FSDP2, torch >= 2.6 "
            "built with distributed support)"
        )
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    units = list(units)
    group = mesh.get_group() if mesh is not None else None
    if sync_module_states:
        _broadcast_from_rank0(policy, group)
    options: dict[str, Any] = {"mesh": mesh}
    if mp_policy is not None:
        options["mp_policy"] = mp_policy
    for unit in units:
        if unit is policy:
            continue
        fully_shard(unit, reshard_after_forward=reshard_after_forward, **options)
        _RESHARD_AFTER_FORWARD[unit] = reshard_after_forward
    fully_shard(policy, reshard_after_forward=False, **options)
    _RESHARD_AFTER_FORWARD[policy] = False
    for name in forward_methods:
        if callable(getattr(policy, name, None)):
            register_fsdp_forward_method(policy, name)
    sum_gradients(policy)
    logger.info(
        "sharded %s with FSDP2: %d unit(s) + root, reshard_after_forward=%s",
        type(policy).__name__,
        len(units),
        reshard_after_forward,
    )
    return policy


@contextlib.contextmanager
def gathered(policy: PolicyT) -> Iterator[PolicyT]:
    """Every sharded unit of ``policy`` unsharded (full parameters on every rank) inside.

    A collective: every rank must enter it (each unit all-gathers once on entry;
    leaving frees the full parameters and communicates nothing). Inside, forward
    passes issue no collective, so ranks may make different numbers of calls, or
    rank 0 alone may run an evaluation while the others wait in a barrier::

        with gathered(policy):
            if rank == 0:
                evaluate(policy, env, 10)
            torch.distributed.barrier()

    Only for forwards without gradients (rollouts, evaluation): a backward inside
    would reduce-scatter as usual. A no-op for an unsharded policy (or any object
    that is not a module).
    """
    modules = sharded_modules(policy)
    if not modules:
        yield policy
        return
    for module in modules:
        module.set_reshard_after_forward(False, recurse=False)
    try:
        for module in modules:
            module.unshard()
        yield policy
    finally:
        for module in modules:
            module.reshard()
            # FSDP's own defaults for modules not sharded by shard_policy: free a
            # unit's parameters after its forward, keep the root's until the backward.
            restore = _RESHARD_AFTER_FORWARD.get(module, module is not modules[0])
            module.set_reshard_after_forward(restore, recurse=False)


def check_optimizer(policy: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Refuse an optimizer holding parameters the sharded ``policy`` no longer has.

    ``fully_shard`` replaces every parameter by a new (sharded) one: an optimizer or
    parameter groups built before :func:`shard_policy` would update orphans, and the
    policy would silently never learn.
    """
    current = {id(p) for p in policy.parameters()}
    stale = sum(1 for g in optimizer.param_groups for p in g["params"] if id(p) not in current)
    if stale:
        raise ValueError(
            f"the optimizer holds {stale} parameter(s) that the sharded policy does not "
            "have: build the optimizer (or param_groups) after shard_policy"
        )


def full_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a ``DTensor`` (a collective), or ``tensor`` itself."""
    if is_sharded_tensor(tensor):
        return tensor.full_tensor()  # type: ignore[attr-defined]
    return tensor
