"""``modbench compare`` on each retrieval dataset's fixture (publisher's format), 1 epoch of
small-cnn: the class-disjoint splits reach the engine, and In-Shop is measured query against
gallery."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import retrieval_fixtures as fx
from modbench.cache.store import RunStore
from modbench.engine.export import run_test_embeddings

WRITERS = {"cub200": fx.write_cub, "cars196": fx.write_cars, "sop": fx.write_sop, "inshop": fx.write_inshop}


def _suite(name):
    return {
        "name": f"{name}-tiny",
        "dataset": {"name": name, "image_size": 16, "val_fraction": 0.34},
        "backbone": {"name": "small-cnn", "embedding_dim": 8},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1.0e-3},
        "eval": {"metrics": ["recall@1", "recall@2", "map@r", "nmi", "f1"]},
        "losses": [{"name": "cross-entropy", "label": "CE"}, {"name": "triplet", "label": "Triplet"}],
    }


def _compare(name, tmp_path, write_suite, cli, cache_dir):
    WRITERS[name](tmp_path / "data")
    suite = write_suite(_suite(name), f"{name}.yaml")
    result = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu",
                 "--data-dir", tmp_path / "data", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    stored = [RunStore(cache_dir).run(row["run"]).result() for row in rows]
    return rows, stored


@pytest.mark.parametrize("name", ["cub200", "cars196", "sop"])
def test_compare_on_a_retrieval_fixture(name, tmp_path, write_suite, cli, cache_dir):
    rows, stored = _compare(name, tmp_path, write_suite, cli, cache_dir)
    assert len(rows) == 2
    for result in stored:
        info = result["data"]["info"]
        assert info["protocol"] == "class-disjoint"
        assert result["metric_info"]["n"] == result["data"]["test"]  # every test image is a query
        assert "accuracy" not in result["metrics"]  # the head never saw a test class
        assert all(0.0 <= result["metrics"][m] <= 1.0 for m in ("recall@1", "map@r", "nmi", "f1"))


def test_compare_on_inshop_searches_queries_among_the_gallery(tmp_path, write_suite, cli, cache_dir):
    _, stored = _compare("inshop", tmp_path, write_suite, cli, cache_dir)
    report = cli("report", "--suite", tmp_path / "inshop.yaml", "--cache-dir", cache_dir, "--markdown")
    assert report.exit_code == 0, report.stderr
    assert "query/gallery search: queries searched among the gallery only" in " ".join(report.stdout.split())
    queries = sum(q for q, _ in fx.INSHOP_TEST.values())
    gallery = sum(g for _, g in fx.INSHOP_TEST.values())
    for result in stored:
        info = result["metric_info"]
        assert (info["n_queries"], info["n_gallery"]) == (queries, gallery)
        assert result["data"]["info"]["test_queries"] == queries
    for row in stored:
        records = RunStore(cache_dir).run(row["key"]).queries()
        # One record per query (not per test image), and the metrics are their means.
        assert records["label"].shape == (queries,)
        ks = list(records["ks"])
        assert ks[-1] <= gallery
        assert records["hit"][:, ks.index(1)].mean() == pytest.approx(row["metrics"]["recall@1"])
        assert np.nanmean(records["ap_r"]) == pytest.approx(row["metrics"]["map@r"])
        # The reported numbers against a naive loop over the run's own test embeddings: each
        # query ranks the gallery only.
        emb, labels, info = run_test_embeddings(RunStore(cache_dir).run(row["key"]), row["config"],
                                                device=torch.device("cpu"), data_dir=tmp_path / "data")
        mask = info["test_query_mask"].numpy()
        x = emb.double().numpy()
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y = labels.numpy()
        hits, aps = [], []
        for i in np.flatnonzero(mask):
            gallery_rows = [j for j in range(len(y)) if not mask[j]]
            ranked = sorted(gallery_rows, key=lambda j: (float(((x[j] - x[i]) ** 2).sum()), j))
            hits.append(y[ranked[0]] == y[i])
            r = sum(1 for j in gallery_rows if y[j] == y[i])
            correct, ap = 0, 0.0
            for pos, j in enumerate(ranked[:r], start=1):
                if y[j] == y[i]:
                    correct += 1
                    ap += correct / pos
            aps.append(ap / r)
        assert row["metrics"]["recall@1"] == pytest.approx(np.mean(hits), abs=1e-12)
        assert row["metrics"]["map@r"] == pytest.approx(np.mean(aps), abs=1e-9)
        # export writes the query mask, and eval --embeddings gives the run's own numbers back.
        out = tmp_path / f"{row['key'][:8]}.npz"
        exported = cli("export", row["key"], "--embeddings", out, "--cache-dir", cache_dir, "--device", "cpu",
                       "--data-dir", tmp_path / "data")
        assert exported.exit_code == 0, exported.stderr
        with np.load(out) as npz:
            assert npz["query_mask"].tolist() == mask.tolist()
        again = cli("eval", "--embeddings", out, "--metrics", "recall@1,map@r", "--json")
        assert again.exit_code == 0, again.stderr
        values = json.loads(again.stdout)
        assert values["recall@1"] == row["metrics"]["recall@1"] and values["map@r"] == pytest.approx(row["metrics"]["map@r"])
