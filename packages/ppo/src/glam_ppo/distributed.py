"""Data parallelism over ``torch.distributed``, without wrapping the policy.

Each rank collects its own rollouts; every gradient step all-reduces the
gradients so that all ranks apply the same update and keep identical models.
The policy is not wrapped in ``DistributedDataParallel``: any module works
(including an LLM behind adapters) and the policy's own methods stay reachable.

Exactness: a rank's loss for a minibatch is its *sum* of per-sample losses divided
by the minibatch's *global* size (all-reduced), and gradients are summed, so the
result is the gradient of the mean over the union of the ranks' minibatches, as a
single process would compute it on the concatenated batch. Advantage
normalisation likewise uses global statistics.

Devices. Gradients live where the policy does; the few statistics PPO reduces
(counts, sums, RNG states at checkpoints) are CPU tensors. A process group made
with ``backend="cpu:gloo,cuda:nccl"`` (what ``glam train`` creates on GPUs) sends
each over its own backend; with a plain NCCL group the CPU tensors are moved to
the current CUDA device for the collective and back.

Checkpoints. Rank 0 alone touches the checkpoint directory (on several machines
the others may not even see it): the other ranks' RNG states are gathered to rank
0 to be written, and on resume rank 0 reads everything and broadcasts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as torch_dist

#: Gradients are all-reduced in flat buckets of about this many bytes.
_BUCKET_BYTES = 32 * 1024 * 1024


class DistributedContext:
    """Rank, world size and the few collectives PPO needs; a no-op without a process group."""

    def __init__(self) -> None:
        self.enabled = torch_dist.is_available() and torch_dist.is_initialized()
        self.rank = torch_dist.get_rank() if self.enabled else 0
        self.world_size = torch_dist.get_world_size() if self.enabled else 1
        backend = str(torch_dist.get_backend()) if self.enabled else ""
        #: CPU tensors need a detour through the GPU (a process group of NCCL alone).
        self._cpu_via_cuda = "nccl" in backend and "gloo" not in backend

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Several ranks: collectives are needed."""
        return self.enabled and self.world_size > 1

    @contextmanager
    def _collective(self, tensor: torch.Tensor) -> Iterator[torch.Tensor]:
        """The tensor to hand to a collective; results are copied back into ``tensor``."""
        if not (self._cpu_via_cuda and tensor.device.type == "cpu"):
            yield tensor
            return
        moved = tensor.to(torch.device("cuda", torch.cuda.current_device()))
        yield moved
        tensor.copy_(moved.cpu())

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """In place sum over ranks (returned for chaining); identity on one process."""
        if self.active:
            with self._collective(tensor) as buffer:
                torch_dist.all_reduce(buffer, op=torch_dist.ReduceOp.SUM)
        return tensor

    def all_reduce_max(self, tensor: torch.Tensor) -> torch.Tensor:
        """In place maximum over ranks (e.g. "some rank asked to stop")."""
        if self.active:
            with self._collective(tensor) as buffer:
                torch_dist.all_reduce(buffer, op=torch_dist.ReduceOp.MAX)
        return tensor

    def barrier(self) -> None:
        if self.active:
            torch_dist.barrier()

    def broadcast_json(self, payload: Any, src: int = 0) -> Any:
        """``payload`` (JSON-ready) of rank ``src`` on every rank; no pickle on the wire."""
        if not self.active:
            return payload
        data = json.dumps(payload).encode() if self.rank == src else b""
        size = torch.tensor([len(data)], dtype=torch.int64)
        self._broadcast(size, src)
        buffer = torch.zeros(int(size.item()), dtype=torch.uint8)
        if self.rank == src:
            buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
        self._broadcast(buffer, src)
        return json.loads(buffer.numpy().tobytes().decode()) if self.rank != src else payload

    def all_gather_json(self, payload: Any) -> list[Any]:
        """Every rank's ``payload`` (JSON-ready), in rank order, on every rank."""
        return [
            self.broadcast_json(payload if src == self.rank else None, src)
            for src in range(self.world_size)
        ]

    def broadcast_tensors(
        self, tensors: dict[str, torch.Tensor] | None, src: int = 0
    ) -> dict[str, torch.Tensor]:
        """A dict of CPU tensors of rank ``src`` (``None`` on the others) on every rank."""
        if not self.active:
            return dict(tensors or {})
        layout = None
        if self.rank == src:
            assert tensors is not None
            layout = [
                [name, list(t.shape), str(t.dtype).removeprefix("torch.")]
                for name, t in tensors.items()
            ]
        layout = self.broadcast_json(layout, src)
        out: dict[str, torch.Tensor] = {}
        for name, shape, dtype in layout:
            if self.rank == src:
                assert tensors is not None
                tensor = tensors[name].detach().cpu().contiguous()
            else:
                tensor = torch.empty(shape, dtype=getattr(torch, dtype))
            self._broadcast(tensor, src)
            out[name] = tensor
        return out

    def _broadcast(self, tensor: torch.Tensor, src: int) -> None:
        with self._collective(tensor) as buffer:
            torch_dist.broadcast(buffer, src=src)

    def replicas_identical(self, tensors: Iterable[torch.Tensor]) -> bool:
        """Whether every rank holds the same values in ``tensors`` (a cheap fingerprint).

        Each tensor contributes its float64 sum and sum of squares; the ranks compare
        their fingerprints by max and min. Data parallel ranks apply the same updates
        to the same parameters, so they must agree bit for bit: a difference means
        the ranks diverged (a rank skipped a step, a non-deterministic op differs).
        """
        parts = []
        for tensor in tensors:
            values = tensor.detach().double()
            parts += [values.sum(), values.square().sum()]
        if not self.active:
            return True
        mine = torch.stack(parts).cpu() if parts else torch.zeros(1, dtype=torch.float64)
        high = self.all_reduce_max(mine.clone())
        low = -self.all_reduce_max(-mine)
        return bool(torch.equal(high, low))

    def broadcast_parameters(self, tensors: Iterable[torch.Tensor]) -> None:
        """Copy rank 0's values into every rank's tensors (same initial model)."""
        if not self.active:
            return
        with torch.no_grad():
            for tensor in tensors:
                torch_dist.broadcast(tensor.data, src=0)

    def all_reduce_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Sum every parameter's gradient over ranks, in flat buckets.

        A parameter without a gradient on this rank contributes zeros (and gets a
        gradient), so that all ranks send the same bucket layout.
        """
        if not self.active:
            return
        for param in parameters:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        bucket: list[torch.Tensor] = []
        size = 0
        for param in parameters:
            grad = param.grad
            assert grad is not None
            if bucket and (
                grad.dtype != bucket[0].dtype
                or grad.device != bucket[0].device
                or size + grad.numel() * grad.element_size() > _BUCKET_BYTES
            ):
                self._reduce_bucket(bucket)
                bucket, size = [], 0
            bucket.append(grad)
            size += grad.numel() * grad.element_size()
        if bucket:
            self._reduce_bucket(bucket)

    def _reduce_bucket(self, grads: list[torch.Tensor]) -> None:
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch_dist.all_reduce(flat, op=torch_dist.ReduceOp.SUM)
        offset = 0
        for grad in grads:
            n = grad.numel()
            grad.copy_(flat[offset : offset + n].view_as(grad))
            offset += n
