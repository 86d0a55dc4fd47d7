"""Result rows built by hand (no training), for the results and render tests."""

from __future__ import annotations

import hashlib

from modbench.results.rows import ResultRow

TRAIN = {
    "optimizer": "adam", "lr": 1e-05, "weight_decay": 0.0004, "betas": [0.9, 0.999], "epochs": 70,
    "batch_size": 64, "sampler": "random", "m": 4, "momentum": 0.9, "select": "last", "compile": False,
}


def config(*, dataset="cifar10", backbone="googlenet", loss="triplet", params=None, seed=0, labels=None, subset=None, train=None,
           test_subset=None):
    return {
        "protocol": 1,
        "dataset": {"name": dataset, "labels": labels, "subset": subset, "val_fraction": 0.1, "split_seed": 0}
        | ({"test_subset": test_subset} if test_subset is not None else {}),
        "backbone": {"name": backbone, "embedding_dim": 128, "pretrained": False},
        "train": {**TRAIN, **(train or {})},
        "loss": {"name": loss, "params": dict(params or {})},
        "seed": seed,
    }


def make_row(label="Triplet loss", *, loss="triplet", seed=0, metrics=None, status="done", suite="s", swept=None,
             result_extra=None, **cfg):
    """``result_extra`` adds fields to the run's result.json (``device``, ``identity``, ``data``)."""
    c = config(loss=loss, seed=seed, **cfg)
    metrics = dict(metrics or {}) if status == "done" else {}
    result = {"metrics": metrics, "config": c, **(result_extra or {})} if status == "done" else None
    return ResultRow(
        suite=suite, dataset=c["dataset"]["name"], backbone=c["backbone"]["name"], loss=loss, label=label,
        seed=seed, key=f"{suite}-{label}-{seed}-{hashlib.sha1(repr(c).encode()).hexdigest()[:6]}".replace(" ", "_"), status=status, metrics=metrics,
        result=result, config=c, swept=dict(swept or {}),
    )


METRICS = {"nmi": 0.5, "f1": 0.4, "recall@1": 0.6, "recall@2": 0.7, "recall@4": 0.8, "recall@8": 0.9, "macro_f1": 0.55}


def write_cached(store, run, metrics=None, **result_extra):
    """``run`` (a RunSpec) as a finished run in ``store``: config, checkpoint and result, no
    training. ``result_extra`` adds result.json fields (``device``, ``data``, ``identity``)."""
    run_dir = store.run(run.key)
    run_dir.write_config(run.config)
    run_dir.save_checkpoint({"epoch": run.config["train"]["epochs"]})  # a result must point at a checkpoint
    result = {"key": run.key, "config": run.config, "metrics": dict(metrics or METRICS), "device": "cpu",
              "cpu_threads": 1, "data": {"train": 100, "val": 10, "test": 50}}
    run_dir.write_result({**result, **result_extra})
    return run_dir


def suite_runs(ref, **overrides):
    """The RunSpecs of suite ``ref`` (a built-in name or a path) with ``apply_overrides``."""
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import apply_overrides, resolve_runs

    suite, source = load_suite(str(ref))
    return resolve_runs(apply_overrides(suite, **overrides), source)


def make_records(ap_r, labels, *, ks=(1, 2, 4, 8)):
    """Per-query records (``results.query_metrics``) whose AP@R per query is ``ap_r``; the hits
    follow from it (a query with AP@R above 0.5 hits at every k, else at k >= 4), the 1-NN label
    is right where it hits at 1, the k-means cluster is the label. Enough for the paired analysis."""
    import numpy as np

    ap_r = np.clip(np.asarray(ap_r, dtype=np.float64), 0.0, 1.0)
    labels = np.asarray(labels, dtype=np.int64)
    good = ap_r > 0.5
    hit = np.stack([good | (k >= 4) for k in ks], axis=1)
    nn = np.where(good, labels, (labels + 1) % (labels.max() + 1))
    return {"label": labels, "ks": np.asarray(ks, dtype=np.int64), "hit": hit, "ap_r": ap_r,
            "nn_label": nn, "cluster": labels.copy()}
