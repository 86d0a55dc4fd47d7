"""``modbench export RUN --embeddings out.npz``: a cached run's test embeddings for other tools."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import typer

from modbench.cli.common import CacheDirOpt, DataDirOpt, DeviceOpt, DownloadOpt, err, fail, handle_errors

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).


@handle_errors
def export(
    run: Annotated[str, typer.Argument(help="Run key (or a unique prefix of 6+ characters) as `modbench cache list` prints it.", show_default=False)],
    embeddings: Annotated[Path, typer.Option("--embeddings", help="Write the run's test-set embeddings to this .npz file: arrays 'embeddings' (N x D float32, not normalised), 'labels' (N) and 'run' (its key), and 'query_mask' (N booleans) for a query/gallery test split; `modbench eval --embeddings FILE` reads it back.", show_default=False)],
    device: DeviceOpt = "auto",
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
) -> None:
    """Export a cached run's test-set embeddings, recomputed from its checkpoint with the evaluation code."""
    from modbench.cache.manage import find_runs
    from modbench.cache.store import RunStore, resolve_cache_root
    from modbench.cli.output import require_file_name
    if embeddings.suffix != ".npz":
        raise fail(f"--embeddings {embeddings}: give a file name ending in .npz")
    require_file_name(embeddings, "--embeddings", "run.npz")
    store = RunStore(resolve_cache_root(cache_dir))
    (run_dir,) = find_runs(store, [run])
    config = run_dir.read_config()
    if run_dir.result_or_none() is None or not isinstance(config, dict):
        raise fail(f"run {run_dir.key} is not finished (status {run_dir.status()}); `modbench cache list` shows the finished ones")


    import numpy as np

    from modbench.cache.atomic import write_user_file
    from modbench.engine.export import run_test_embeddings
    from modbench.engine.runner import resolve_device

    emb, labels, info = run_test_embeddings(
        run_dir, config, device=resolve_device(device), data_dir=data_dir, download=download
    )
    buffer = io.BytesIO()
    arrays = {"embeddings": emb.numpy().astype(np.float32), "labels": labels.numpy(), "run": np.array(run_dir.key)}
    if "test_query_mask" in info:  # a query/gallery test split (In-Shop): which rows are queries
        arrays["query_mask"] = info["test_query_mask"].numpy().astype(bool)
    np.savez(buffer, **arrays)
    write_user_file(embeddings, buffer.getvalue())
    err.print(
        f"wrote {embeddings}: {emb.shape[0]} test embeddings of dimension {emb.shape[1]} "
        f"(run {run_dir.key}, {info['checkpoint']} checkpoint, epoch {info['epoch']}, {info['device']})",
        markup=False, highlight=False,
    )
