"""The process group of a run started by ``torchrun`` (one machine or several).

``torchrun --nproc_per_node K [--nnodes N --rdzv-backend c10d --rdzv-endpoint HOST:PORT]
glam train ...`` starts one process per rank and tells each its place through the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``). :func:`process_group` reads it, creates the process group and
tears it down; without torchrun it does nothing and training runs in one process.

Backends: on a machine with CUDA the group is ``cpu:gloo,cuda:nccl``, so gradients
(on the GPU) travel over NCCL and the few CPU tensors the trainer exchanges
(statistics, RNG states at checkpoints) over gloo; without CUDA it is gloo alone.

Who does what. Every rank builds the same policy (rank 0 first, so that a model the
run builds and caches is built once), steps its own environments with seeds derived
from the run seed and its rank, and takes part in every gradient reduction. Rank 0
alone owns the run directory: it writes config, metrics, TensorBoard, status,
checkpoints and evaluations, and it runs the evaluations while the others wait.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

import torch
import torch.distributed as torch_dist

from glam_apps.errors import RankAgreedError, UserError
from glam_ppo.distributed import DistributedContext

logger = logging.getLogger(__name__)

T = TypeVar("T")

Backend = Literal["auto", "nccl", "gloo"]
#: The variables torchrun sets for every rank (the rendezvous ones come with them).
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class Launch:
    """This process's place in the run: rank, number of ranks, GPU index on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def torchrun_launch() -> Launch | None:
    """The launch torchrun describes in the environment, or ``None`` without torchrun."""
    present = [name for name in TORCHRUN_VARIABLES if name in os.environ]
    if not present:
        return None
    if len(present) != len(TORCHRUN_VARIABLES):
        missing = sorted(set(TORCHRUN_VARIABLES) - set(present))
        raise UserError(
            f"incomplete torchrun environment: {', '.join(present)} set but "
            f"{', '.join(missing)} missing; launch with torchrun (or set all of "
            f"{', '.join(TORCHRUN_VARIABLES)})"
        )
    values = {}
    for name in TORCHRUN_VARIABLES:
        try:
            values[name] = int(os.environ[name])
        except ValueError:
            raise UserError(
                f"environment variable {name}={os.environ[name]!r} is not an integer"
            ) from None
    launch = Launch(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
    if launch.world_size < 1 or not 0 <= launch.rank < launch.world_size:
        raise UserError(
            f"RANK={launch.rank} and WORLD_SIZE={launch.world_size}: the rank must be in "
            "[0, WORLD_SIZE)"
        )
    return launch


def resolve_backend(backend: Backend) -> str:
    """The process group backend string for ``backend`` on this machine."""
    if backend == "gloo":
        return "gloo"
    if backend == "nccl" or torch.cuda.is_available():
        if not torch.cuda.is_available():
            raise UserError("distributed.backend nccl needs CUDA, and no GPU is visible")
        return "cpu:gloo,cuda:nccl"
    return "gloo"


@contextmanager
def process_group(backend: Backend = "auto", timeout_minutes: float = 30.0) -> Iterator[Launch]:
    """Create the process group torchrun asks for (if any) for the duration of a run.

    A group the caller already created is used as it is (and left alone). With
    CUDA, each rank's current device becomes ``cuda:LOCAL_RANK``, which is where
    ``policy.device: auto`` puts the policy.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        yield Launch(
            torch_dist.get_rank(),
            torch_dist.get_world_size(),
            int(os.environ.get("LOCAL_RANK", "0")),
        )
        return
    launch = torchrun_launch()
    if launch is None:
        yield Launch()
        return
    if not torch_dist.is_available():
        raise UserError("this torch build has no torch.distributed: launch without torchrun")
    name = resolve_backend(backend)
    kwargs: dict[str, Any] = {}
    if "nccl" in name:
        count = torch.cuda.device_count()
        if launch.local_rank >= count:
            raise UserError(
                f"LOCAL_RANK {launch.local_rank} but {count} GPU(s) are visible on this "
                "machine: start at most one process per GPU (--nproc_per_node)"
            )
        torch.cuda.set_device(launch.local_rank)
        kwargs["device_id"] = torch.device("cuda", launch.local_rank)
    torch_dist.init_process_group(
        backend=name, timeout=timedelta(minutes=timeout_minutes), **kwargs
    )
    logger.info(
        "rank %d of %d (local rank %d), backend %s",
        launch.rank,
        launch.world_size,
        launch.local_rank,
        name,
    )
    try:
        yield launch
    finally:
        torch_dist.destroy_process_group()


def agreed(launch: Launch, decide: Callable[[], T]) -> T:
    """Run ``decide`` on rank 0 and give its result (JSON-ready) or its error to every rank.

    Rank 0's :class:`UserError` is raised on every rank (as :class:`RankAgreedError`
    elsewhere, which the CLI does not print again), so that all ranks stop together
    with one message instead of some waiting for the others forever.
    """
    if not launch.distributed:
        return decide()
    context = DistributedContext()
    outcome: dict[str, Any] = {}
    if launch.is_main:
        try:
            outcome = {"value": decide()}
        except UserError as error:
            outcome = {"error": str(error)}
            context.broadcast_json(outcome)
            raise
    outcome = context.broadcast_json(outcome)
    if "error" in outcome:
        raise RankAgreedError(outcome["error"])
    return outcome["value"]  # type: ignore[no-any-return]


@contextmanager
def main_rank_first(launch: Launch) -> Iterator[None]:
    """Rank 0 runs the block before the others (e.g. to build and cache a model once)."""
    context = DistributedContext()
    if not launch.is_main:
        context.barrier()
    yield
    if launch.is_main:
        context.barrier()


def any_rank(launch: Launch, flag: bool) -> bool:
    """Whether ``flag`` is set on some rank (every rank must call this together)."""
    if not launch.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)
    return bool(DistributedContext().all_reduce_max(value).item() > 0)
