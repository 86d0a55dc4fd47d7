"""``merge_tuned_suites``: tuned suites that ``tune --loss`` wrote for one loss each (on other
machines or in other sessions) merge into the suite one ``tune`` of every loss writes, and
nothing else merges."""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml

from tune_helpers import tiny_suite

from modbench.errors import UserError
from modbench.suite.loader import load_suite
from modbench.tune import session as tune_session
from modbench.tune.tuned_suite import merge_tuned_suites, tuned_checksum, tuned_section_verified

LABELS = ["CE", "New loss"]


def _filled_cache(suite, cache):
    """Both studies with their one trial told (values differ per loss): `tune` trains nothing."""
    spec = tune_session.TuneSpec(suite_ref=str(suite), trials=1, pruner="none", cache_root=str(cache),
                                 device="cpu")
    session = tune_session.open_session(spec)
    for value, target in zip((0.25, 0.75), session.targets):
        study = session.study(target)
        study.tell(study.ask(), value)


def _tune(cli, suite, cache, out, *losses):
    result = cli("tune", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--trials", "1",
                 "--pruner", "none", "--reselect-top", "0", *(x for l in losses for x in ("--loss", l)),
                 "--output", out)
    assert result.exit_code == 0, result.stderr
    return yaml.safe_load(out.read_text())


@pytest.fixture
def written(cli, tmp_path, monkeypatch):
    """(the suite one `tune` of both losses wrote, CE's alone, New loss's alone from another cache)."""
    monkeypatch.chdir(tmp_path)
    suite = tiny_suite(tmp_path / "tiny.yaml", epochs=1)
    _filled_cache(suite, tmp_path / "a")
    (tmp_path / "b" / "tune").mkdir(parents=True)  # the same studies, in another machine's cache
    shutil.copy(tmp_path / "a" / "tune" / "tiny.db", tmp_path / "b" / "tune" / "tiny.db")
    whole = _tune(cli, suite, tmp_path / "a", tmp_path / "all.yaml")
    ce = _tune(cli, suite, tmp_path / "a", tmp_path / "ce.yaml", "CE")
    new = _tune(cli, suite, tmp_path / "b", tmp_path / "new.yaml", "New loss")
    return whole, ce, new


def _without_storage(data):
    data = copy.deepcopy(data)
    data["tuned"].pop("storage")
    data["tuned"].pop("checksum")
    for study in data["tuned"]["studies"].values():
        study.pop("storage", None)
    return data


def test_per_loss_tunings_merge_into_the_suite_one_tune_writes(written, tmp_path):
    whole, ce, new = written
    assert [l["label"] for l in ce["losses"]] == ["CE"] and [l["label"] for l in new["losses"]] == ["New loss"]
    # in the suite's order, whichever order the parts come in
    merged = merge_tuned_suites([("new.yaml", new), ("ce.yaml", ce)], order=LABELS)
    assert _without_storage(merged) == _without_storage(whole)
    assert list(merged) == list(whole)  # keys in the order tune writes them
    # the two caches are named per study; the merged suite verifies and loads
    assert merged["tuned"]["storage"] == "per study"
    assert {s["storage"] for s in merged["tuned"]["studies"].values()} == {
        ce["tuned"]["storage"], new["tuned"]["storage"]} and ce["tuned"]["storage"] != new["tuned"]["storage"]
    path = tmp_path / "merged.yaml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False))
    assert tuned_section_verified(path)
    suite, _ = load_suite(str(path))
    assert [l.label for l in suite.losses] == LABELS
    # one storage for all: kept as it was
    same = merge_tuned_suites([("ce.yaml", ce), ("ce-again", _rename(ce, "New loss", new))], order=LABELS)
    assert same["tuned"]["storage"] == ce["tuned"]["storage"]
    assert all("storage" not in s for s in same["tuned"]["studies"].values())


def _rename(part, label, like):
    """``part`` re-labelled as ``like``'s loss (its data as tune would write it, re-checksummed)."""
    data = copy.deepcopy(like)
    data["tuned"]["storage"] = part["tuned"]["storage"]
    data["tuned"]["checksum"] = tuned_checksum(data)
    return data


def _edited(data, change):
    data = copy.deepcopy(data)
    change(data)
    data["tuned"]["checksum"] = tuned_checksum(data)
    return data


@pytest.mark.parametrize("change, says", [
    (lambda d: d["tuned"].update(trials=2), "trials"),
    (lambda d: d["tuned"].update(metric="nmi"), "metric"),
    (lambda d: d["train"].update(epochs=3), "train"),
    (lambda d: d.update(seeds=[7]), "seeds"),
    (lambda d: d["tuned"].update(tuning_seeds=[0, 5]), "tuning_seeds"),
])
def test_tunings_of_other_settings_do_not_merge(written, change, says):
    _, ce, new = written
    with pytest.raises(UserError, match=f"new.yaml: its .*{says}.* differs from ce.yaml's"):
        merge_tuned_suites([("ce.yaml", ce), ("new.yaml", _edited(new, change))], order=LABELS)


def test_an_edited_part_a_loss_twice_or_a_loss_missing_is_refused(written):
    _, ce, new = written
    forged = copy.deepcopy(new)
    forged["losses"][0]["params"]["gamma"] = 99.0  # checksum left as it was
    with pytest.raises(UserError, match="forged.yaml: not a tuned suite as `modbench tune` wrote it"):
        merge_tuned_suites([("ce.yaml", ce), ("forged.yaml", forged)], order=LABELS)
    with pytest.raises(UserError, match="'CE' is tuned in two"):
        merge_tuned_suites([("ce.yaml", ce), ("again.yaml", ce)], order=LABELS)
    with pytest.raises(UserError, match="no tuned suite merged has 'New loss'"):
        merge_tuned_suites([("ce.yaml", ce)], order=LABELS)
    with pytest.raises(UserError, match="'New loss' is tuned .* not one of the losses"):
        merge_tuned_suites([("ce.yaml", ce), ("new.yaml", new)], order=["CE"])
    with pytest.raises(UserError, match="nothing to merge"):
        merge_tuned_suites([], order=LABELS)


def test_the_merge_tuned_command_writes_what_one_tune_writes(written, cli, tmp_path):
    """``modbench merge-tuned PART... -o FILE``: the parts merged in the order given, written as
    `tune` writes a suite (header, checksum); the file loads and verifies."""
    whole, ce, new = written
    result = cli("merge-tuned", tmp_path / "ce.yaml", tmp_path / "new.yaml", "--output", tmp_path / "merged.yaml")
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stderr and "2 tuned losses" in result.stderr
    text = (tmp_path / "merged.yaml").read_text()
    assert text.startswith("# Written by `modbench tune` from ") and "--suite merged.yaml" in text
    assert _without_storage(yaml.safe_load(text)) == _without_storage(whole)
    assert tuned_section_verified(tmp_path / "merged.yaml")
    # to stdout, and the default file name: the suite's name
    printed = cli("merge-tuned", tmp_path / "ce.yaml", tmp_path / "new.yaml", "--output", "-")
    assert printed.exit_code == 0 and yaml.safe_load(printed.stdout) == yaml.safe_load(text)
    default = cli("merge-tuned", tmp_path / "new.yaml", tmp_path / "ce.yaml")  # the cwd is tmp_path
    assert default.exit_code == 0, default.stderr
    assert [l["label"] for l in yaml.safe_load((tmp_path / f"{whole['name']}.yaml").read_text())["losses"]] == [
        "New loss", "CE"]  # the order given


@pytest.mark.parametrize("make, says", [
    (lambda p: None, "cannot read file"),
    (lambda p: p.write_text("name: [unclosed\n"), "invalid YAML at line 2"),
    (lambda p: p.write_text("- just\n- a list\n"), "the top level must be a mapping of keys, not a list"),
    (lambda p: p.write_text("a: !!python/object:os.system ls\n"), "unsafe or unknown YAML tag refused"),
    (lambda p: p.write_text(p.with_name("new.yaml").read_text().replace("gamma:", "gamma: 99.0 #")),
     "not a tuned suite as `modbench tune` wrote it"),
])
def test_the_merge_tuned_command_refuses_in_one_line_and_writes_nothing(written, cli, tmp_path, make, says):
    bad = tmp_path / "bad.yaml"
    make(bad)
    result = cli("merge-tuned", tmp_path / "ce.yaml", bad, "--output", tmp_path / "merged.yaml")
    assert result.exit_code == 2, result.output
    assert says in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr
    assert not (tmp_path / "merged.yaml").exists()


@pytest.mark.parametrize("command", ["tune", "merge-tuned"])
def test_an_output_that_is_a_folder_is_one_line_before_any_work(written, cli, tmp_path, command):
    folder = tmp_path / "out"
    folder.mkdir()
    if command == "tune":
        args = ["tune", "--suite", tmp_path / "tiny.yaml", "--cache-dir", tmp_path / "a", "--device", "cpu",
                "--trials", "1", "--pruner", "none", "--reselect-top", "0"]
    else:
        args = ["merge-tuned", tmp_path / "ce.yaml", tmp_path / "new.yaml"]
    result = cli(*args, "--output", folder)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors == [f"error: --output {folder}: is a folder; give a file name such as {folder / 'tuned.yaml'}"]
    assert "Traceback" not in result.stderr and list(folder.iterdir()) == []
