"""``--storage postgresql://...``: the shared-server path of docs/tuning.md, on a real PostgreSQL
server this test starts (``initdb`` + ``pg_ctl`` in a temporary folder, a Unix socket only, no
TCP port). Two ``tune`` processes on one study share its budget without running a trial twice,
and the same command again runs nothing. Skipped, saying why, where PostgreSQL's server programs
or the ``psycopg2`` driver are missing (``.ci/run`` installs both where it can)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from optuna.trial import TrialState

from modbench.cache.store import RunStore

from tune_helpers import studies, subprocess_env, tiny_suite, tune_args

pytestmark = pytest.mark.slow


def _server_programs() -> Path | None:
    found = shutil.which("initdb") and shutil.which("pg_ctl")
    if found:
        return Path(shutil.which("initdb")).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")):
            return Path(folder)
    return None


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is not installed")
    bin_dir = _server_programs()
    if bin_dir is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="modbench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        import pwd

        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to start the server as")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, sock = root / "data", root
    run = lambda *args: subprocess.run([*as_user, *map(str, args)], capture_output=True, text=True, timeout=120)  # noqa: E731
    made = run(bin_dir / "initdb", "-D", data, "-U", "modbench", "-A", "trust", "--no-sync")
    if made.returncode != 0:
        pytest.skip(f"initdb failed: {made.stderr.strip().splitlines()[-1:]}")
    port = 54329
    started = run(bin_dir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60",
                  "-o", f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off", "start")
    if started.returncode != 0:
        pytest.skip(f"the PostgreSQL server did not start: {(root / 'server.log').read_text()[-300:]}")
    try:
        yield f"postgresql+psycopg2://modbench@/postgres?host={sock}&port={port}"
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_two_processes_share_a_postgresql_study_and_a_rerun_runs_nothing(tmp_path, postgres_url):
    suite = tiny_suite(tmp_path / "tiny.yaml", labels=("CE",), epochs=1)
    cache = tmp_path / "cache"
    args = tune_args(suite, cache, "--trials", "4", "--pruner", "none", "--storage", postgres_url)
    procs = [subprocess.Popen(args, env=subprocess_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outputs]
    assert not (cache / "tune").exists()  # the study is on the server, not in a SQLite file
    (trials,) = studies(cache, url=postgres_url).values()
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) == 4
    runs = [t.user_attrs["run"] for t in counted]
    assert len(set(runs)) == 4
    assert len({t.user_attrs["owner"]["pid"] for t in counted}) == 2  # both processes trained trials
    for key in runs:
        assert len(RunStore(cache).run(key).read_history()) == 1  # each run trained once
    tuned = (tmp_path / "tiny-tuned.yaml").read_text()
    assert "postgresql+psycopg2://modbench@" in tuned

    again = subprocess.run(args, env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-1500:]
    (after,) = studies(cache, url=postgres_url).values()
    assert len(after) == len(trials)  # nothing asked, nothing trained


def test_a_server_that_refuses_is_one_line_and_exit_2(tmp_path, postgres_url):
    suite = tiny_suite(tmp_path / "tiny.yaml", labels=("CE",), epochs=1)
    wrong = postgres_url.replace("port=54329", "port=54328")  # nothing listens there
    result = subprocess.run(tune_args(suite, tmp_path / "cache", "--trials", "1", "--storage", wrong),
                            env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "cannot open the study database" in result.stderr and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1  # one line (beside the warning that --trials 1 is within TPE's start-up)
