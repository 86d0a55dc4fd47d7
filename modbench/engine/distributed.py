"""One run across processes: DistributedDataParallel under ``torchrun`` (gloo on CPU, nccl on CUDA).

What changes when ``train_run`` runs in W processes (everything else is the one-process code):

- The global batch is the suite's ``batch_size``. Every rank draws the same global batches and
  augmentations from the same seeded generators, then keeps its contiguous slice of ``B / W``
  samples (:meth:`Dist.shard`); the slices never overlap and together are the whole batch.
- The network is wrapped in DDP, which averages the gradients of the ranks.
- Softmax-family losses work per rank on their slice; with equal slices the DDP average of the
  per-rank means is the gradient of the global mean, as in one process.
- Pair-, triplet- and proxy-based losses see the embeddings of the whole global batch, in the
  one-process order (:func:`all_gather_with_grad`): miners mine the same batch as in one process.
  Every rank computes the same global loss L; the gather's backward sums the ranks' gradients
  for each slice (W * dL/dE_r), which DDP's average turns back into exactly dL/dtheta.
- The loss's own parameters (classifier, proxies) are not inside DDP: their gradients are
  averaged across ranks here (:meth:`Dist.sync_loss_grads`), which is again exact for both
  families (per-rank means for softmax; identical global gradients for the others).
- BatchNorm: on CUDA it becomes ``SyncBatchNorm`` (statistics of the global batch, as in one
  process). On CPU ``SyncBatchNorm`` does not exist: each rank normalises with its own slice's
  statistics, and DDP broadcasts rank 0's running statistics. This is why a CPU run with W > 1 is
  close to, not identical to, the one-process run.
- Only rank 0 writes the cache, validates, evaluates the test set and reports progress; the run
  key does not depend on W (``world_size`` is recorded in the checkpoint and ``result.json``).

Outside torchrun :data:`SINGLE` makes every hook a no-op, so the one-process path is unchanged.

This module is the DDP toolkit only and a leaf of the import graph: it imports torch and nothing
of modbench. Which runs to train, and how a decision of rank 0 reaches the others, is the
runner's (``runner.Runner``: one loop over runs for one process and for torchrun); how a run's
loss sees the batch is passed in (``Dist.for_run``).
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, TypeVar

import torch

T = TypeVar("T")

# Rank 0 alone validates and evaluates between collectives; the others wait that long at most.
TIMEOUT = _dt.timedelta(minutes=60)


class SetupError(ValueError):
    """A torchrun set-up that cannot work (the caller turns it into a one-line user error)."""


def torchrun_env() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) when started by torchrun with more than one process."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise SetupError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None
    return (rank, world, local) if world > 1 else None


def init_from_env(device: torch.device) -> torch.device:
    """Under torchrun: join the process group (nccl on CUDA, gloo on CPU) and return this rank's
    device (``cuda:LOCAL_RANK``). Outside torchrun: ``device`` unchanged. Idempotent."""
    env = torchrun_env()
    if env is None:
        return device
    import torch.distributed as dist

    rank, world, local = env
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise SetupError(
                f"torchrun: LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s); "
                "use --nproc-per-node <= the number of GPUs"
            )
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=TIMEOUT)
    return device


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def current() -> "Dist":
    """The running process's place in the process group (:data:`SINGLE` outside torchrun)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return SINGLE
    env = torchrun_env()
    local = env[2] if env else 0
    return Dist(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local)


class _AllGather(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums the ranks' gradients of this rank's slice.

    Written with ``all_gather`` and ``all_reduce`` only, which both gloo and nccl provide.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        world = dist.get_world_size()
        ctx.rank, ctx.n = dist.get_rank(), tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # sum over ranks of dL_s/d(all embeddings)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """The rank-ordered concatenation of every rank's ``tensor`` (equal shapes), differentiable."""
    return _AllGather.apply(tensor)


def all_gather_labels(labels: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    parts = [torch.empty_like(labels) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, labels.contiguous())
    return torch.cat(parts)


def _grad_of(param: torch.Tensor) -> torch.Tensor:
    return param.grad if param.grad is not None else torch.zeros_like(param)


@dataclass(frozen=True)
class Dist:
    """This process's rank; the hooks ``train_run`` and ``Runner`` call. Every method is a no-op
    when ``world_size == 1``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    gather_embeddings: bool = False  # set by for_run from the loss family

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- per run ---------------------------------------------------------------------------
    def for_run(self, *, batch_size: int, family: str) -> "Dist":
        """Checks the batch splits evenly and binds how the run's loss sees the batch: losses
        of family ``softmax`` are per sample (each rank its slice); every other family (pair-,
        triplet-, proxy-based) needs every embedding of the global batch."""
        if not self.enabled:
            return self
        if batch_size % self.world_size:
            raise SetupError(
                f"train.batch_size {batch_size} is not a multiple of the {self.world_size} processes; "
                "the global batch is split evenly across ranks: choose --nproc-per-node dividing it"
            )
        return replace(self, gather_embeddings=family != "softmax")

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """DDP around ``model`` (``SyncBatchNorm`` first on CUDA); ``model`` itself otherwise.

        Parameters keep their identity, so an optimizer built on ``model`` stays valid, and
        ``model.state_dict()`` keeps its keys (checkpoints are the same as in one process).
        """
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        device = next(model.parameters()).device
        if device.type == "cuda":
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # in place below the root
            return DDP(model, device_ids=[device.index], output_device=device.index)
        return DDP(model)

    # -- per step --------------------------------------------------------------------------
    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch (dim 0). A batch that does not split
        evenly (only the single short batch of a tiny dataset) loses its last ``len % W`` rows."""
        if not self.enabled:
            return batch
        per_rank = len(batch) // self.world_size
        return batch[self.rank * per_rank : (self.rank + 1) * per_rank]

    def loss_inputs(self, embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the loss sees: the global batch for embedding-family losses, the slice otherwise."""
        if not (self.enabled and self.gather_embeddings):
            return embeddings, labels
        return all_gather_with_grad(embeddings), all_gather_labels(labels)

    def sync_loss_grads(self, loss_fn: torch.nn.Module) -> None:
        """Average the gradients of the loss's own parameters across ranks (DDP covers the model)."""
        if not self.enabled:
            return
        import torch.distributed as dist

        params = [p for p in loss_fn.parameters() if p.requires_grad]
        if not params:
            return
        flat = torch.cat([_grad_of(p).reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def seed_rank(self, seed: int) -> None:
        """Distinct global-generator streams per rank (dropout), derived from the epoch seed."""
        if self.enabled:
            torch.manual_seed((seed + 104_729 * self.rank) % (2**62))

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a scalar over ranks (the epoch's training loss)."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        value = value.detach().clone()
        dist.all_reduce(value)
        return value / self.world_size

    # -- per run list ----------------------------------------------------------------------
    def agree(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (which runs to train, decided once)."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank."""
        if not self.enabled:
            return flag
        import torch.distributed as dist

        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        value = torch.tensor([1 if flag else 0], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def main_first(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` on rank 0, then on the others (a dataset download happens once)."""
        if not self.enabled:
            return fn(*args, **kwargs)
        import torch.distributed as dist

        if self.is_main:
            value = fn(*args, **kwargs)
            dist.barrier()
            return value
        dist.barrier()
        return fn(*args, **kwargs)


SINGLE = Dist()
