"""Complete or absent: every cache file is written atomically, result.json holds the sha256 of
each file it points to, and a truncated, altered or misplaced file is reported in one warning
line and that run trained again: never used, never a crash."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from modbench.cache.checksum import file_sha256, record_sha256
from modbench.cache.store import CorruptFile, RunStore

from subprocess_runs import write_suite_file


def invoke(*args):
    from modbench.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A cache holding one finished run of the tiny suite's CE loss, 2 epochs."""
    root = tmp_path_factory.mktemp("pristine")
    suite = write_suite_file(root / "tiny.yaml", labels=["CE"])
    done = invoke("compare", "--suite", suite, "--cache-dir", root / "cache", "--epochs", "2",
                  "--device", "cpu", "--json")
    assert done.exit_code == 0, done.stderr
    (record,) = json.loads(done.stdout)
    return suite, root / "cache", record


@pytest.fixture
def cache(pristine, tmp_path):
    """A private copy of the pristine cache; returns (suite, cache root, run dir, record)."""
    suite, root, record = pristine
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    return suite, copy, RunStore(copy).run(record["run"]), record


def compare(suite, cache_root, *extra):
    return invoke("compare", "--suite", suite, "--cache-dir", cache_root, "--epochs", "2",
                  "--device", "cpu", "--json", *extra)


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_result_records_checksums_of_every_file(cache):
    _, _, run_dir, _ = cache
    raw = json.loads(run_dir.result_file.read_text())
    assert set(raw["files"]) == {"config.json", "checkpoint.pt", "history.json", "queries.npz"}
    for name, info in raw["files"].items():
        assert info == {"sha256": file_sha256(run_dir.path / name), "bytes": (run_dir.path / name).stat().st_size}
    body = {k: v for k, v in raw.items() if k != "record_sha256"}
    assert raw["record_sha256"] == record_sha256(body)
    assert not list(run_dir.path.glob(".*.tmp"))  # nothing half-written left behind


def flip_middle_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_metric(path):
    record = json.loads(path.read_text())
    record["metrics"]["recall@1"] = 1.0  # a hand edit: valid JSON, wrong checksum
    path.write_text(json.dumps(record))


def forge(path, change):
    """An edit that also recomputes result.json's own checksum (a careful forger)."""
    record = json.loads(path.read_text())
    record.pop("record_sha256")
    change(record)
    record["record_sha256"] = record_sha256(record)
    path.write_text(json.dumps(record))


CORRUPTIONS = {
    "result truncated": ("result.json", truncate, "result.json is truncated or not valid JSON"),
    "result edited": ("result.json", edit_metric, "result.json does not match its checksum"),
    "result binary": ("result.json", lambda p: p.write_bytes(b"\x00\xff" * 50), "result.json is truncated"),
    "result is a list": ("result.json", lambda p: p.write_text("[]"), "not a modbench result record"),
    "result of another run": ("result.json", lambda p: forge(p, lambda r: r.update(key="feedbeef00")), "belongs to run"),
    "result names a path": (
        "result.json",
        lambda p: forge(p, lambda r: r["files"].update({"../../etc/passwd": {"sha256": "0", "bytes": 1}})),
        "names an unexpected file",
    ),
    "checkpoint truncated": ("checkpoint.pt", truncate, "checkpoint.pt has the wrong size"),
    "checkpoint byte flipped": ("checkpoint.pt", flip_middle_byte, "checkpoint.pt does not match the sha256"),
    "checkpoint deleted": ("checkpoint.pt", lambda p: p.unlink(), "checkpoint.pt is missing"),
    "history edited": ("history.json", lambda p: p.write_text(p.read_text().replace("1", "2", 1)), "history.json"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corrupted_finished_run_is_reported_and_trained_again(cache, case):
    suite, root, run_dir, record = cache
    name, damage, fragment = CORRUPTIONS[case]
    damage(run_dir.path / name)
    with pytest.raises(CorruptFile):
        run_dir.result(deep=True)

    result = compare(suite, root)
    assert result.exit_code == 0, result.stderr
    (line,) = warnings(result.stderr)
    assert fragment in line and "training it again" in line and record["run"] in line
    assert "1 run(s): 1 trained" in result.stderr
    assert json.loads(result.stdout) == [record]  # deterministic: the same numbers again
    assert run_dir.result(deep=True) is not None


@pytest.mark.parametrize("damage", [truncate, flip_middle_byte], ids=["truncated", "byte flipped"])
def test_corrupted_checkpoint_of_unfinished_run_is_never_resumed_from(cache, damage):
    """No result yet: the checkpoint's own digest catches what torch.load alone would not."""
    suite, root, run_dir, record = cache
    run_dir.result_file.unlink()  # an interrupted run: only its checkpoint
    damage(run_dir.checkpoint_file)
    with pytest.raises(CorruptFile):
        run_dir.load_checkpoint()
    result = compare(suite, root)
    assert result.exit_code == 0, result.stderr
    (line,) = warnings(result.stderr)
    assert "checkpoint.pt" in line and "training it again from the start" in line
    assert json.loads(result.stdout) == [record]


def test_unreadable_failure_record_is_not_trusted(cache):
    suite, root, run_dir, record = cache
    run_dir.result_file.unlink()
    run_dir.failed_file.write_text('{"epoch": 1, "st')
    result = compare(suite, root)
    assert result.exit_code == 0, result.stderr
    (line,) = warnings(result.stderr)
    assert "failed.json is truncated or not valid JSON" in line
    assert json.loads(result.stdout) == [record] and not run_dir.failed_file.exists()


def test_report_shows_a_corrupted_result_as_missing(cache):
    suite, root, run_dir, _ = cache
    truncate(run_dir.checkpoint_file)
    result = invoke("report", "--suite", suite, "--cache-dir", root, "--json")
    assert result.exit_code == 0
    (line,) = warnings(result.stderr)
    assert "checkpoint.pt has the wrong size" in line and "shown as missing" in line
    (row,) = json.loads(result.stdout)
    assert row["status"] == "missing" and "recall@1" not in row
    assert run_dir.checkpoint_file.exists()  # report reads; it deletes nothing


def test_eval_reports_corruption_and_deletes_nothing(cache):
    suite, root, run_dir, _ = cache
    flip_middle_byte(run_dir.checkpoint_file)
    before = sorted(p.name for p in run_dir.path.iterdir())
    result = invoke("eval", "--suite", suite, "--cache-dir", root, "--epochs", "2", "--device", "cpu", "--json")
    assert result.exit_code == 1
    (line,) = warnings(result.stderr)
    assert "checkpoint.pt does not match the sha256" in line
    assert json.loads(result.stdout)[0]["status"] == "missing"
    assert sorted(p.name for p in run_dir.path.iterdir()) == before


QUERY_DAMAGE = {
    "truncated": (truncate, "queries.npz has the wrong size"),
    "byte flipped": (flip_middle_byte, "queries.npz does not match the sha256"),
    "deleted": (lambda p: p.unlink(), "queries.npz is missing"),
}


@pytest.mark.parametrize("case", list(QUERY_DAMAGE))
def test_damaged_query_records_are_reported_and_computed_again_not_retrained(cache, case):
    """The per-query records are derived data: damage is reported in one line and the records are
    computed again from the checkpoint; the run is neither retrained nor re-scored."""
    suite, root, run_dir, record = cache
    before = run_dir.queries()
    damage, fragment = QUERY_DAMAGE[case]
    damage(run_dir.queries_file)
    assert run_dir.result(deep=True) is not None  # the run itself stays trusted
    with pytest.raises(CorruptFile, match="queries.npz"):
        RunStore(root).load_queries([record["run"]])
    checkpoint = run_dir.checkpoint_file.read_bytes()
    result = compare(suite, root)
    assert result.exit_code == 0, result.stderr
    (line,) = warnings(result.stderr)
    assert fragment in line and "computing its per-query records again from the checkpoint" in line
    assert "1 run(s): 1 from the cache" in result.stderr
    assert run_dir.checkpoint_file.read_bytes() == checkpoint  # not retrained
    assert json.loads(result.stdout) == [record]  # the same numbers
    (after,) = RunStore(root).load_queries([record["run"]])
    for name, array in before.items():
        assert np.array_equal(array, after[name], equal_nan=name == "ap_r"), name


def test_query_records_forged_in_result_json_are_refused(cache):
    """A forger who also rewrites result.json's entry still cannot pass records of another shape."""
    import io

    _, root, run_dir, record = cache
    records = run_dir.queries()
    buffer = io.BytesIO()
    np.savez(buffer, **{**records, "hit": records["hit"].astype(np.int64)})
    run_dir.queries_file.write_bytes(buffer.getvalue())
    forge(run_dir.result_file, lambda r: r["files"].update(
        {"queries.npz": {"sha256": file_sha256(run_dir.queries_file), "bytes": run_dir.queries_file.stat().st_size}}))
    with pytest.raises(CorruptFile, match="'hit' must be bool"):
        RunStore(root).load_queries([record["run"]])
