"""The report finds every seed the cache holds for a suite's loss settings
(``results.report_model.build_report``, which replaced ``rows.with_cached_seeds``)."""

from __future__ import annotations

from modbench.cache.store import RunStore
from modbench.suite.loader import load_suite
from modbench.suite.runs import apply_overrides, resolve_runs

SUITE = """\
name: seeds
dataset: {name: digits}
backbone: {name: small-cnn, embedding_dim: 8}
train: {epochs: 1, batch_size: 8, lr: 1.0e-3}
seeds: [0]
losses:
  - {name: cross-entropy, label: CE}
  - {name: triplet, label: Triplet}
"""


def write(store, run, *, done=True):
    run_dir = store.run(run.key)
    run_dir.write_config(run.config)
    if done:
        run_dir.save_checkpoint({"epoch": 1})  # a result must point at a checksummed checkpoint
        run_dir.write_result({"key": run.key, "metrics": {"nmi": 0.5 + run.seed / 100}, "config": run.config})


def test_the_report_model_finds_them_and_keeps_other_experiments_apart(tmp_path):
    from modbench.results.deviations import annotate
    from modbench.results.report_model import build_report
    from modbench.results.summary import summarize_rows

    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    suite, source = load_suite(str(path))
    store = RunStore(tmp_path / "cache")
    wide = resolve_runs(apply_overrides(suite, seeds=[0, 1, 2]), source)
    for run in wide:
        if (run.label, run.seed) in {("CE", 0), ("CE", 2), ("Triplet", 1)}:
            write(store, run)
    write(store, resolve_runs(apply_overrides(suite, epochs=3, seeds=[7]), source)[0])
    model = build_report(store, [str(path)])
    assert [(r.label, r.seed, r.status, r.config["train"]["epochs"]) for r in model.rows] == [
        ("CE", 0, "done", 1), ("CE", 2, "done", 1), ("CE", 7, "done", 3), ("Triplet", 0, "missing", 1), ("Triplet", 1, "done", 1),
    ]
    by_seed = {(r.label, r.seed): r for r in wide}
    for row in model.rows:  # the same run (key, config) as training with --seed would give
        if row.config["train"]["epochs"] == 1:
            assert (row.key, row.config) == (by_seed[(row.label, row.seed)].key, by_seed[(row.label, row.seed)].config)
    titles = [s.title for s in summarize_rows(annotate(model.rows, model.written))]
    assert titles == ["seeds", "seeds (epochs 3)"]  # the 3-epoch run is never averaged in
