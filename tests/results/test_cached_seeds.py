"""The report finds every seed the cache holds for a suite's loss settings (``build_report``,
which replaced ``rows.with_cached_seeds``), and keeps other experiments apart."""

from __future__ import annotations

from modbench.cache.store import RunStore
from modbench.results.report_model import build_report
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


def test_seeds_trained_beyond_the_suite_are_found(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    suite, source = load_suite(str(path))
    store = RunStore(tmp_path / "cache")
    wide = resolve_runs(apply_overrides(suite, seeds=[0, 1, 2, 5]), source)
    for run in wide:
        if run.label == "CE" and run.seed in (0, 2):
            write(store, run)
        if run.label == "Triplet" and run.seed == 1:
            write(store, run)
        if run.label == "Triplet" and run.seed == 5:
            write(store, run, done=False)  # interrupted: not a result
    other = resolve_runs(apply_overrides(suite, epochs=3, seeds=[7]), source)[0]
    write(store, other)  # another experiment (3 epochs): never mixed in

    model = build_report(store, [str(path)])
    shown = [(r.label, r.seed, r.status) for r in model.rows if r.config["train"]["epochs"] == 1]
    assert shown == [("CE", 0, "done"), ("CE", 2, "done"), ("Triplet", 0, "missing"), ("Triplet", 1, "done")]
    by_seed = {(r.label, r.seed): r for r in wide}
    for row in model.rows:  # the same run (key, config) as training with --seed would give
        if row.config["train"]["epochs"] == 1:
            assert (row.key, row.config) == (by_seed[(row.label, row.seed)].key, by_seed[(row.label, row.seed)].config)
    assert [r.metrics for r in model.rows if (r.label, r.seed) == ("CE", 2)] == [{"nmi": 0.52}]
    # the 3-epoch run is another experiment: shown apart (its own section), never averaged in
    (other_row,) = [r for r in model.rows if r.config["train"]["epochs"] == 3]
    assert other_row.seed == 7
    from modbench.results.deviations import annotate
    from modbench.results.summary import summarize_rows

    titles = [s.title for s in summarize_rows(annotate(model.rows, model.written))]
    assert titles == ["seeds", "seeds (epochs 3)"]
