"""``tune --output -``: the tuned suite on stdout (valid YAML, nothing else there); the summary
table goes to stderr."""

from __future__ import annotations

import yaml

from tune_helpers import tiny_suite

from modbench.tune import session as tune_session


def test_tuned_suite_to_stdout(cli, tmp_path, monkeypatch):
    suite = tiny_suite(tmp_path / "tiny.yaml", epochs=1)
    cache = tmp_path / "cache"
    spec = tune_session.TuneSpec(suite_ref=str(suite), trials=1, pruner="none", cache_root=str(cache), device="cpu")
    session = tune_session.open_session(spec)
    for target in session.targets:  # each study's one trial done: nothing trains
        study = session.study(target)
        study.tell(study.ask(), 0.5)
    monkeypatch.chdir(tmp_path)
    result = cli("tune", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--trials", "1",
                 "--pruner", "none", "--output", "-")
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["tuned"]["trials"] == 1 and data["name"] == "tiny-tuned"
    assert "Tuning on validation" in result.stderr
    assert not (tmp_path / "-").exists()
