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
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any, Callable, TypeVar

import torch

from modbench.errors import UserError

T = TypeVar("T")

# Rank 0 alone validates and evaluates between collectives; the others wait that long at most.
TIMEOUT = _dt.timedelta(minutes=60)
# Validation metrics of a rank that does not validate (its history is never written).
NO_METRICS = SimpleNamespace(values={}, info={})


def torchrun_env() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) when started by torchrun with more than one process."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None
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
            raise UserError(
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


def loss_sees_global_batch(loss_name: str) -> bool:
    """Pair-, triplet- and proxy-based losses (family ``embedding``) need every embedding of the
    batch; softmax-family losses are per sample."""
    from modbench.losses import resolve_loss

    return resolve_loss(loss_name).family != "softmax"


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
    def for_run(self, config: dict[str, Any]) -> "Dist":
        """Checks the batch splits evenly and binds how the run's loss sees the batch."""
        if not self.enabled:
            return self
        batch = config["train"]["batch_size"]
        if batch % self.world_size:
            raise UserError(
                f"train.batch_size {batch} is not a multiple of the {self.world_size} processes; "
                "the global batch is split evenly across ranks: choose --nproc-per-node dividing it"
            )
        return replace(self, gather_embeddings=loss_sees_global_batch(config["loss"]["name"]))

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

    def run_dir(self, run_dir):
        """The run's cache folder; on ranks other than 0 a copy that reads but never writes."""
        return run_dir if self.is_main else _ReadOnlyRunDir(run_dir)


SINGLE = Dist()


class _ReadOnlyRunDir:
    """A RunDir whose writes do nothing: ranks other than 0 read checkpoints, write nothing."""

    _WRITES = frozenset({
        "write_config", "write_history", "write_result", "write_failed", "save_checkpoint", "clear",
        "remove_temp_files",
    })

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name: str):
        if name in self._WRITES:
            return lambda *args, **kwargs: None
        return getattr(self._inner, name)


# -- the run list under torchrun -------------------------------------------------------------
def train_runs(runner, runs: list, eval_cfg: dict[str, Any], *, force: bool) -> list:
    """``Runner.train`` under torchrun: every rank goes through the same runs in the same order.

    Rank 0 alone holds the run's lock, reads the cache to decide what the run needs (with the
    same integrity checks as one process: a corrupted run is trained again) and broadcasts the
    decision; it alone writes. The other ranks get a read-only run folder. A run whose lock
    another process holds is skipped (``missing``), never waited for inside a collective.
    """
    from modbench.cache.store import CorruptFile
    from modbench.engine.events import corrupt_notice
    from modbench.engine.runner import Outcome
    from modbench.engine.train import RunFailed, train_run

    dist = current()
    outcomes = []
    for run in runs:
        real = runner.store.run(run.key)
        lock = real.lock() if dist.is_main else None
        held = lock.acquire(blocking=False) if lock is not None else False
        try:
            decision, result, failure = "busy", None, None
            if held:
                real.remove_temp_files()  # of a process killed mid-write; nobody else writes now
                if force:
                    real.clear()
                result = runner._finished_result(run, real, eval_cfg, action="training it again")
                if result is None:
                    try:
                        failure = real.load_failed()
                    except CorruptFile as exc:
                        runner.observer.message(corrupt_notice(run, exc, "training it again"))
                        real.clear()
                decision = "done" if result is not None else ("failed" if failure is not None else "train")
            decision = dist.agree(decision if dist.is_main else None)
            if decision == "busy":
                runner.observer.message(
                    f"run '{run.label}' seed {run.seed} ({run.key}) is in use by another modbench process; skipped"
                )
                outcomes.append(Outcome(run, "missing"))
                runner.observer.run_end(run, status="missing")
            elif decision == "done":
                outcomes.append(Outcome(run, "cached", result=result))
                runner.observer.run_end(run, status="cached")
            elif decision == "failed":
                outcomes.append(Outcome(run, "failed", failure=failure))
                runner.observer.run_end(run, status="failed")
            else:
                outcomes.append(_train_together(runner, run, real, eval_cfg, dist, train_run, RunFailed, CorruptFile))
        finally:
            if held:
                lock.release()
    return outcomes


def _train_together(runner, run, real, eval_cfg, dist: "Dist", train_run, RunFailed, CorruptFile):
    """One run on every rank. A corrupted checkpoint met by any rank (every rank reads it at
    resume) makes rank 0 clear the run and every rank start it again from scratch."""
    from modbench.engine.events import corrupt_notice
    from modbench.engine.runner import Outcome

    data = dist.main_first(runner.data_for, run)  # rank 0 downloads, if anyone does
    run_dir = dist.run_dir(real)
    for attempt in (1, 2):
        corrupt = None
        try:
            result = train_run(run, run_dir, data, eval_cfg=eval_cfg, observer=runner.observer)
        except RunFailed:  # every rank stops at the same step (the gradients are shared)
            return Outcome(run, "failed", failure=real.read_failed() if dist.is_main else None)
        except CorruptFile as exc:
            if attempt == 2:
                raise
            corrupt = exc
        if not dist.any(corrupt is not None):
            return Outcome(run, "trained", result=result)
        if dist.is_main:
            runner.observer.message(corrupt_notice(run, corrupt or "a rank found a corrupted file", "training it again from the start"))
            real.clear()
        dist.barrier()
    raise AssertionError("unreachable")
