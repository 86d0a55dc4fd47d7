"""Test data shared by several test folders (tests/ is on sys.path, see pyproject)."""

TINY_SUITE = {
    "name": "tiny",
    "description": "A tiny digits suite for tests.",
    "dataset": {"name": "digits", "subset": 12},
    "backbone": {"name": "small-cnn", "embedding_dim": 16},
    "train": {"epochs": 2, "batch_size": 32, "optimizer": "adam", "lr": 1.0e-3, "weight_decay": 4.0e-4},
    "seeds": [0],
    "losses": [
        {"name": "cross-entropy", "label": "CE"},
        {"name": "improved", "label": "New loss", "params": {"beta": 4, "gamma": 5}},
        {"name": "triplet", "label": "Triplet"},
    ],
}


# What a CPU run with OMP_NUM_THREADS=1 records (engine/backend.py: numerics).
CPU_1_THREAD = {"device": "cpu", "precision": "float32", "cpu_threads": 1}


def write_finished(store, run, eval_cfg: dict, metrics: dict, **extra) -> None:
    """A valid finished run in ``store`` without training it: config, a checksummed checkpoint
    and a result with ``metrics``, evaluated with ``eval_cfg`` on the CPU with one thread."""
    run_dir = store.run(run.key)
    run_dir.write_config(run.config)
    run_dir.save_checkpoint({"epoch": 1})  # a result must point at a checksummed checkpoint
    run_dir.write_queries(fake_queries())  # a result without per-query records is evaluated again
    run_dir.write_result({"key": run.key, "config": run.config, "metrics": metrics, "eval": eval_cfg,
                          "numerics": CPU_1_THREAD, "cpu_threads": 1, **extra})


def fake_queries(n: int = 6) -> dict:
    """Per-query records of the contract's format (numbers made up: for runs that are not measured)."""
    import numpy as np

    label = np.arange(n, dtype=np.int64) % 2
    ks = np.array([1, 2, 4], dtype=np.int64)
    return {"label": label, "ks": ks, "hit": np.ones((n, 3), dtype=bool), "ap_r": np.ones(n),
            "nn_label": label.copy(), "cluster": label.copy()}
