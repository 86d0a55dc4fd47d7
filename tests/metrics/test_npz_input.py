"""load_embeddings_npz: every bad input gives one-line UserError (exit code 2); good input loads."""

from __future__ import annotations

import numpy as np
import pytest

from modbench.errors import UserError
from modbench.metrics import compute_metrics
from modbench.results.npz_input import load_embeddings_npz

GOOD_E = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
GOOD_Y = np.array([0, 0, 1, 1, 2, 2])


def _save(tmp_path, name="e.npz", **arrays):
    p = tmp_path / name
    np.savez(p, **arrays)
    return p


def _error(path) -> str:
    with pytest.raises(UserError) as e:
        load_embeddings_npz(path)
    msg = str(e.value)
    assert e.value.exit_code == 2
    assert "\n" not in msg
    assert "embeddings file '" in msg  # names the file
    return msg


def test_good_file(tmp_path):
    emb, labels = load_embeddings_npz(_save(tmp_path, embeddings=GOOD_E, labels=GOOD_Y))
    np.testing.assert_array_equal(emb, GOOD_E)
    assert emb.dtype == np.float32
    assert labels.dtype == np.int64
    assert labels.tolist() == GOOD_Y.tolist()


def test_good_file_with_str_path_extra_arrays_and_compressed(tmp_path):
    p = tmp_path / "c.npz"
    np.savez_compressed(p, embeddings=GOOD_E.astype(np.float16), labels=GOOD_Y.astype(np.uint8), paths=np.arange(6))
    emb, labels = load_embeddings_npz(str(p))
    assert emb.dtype == np.float16 and labels.dtype == np.int64


def test_whole_float_labels_and_int_embeddings(tmp_path):
    emb, labels = load_embeddings_npz(_save(tmp_path, embeddings=np.arange(12).reshape(6, 2), labels=GOOD_Y.astype(float)))
    assert emb.dtype == np.float32 and labels.dtype == np.int64


def test_end_to_end_with_compute_metrics(tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 10)
    e = (np.eye(8)[y] + 0.01 * rng.normal(size=(40, 8))).astype(np.float32)
    res = compute_metrics(*load_embeddings_npz(_save(tmp_path, embeddings=e, labels=y)), strict=True)
    assert res.values["recall@1"] == 1.0 and res.values["nmi"] == 1.0


def test_missing_file(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.npz")


def test_directory(tmp_path):
    assert "is a directory" in _error(tmp_path)


def test_not_an_npz(tmp_path):
    p = tmp_path / "e.npz"
    p.write_text("embeddings,labels\n1,2\n")
    assert "is not a readable .npz" in _error(p)


def test_truncated_npz(tmp_path):
    p = _save(tmp_path, embeddings=GOOD_E, labels=GOOD_Y)
    p.write_bytes(p.read_bytes()[:100])
    assert "not a readable .npz" in _error(p) or "unreadable" in _error(p)


def test_empty_file(tmp_path):
    p = tmp_path / "e.npz"
    p.write_bytes(b"")
    assert "is not a readable .npz" in _error(p)


def test_npy_instead_of_npz(tmp_path):
    p = tmp_path / "e.npz"
    with open(p, "wb") as f:
        np.save(f, GOOD_E)
    assert "single .npy array" in _error(p)


@pytest.mark.parametrize("missing", ["embeddings", "labels"])
def test_array_missing(tmp_path, missing):
    arrays = {"embeddings": GOOD_E, "labels": GOOD_Y}
    del arrays[missing]
    msg = _error(_save(tmp_path, feats=GOOD_E, **arrays))
    assert f"has no array '{missing}'" in msg and "arrays found:" in msg and "feats" in msg


def test_object_array_is_not_unpickled(tmp_path):
    labels = np.array([0, 0, 1, 1, "x", None], dtype=object)
    msg = _error(_save(tmp_path, embeddings=GOOD_E, labels=labels))
    assert "array 'labels' cannot be read without pickle" in msg


def test_lengths_differ(tmp_path):
    msg = _error(_save(tmp_path, embeddings=GOOD_E, labels=GOOD_Y[:5]))
    assert "'embeddings' has 6 rows but 'labels' has 5 entries" in msg


@pytest.mark.parametrize("shape", [(6,), (6, 3, 1), ()])
def test_embeddings_not_2d(tmp_path, shape):
    msg = _error(_save(tmp_path, embeddings=np.zeros(shape, dtype=np.float32), labels=GOOD_Y))
    assert "'embeddings' must be 2-D (N x D)" in msg


def test_embeddings_zero_columns(tmp_path):
    assert "0 columns" in _error(_save(tmp_path, embeddings=np.zeros((6, 0), np.float32), labels=GOOD_Y))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(tmp_path, bad):
    e = GOOD_E.copy()
    e[4, 1] = bad
    msg = _error(_save(tmp_path, embeddings=e, labels=GOOD_Y))
    assert "NaN or infinite values in 1 row(s), first in row 4" in msg


@pytest.mark.parametrize(
    "labels,msg",
    [
        (np.array([0, 0, 1, 1, 2.5, 2]), "'labels' must be integers, but entry 4 is"),
        (np.array([0, 0, 1, 1, np.nan, 2]), "'labels' must be integers, but entry 4 is"),
        (np.array(list("aabbcc")), "'labels' must be integers, got dtype <U1"),
        (np.array([True, True, False, False, True, False]), "'labels' must be integers, got dtype bool"),
        (GOOD_Y.reshape(6, 1), "'labels' must be 1-D"),
    ],
)
def test_non_integer_labels(tmp_path, labels, msg):
    assert msg in _error(_save(tmp_path, embeddings=GOOD_E, labels=labels))


def test_non_numeric_embeddings(tmp_path):
    e = np.array([["a", "b"]] * 6)
    assert "must hold real numbers" in _error(_save(tmp_path, embeddings=e, labels=GOOD_Y))


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_samples(tmp_path, n):
    msg = _error(_save(tmp_path, embeddings=GOOD_E[:n], labels=GOOD_Y[:n]))
    assert f"needs at least 2 samples, got {n}" in msg


# --- zero rows, declared sizes ------------------------------------------------------


def test_all_zero_rows_are_refused(tmp_path):
    e = GOOD_E.copy()
    e[2] = 0.0
    e[5] = -0.0
    msg = _error(_save(tmp_path, embeddings=e, labels=GOOD_Y))
    assert "all-zero rows in 2 row(s), first in row 2" in msg


def _npz_with_header(path, shape, payload=b"\0" * 64, compress=True, dtype="<f4"):
    """An .npz whose 'embeddings' member declares ``shape`` but holds only ``payload``."""
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr("embeddings.npy", buf.getvalue() + payload)
        labels = io.BytesIO()
        np.save(labels, GOOD_Y)
        z.writestr("labels.npy", labels.getvalue())
    return path


@pytest.mark.parametrize("compress", [True, False])
def test_declared_4gib_array_is_refused_before_reading(tmp_path, compress):
    """A small file that declares a 4 GiB array: refused from its header, memory never allocated
    (tracemalloc sees numpy's allocations; today's code allocates the 4 GiB first)."""
    import tracemalloc

    p = _npz_with_header(tmp_path / "big.npz", (2**28, 4), compress=compress)
    tracemalloc.start()
    try:
        msg = _error(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "declares 'embeddings' of shape (268435456, 4) float32 (4.0 GiB)" in msg
    assert peak < 50 * 2**20


def test_declared_size_larger_than_the_data_is_refused(tmp_path):
    """Under the limit, but the member holds less data than its header declares."""
    p = _npz_with_header(tmp_path / "short.npz", (1000, 6), compress=False)
    msg = _error(p)
    assert "declares 'embeddings' of shape (1000, 6) float32" in msg and "holds only" in msg


def test_size_limit_is_documented():
    from pathlib import Path

    from modbench.results import npz_input

    doc = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text()
    assert f"{npz_input.MAX_ARRAY_BYTES // 2**30} GiB" in doc


def test_query_mask_is_optional_and_checked(tmp_path):
    from modbench.results.npz_input import load_query_mask

    e = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0, 1])
    assert load_query_mask(_save(tmp_path, embeddings=e, labels=y), 6) is None
    mask = np.array([True, True, False, False, False, False])
    got = load_query_mask(_save(tmp_path, embeddings=e, labels=y, query_mask=mask), 6)
    assert got.tolist() == mask.tolist()
    for bad, why in ((mask.astype(int), "must be 6 booleans"), (mask[:4], "must be 6 booleans"),
                     (np.ones(6, dtype=bool), "at least one query")):
        with pytest.raises(UserError, match=why) as e_info:
            load_query_mask(_save(tmp_path, embeddings=e, labels=y, query_mask=bad), 6)
        assert "\n" not in str(e_info.value)
