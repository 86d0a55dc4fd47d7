"""Bad input, many kinds: every malformed suite or argument combination exits 2 with exactly one
line on stderr (``error: ...``), no traceback and nothing on stdout."""

from __future__ import annotations

import copy
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from helpers import TINY_SUITE

OK = copy.deepcopy(TINY_SUITE)


def suite_with(change) -> str:
    data = copy.deepcopy(OK)
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def setter(path: str, value):
    def change(data):
        node = data
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        if value is DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return suite_with(change)


DELETE = object()
VALID = yaml.safe_dump(OK, sort_keys=False)
LAUGHS = VALID + "lol: &a [" + ",".join(["x"] * 10) + "]\n" + "".join(
    f"x{i}: &a{i} [{','.join(['*a' if i == 0 else f'*a{i - 1}'] * 10)}]\n" for i in range(6)
)


@dataclass
class Case:
    id: str
    args: list[str]
    fragment: str
    content: str | bytes | None = None  # written to {suite}
    setup: object = None  # setup(tmp_path, monkeypatch)
    extra: dict = field(default_factory=dict)


CASES = [
    # -- the suite file ---------------------------------------------------------------------
    Case("empty file", ["train", "--suite", "{suite}"], "empty file", ""),
    Case("comments only", ["train", "--suite", "{suite}"], "empty file", "# nothing here\n"),
    Case("binary file", ["train", "--suite", "{suite}"], "not a UTF-8 text file", b"\x00\x01\x02\xff\xfe"),
    Case("NUL in text", ["train", "--suite", "{suite}"], "binary file", "name: a\x00b\n"),
    Case("latin-1 file", ["train", "--suite", "{suite}"], "not a UTF-8 text file", "name: café\n".encode("latin-1")),
    Case("list at the root", ["train", "--suite", "{suite}"], "top level must be a mapping", "- a\n- b\n"),
    Case("scalar at the root", ["train", "--suite", "{suite}"], "top level must be a mapping", "just words\n"),
    Case("unclosed bracket", ["train", "--suite", "{suite}"], "invalid YAML at line 2, column 1", "name: [unclosed\n"),
    Case("tab indentation", ["train", "--suite", "{suite}"], "invalid YAML", "name: a\n\tdataset: b\n"),
    Case("bad mapping", ["train", "--suite", "{suite}"], "invalid YAML", "name: a: b: c\n"),
    Case("duplicate keys", ["train", "--suite", "{suite}"], "duplicate key 'name'", VALID + "name: again\n"),
    Case("unknown key", ["train", "--suite", "{suite}"], "unknown key 'datset'; did you mean 'dataset'", VALID + "datset: {name: digits}\n"),
    Case("unknown nested key", ["train", "--suite", "{suite}"], "train.lrr: unknown key 'lrr'", setter("train.lrr", 0.1)),
    Case("key with a newline", ["train", "--suite", "{suite}"], "unknown key 'a\\nb'", VALID + '"a\\nb": 1\n'),
    Case("key with a line separator", ["train", "--suite", "{suite}"], "unknown key 'a\\u2028b'", VALID + '"a\\u2028b": 1\n'),
    Case("epochs not a number", ["train", "--suite", "{suite}"], "train.epochs", setter("train.epochs", "ten")),
    Case("losses a mapping", ["train", "--suite", "{suite}"], "losses", setter("losses", {"name": "triplet"})),
    Case("dataset a list", ["train", "--suite", "{suite}"], "dataset", setter("dataset", ["digits"])),
    Case("epochs 0", ["train", "--suite", "{suite}"], "train.epochs: Input should be greater than or equal to 1", setter("train.epochs", 0)),
    Case("val_fraction 1.5", ["train", "--suite", "{suite}"], "dataset.val_fraction", setter("dataset.val_fraction", 1.5)),
    Case("infinite lr", ["train", "--suite", "{suite}"], "train.lr: inf is not a usable number", setter("train.lr", float("inf"))),
    Case("NaN lr", ["train", "--suite", "{suite}"], "train.lr", setter("train.lr", float("nan"))),
    Case("negative seed", ["train", "--suite", "{suite}"], "seeds", setter("seeds", [-1])),
    Case("duplicate seeds", ["train", "--suite", "{suite}"], "distinct", setter("seeds", [1, 1])),
    Case("no train section", ["train", "--suite", "{suite}"], "train: required key is missing", setter("train", DELETE)),
    Case("unknown dataset", ["train", "--suite", "{suite}"], "unknown dataset 'digitz'; did you mean 'digits'", setter("dataset.name", "digitz")),
    Case("unknown backbone", ["train", "--suite", "{suite}"], "unknown backbone 'resnet5'", setter("backbone.name", "resnet5")),
    Case("unknown loss", ["train", "--suite", "{suite}"], "losses[0].name: unknown loss 'tripplet'", setter("losses.0.name", "tripplet")),
    Case("unknown loss parameter", ["train", "--suite", "{suite}"], "unknown key 'gama'", setter("losses.1.params", {"gama": 5})),
    Case("loss parameter out of range", ["train", "--suite", "{suite}"], "losses[1].params.beta", setter("losses.1.params", {"beta": -4})),
    Case("empty sweep", ["train", "--suite", "{suite}"], "a sweep needs at least one value", setter("losses.1.params", {"beta": []})),
    Case("sweep too large", ["train", "--suite", "{suite}"], "combinations, more than 10000",
         setter("losses.1.params", {"beta": [float(b) for b in range(1, 200)], "gamma": [float(g) for g in range(-20, 40)]})),
    Case("unknown metric", ["train", "--suite", "{suite}"], "eval.metrics", setter("eval", {"metrics": ["nmi", "recal@1"]})),
    Case("binary value", ["train", "--suite", "{suite}"], "unsafe or unknown YAML tag refused", VALID.replace("name: tiny", "name: !!binary gAA=")),
    Case("python tag", ["train", "--suite", "{suite}"], "unsafe or unknown YAML tag refused", "name: !!python/object/apply:os.getcwd []\n"),
    Case("billion laughs", ["train", "--suite", "{suite}"], "once YAML aliases are expanded", LAUGHS),
    Case("nested too deeply", ["train", "--suite", "{suite}"], "nested too deeply", "name: " + "[" * 3000 + "]" * 3000 + "\n"),
    Case("huge file", ["train", "--suite", "{suite}"], "a suite is at most", "# " + "x" * (2 << 20) + "\n"),
    # -- where the suite is -----------------------------------------------------------------
    Case("missing suite file", ["train", "--suite", "{tmp}/nope.yaml"], "suite file not found"),
    Case("unknown built-in suite", ["compare", "--suite", "digitz"], "unknown suite 'digitz'; did you mean 'digits'"),
    Case("directory as suite", ["train", "--suite", "{tmp}/adir/"], "not a file", setup=lambda t, m: (t / "adir").mkdir()),
    Case("empty suite name", ["train", "--suite", ""], "unknown suite ''"),
    # -- arguments ---------------------------------------------------------------------------
    Case("json and markdown", ["compare", "--suite", "{suite}", "--json", "--markdown"], "mutually exclusive", VALID),
    Case("csv and json", ["report", "--csv", "--json"], "mutually exclusive"),
    Case("eval without source", ["eval"], "give exactly one of --suite or --embeddings"),
    Case("eval with both sources", ["eval", "--suite", "{suite}", "--embeddings", "{tmp}/e.npz"], "exactly one", VALID),
    Case("epochs 0 flag", ["train", "--suite", "{suite}", "--epochs", "0"], "Invalid value for '--epochs'", VALID),
    Case("epochs not a number flag", ["train", "--suite", "{suite}", "--epochs", "abc"], "'--epochs'", VALID),
    Case("negative seed flag", ["train", "--suite", "{suite}", "--seed", "-1"], "'--seed'", VALID),
    Case("subset 0", ["compare", "--suite", "{suite}", "--subset", "0"], "'--subset'", VALID),
    Case("unknown device", ["train", "--suite", "{suite}", "--device", "tpu"], "--device tpu", VALID),
    Case("loss not in the suite", ["train", "--suite", "{suite}", "--loss", "Tripplet"], "did you mean 'Triplet'", VALID),
    Case("unknown option", ["compare", "--suite", "{suite}", "--bogus"], "No such option: --bogus", VALID),
    Case("missing --suite", ["compare"], "Missing option '--suite'"),
    Case("unknown command", ["comparre"], "No such command 'comparre'"),
    Case("unknown metric flag", ["eval", "--suite", "{suite}", "--metrics", "nmi,recal@1"], "recal@1", VALID),
    Case("list of what", ["list", "lossez"], "choose one of"),
    Case("report unknown suite", ["report", "--suite", "nope"], "unknown suite 'nope'"),
    # -- the cache folder ----------------------------------------------------------------------
    Case("cache under a file", ["train", "--suite", "{suite}", "--cache-dir", "{tmp}/afile/cache"],
         "cache folder is not writable", VALID, setup=lambda t, m: (t / "afile").write_text("x")),
    Case("cache is a file", ["train", "--suite", "{suite}", "--cache-dir", "{tmp}/afile"],
         "cache folder is not writable", VALID, setup=lambda t, m: (t / "afile").write_text("x")),
]


def unreadable(tmp_path, monkeypatch):
    """A file the user may not read. As root (CI) chmod 000 does not stop reads, so the
    PermissionError that a non-root user gets is raised where the file is read."""
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "suite.yaml":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def read_only_cache(tmp_path, monkeypatch):
    """A read-only mount (as root a chmod would not stop writes): the probe write fails."""
    import modbench.cache.store as store

    def mkstemp(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(store.tempfile, "mkstemp", mkstemp)


CASES += [
    Case("unreadable file", ["train", "--suite", "{suite}"], "cannot read file (Permission denied)", VALID, setup=unreadable),
    Case("read-only cache", ["train", "--suite", "{suite}", "--cache-dir", "{tmp}/ro"],
         "cache folder is not writable (Read-only file system)", VALID, setup=read_only_cache),
]


def no_home(tmp_path, monkeypatch):
    monkeypatch.delenv("MODBENCH_CACHE", raising=False)
    monkeypatch.setenv("HOME", "")


def no_cache_env(tmp_path, monkeypatch):
    monkeypatch.delenv("MODBENCH_CACHE", raising=False)


CASES += [  # bounds (docs/reliability.md, "Bounds"): refused at load, never trained or failed late
    Case("epochs 1e12", ["train", "--suite", "{suite}"], "train.epochs: Input should be less than or equal to 10000", setter("train.epochs", 1e12)),
    Case("kmeans_n_init 1e9", ["train", "--suite", "{suite}"], "eval.kmeans_n_init: Input should be less than or equal to 100", setter("eval", {"kmeans_n_init": 1e9})),
    Case("seed 2**64 in the file", ["train", "--suite", "{suite}"], "seeds: seeds must be in 0..4294967295", setter("seeds", [2**64])),
    Case("2000 seeds", ["train", "--suite", "{suite}"], "seeds: List should have at most 1000 items", setter("seeds", list(range(2000)))),
    Case("recall@10**12", ["train", "--suite", "{suite}"], "recall@1000000000000: k is at most 10000", setter("eval", {"metrics": ["recall@1000000000000"]})),
    Case("too many runs", ["train", "--suite", "{suite}"], "runs, more than 10000",
         suite_with(lambda d: d.update(seeds=list(range(200)), losses=[{"name": "improved", "params": {"beta": [float(b) for b in range(1, 101)]}}]))),
    Case("--seed 2**64", ["train", "--suite", "{suite}", "--seed", str(2**64)], "(from the override seeds=", VALID),
    Case("--epochs 10**12", ["train", "--suite", "{suite}", "--epochs", str(10**12)], "(from the override epochs=", VALID),
    Case("HOME empty", ["train", "--suite", "{suite}"], "HOME is '', not an absolute folder", VALID, setup=no_home),
    Case("cache-dir of an unknown user", ["train", "--suite", "{suite}", "--cache-dir", "~nosuchuser/x"],
         "no home folder for '~nosuchuser'", VALID, setup=no_cache_env),
    # one configuration per label
    Case("one label, two configurations", ["compare", "--suite", "{suite}"], "losses[2].label: 'New loss' is also the label of losses[1]",
         setter("losses.2", {"name": "improved", "label": "New loss", "params": {"beta": 2}})),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2(cli, tmp_path, monkeypatch, case):
    suite = tmp_path / "suite.yaml"
    if case.content is not None:
        if isinstance(case.content, bytes):
            suite.write_bytes(case.content)
        else:
            suite.write_text(case.content, encoding="utf-8")
    if case.setup:
        case.setup(tmp_path, monkeypatch)
    args = [a.format(suite=suite, tmp=tmp_path) for a in case.args]
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and case.fragment in lines[0], lines[0][:500]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file; covered by 'unreadable file'")
def test_chmod_000_suite(cli, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(VALID)
    suite.chmod(0)
    result = cli("train", "--suite", suite)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "cannot read file" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a read-only folder; covered by 'read-only cache'")
def test_chmod_read_only_cache(cli, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(VALID)
    cache = tmp_path / "cache"
    (cache / "runs").mkdir(parents=True)
    (cache / "runs").chmod(0o500)
    result = cli("train", "--suite", suite, "--cache-dir", cache)
    assert result.exit_code == 2 and "cache folder is not writable" in result.stderr
