"""``--output`` of `report` and `tune`: a path that is not a regular file is written through or
refused in one line (exit 2), never replaced; ``-`` is standard output."""

from __future__ import annotations

import os
import stat

import yaml

from modbench.tune.tuned_suite import write_tuned_suite


def _kind(path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


def test_report_output_through_a_symlink_to_the_null_device(cli, tmp_path, cache_dir):
    link = tmp_path / "out.json"
    link.symlink_to("/dev/null")
    done = cli("report", "--cache-dir", cache_dir, "--json", "--output", link)
    assert done.exit_code == 0, done.stderr
    assert _kind(link) == stat.S_IFLNK and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_report_output_through_a_symlink_to_a_file_keeps_the_link(cli, tmp_path, cache_dir):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    done = cli("report", "--cache-dir", cache_dir, "--json", "--output", link)
    assert done.exit_code == 0, done.stderr
    assert _kind(link) == stat.S_IFLNK and target.read_text() == "[]\n"


def test_report_output_to_a_fifo_nobody_reads_is_one_line_exit_2(cli, tmp_path, cache_dir):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    done = cli("report", "--cache-dir", cache_dir, "--json", "--output", fifo)
    assert done.exit_code == 2, done.stderr
    assert done.stderr.count("\n") == 2  # "no cached results" and the error
    assert "FIFO" in done.stderr and "Traceback" not in done.stderr
    assert _kind(fifo) == stat.S_IFIFO


def test_report_output_dash_is_stdout(cli, tmp_path, cache_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = cli("report", "--cache-dir", cache_dir, "--json", "--output", "-")
    assert done.exit_code == 0, done.stderr
    assert done.stdout == "[]\n"
    assert not (tmp_path / "-").exists()


def test_the_tuned_suite_goes_through_a_symlink(tmp_path):
    target = tmp_path / "kept.yaml"
    target.write_text("old\n")
    link = tmp_path / "tuned.yaml"
    link.symlink_to(target)
    data = {"name": "x", "tuned": {"source": "s.yaml", "trials": 2, "metric": "map@r"}}
    write_tuned_suite(link, data)
    assert _kind(link) == stat.S_IFLNK
    assert yaml.safe_load(target.read_text())["name"] == "x"


def test_export_to_a_folder_is_one_line_exit_2(cli, tmp_path, cache_dir):
    folder = tmp_path / "run.npz"
    folder.mkdir()
    done = cli("export", "abcdef123456", "--cache-dir", cache_dir, "--embeddings", folder)
    assert done.exit_code == 2, done.output
    assert done.stderr.strip() == f"error: --embeddings {folder}: is a folder; give a file name such as {folder / 'run.npz'}"
    assert list(folder.iterdir()) == []
