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
"""

from __future__ import annotations

from collections.abc import Iterable

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

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """In place sum over ranks (returned for chaining); identity on one process."""
        if self.enabled and self.world_size > 1:
            torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
        return tensor

    def broadcast_parameters(self, tensors: Iterable[torch.Tensor]) -> None:
        """Copy rank 0's values into every rank's tensors (same initial model)."""
        if not (self.enabled and self.world_size > 1):
            return
        with torch.no_grad():
            for tensor in tensors:
                torch_dist.broadcast(tensor.data, src=0)

    def all_reduce_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Sum every parameter's gradient over ranks, in flat buckets.

        A parameter without a gradient on this rank contributes zeros (and gets a
        gradient), so that all ranks send the same bucket layout.
        """
        if not (self.enabled and self.world_size > 1):
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
