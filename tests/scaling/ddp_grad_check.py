"""Helper of test_distributed.py, run as a script: two gloo processes take one training step
through the hooks of ``modbench.engine.distributed`` and compare every gradient with the same
step taken by one process on the whole batch. Writes the largest differences to ``argv[1]``.

The model has no BatchNorm (per-rank batch statistics are the one documented difference on the
CPU), so the two must agree up to float32 summation order.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

WORLD = 2
BATCH = 16  # global batch: 8 per rank
DIM, CLASSES = 8, 4
LOSSES = {  # one per family: softmax (per rank + classifier sync) and embedding (all-gather)
    "cross-entropy": {},
    "triplet": {"miner": "semihard", "margin": 0.2, "negatives": "all"},  # deterministic miner
    "improved": {"beta": 4.0, "gamma": 1.0},
}


def make(loss_name: str):
    from modbench.engine.train import build_loss

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, DIM))
    loss_fn = build_loss({"name": loss_name, "params": LOSSES[loss_name]}, num_classes=CLASSES, embedding_dim=DIM)
    return model, loss_fn


def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, 3, 2, 2, generator=g)
    y = torch.arange(BATCH) % CLASSES  # 4 samples of each class in the global batch
    return x, y[torch.randperm(BATCH, generator=g)]


def grads(model, loss_fn):
    return [p.grad.clone() for p in list(model.parameters()) + list(loss_fn.parameters())]


def one_process(loss_name: str):
    model, loss_fn = make(loss_name)
    x, y = batch()
    loss = loss_fn(model(x), y)
    loss.backward()
    return float(loss.detach()), grads(model, loss_fn)


def worker(rank: int, init_file: str, out: str) -> None:
    from modbench.engine.distributed import current

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    report = {}
    for loss_name in LOSSES:
        ref_loss, ref_grads = one_process(loss_name)
        model, loss_fn = make(loss_name)
        family = "embedding" if loss_name == "triplet" else "softmax"
        ctx = current().for_run(batch_size=BATCH, family=family)
        step_model = ctx.wrap_model(model)
        x, y = batch()
        xs, ys = ctx.shard(x), ctx.shard(y)
        emb, labels = ctx.loss_inputs(step_model(xs), ys)
        loss = loss_fn(emb, labels)
        loss.backward()
        ctx.sync_loss_grads(loss_fn)
        diffs = [float((a - b).abs().max()) for a, b in zip(grads(model, loss_fn), ref_grads)]
        scale = max(float(g.abs().max()) for g in ref_grads)
        report[loss_name] = {
            "rank": rank, "gathered": ctx.gather_embeddings, "shard": len(xs), "loss_seen": len(labels),
            "max_grad_diff": max(diffs), "grad_scale": scale,
            "mean_loss": float(ctx.mean(loss.detach())), "ref_loss": ref_loss,
        }
    Path(f"{out}.{rank}").write_text(json.dumps(report))
    dist.destroy_process_group()


if __name__ == "__main__":
    import torch.multiprocessing as mp

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(worker, args=(str(Path(tmp) / "rendezvous"), sys.argv[1]), nprocs=WORLD)
