"""``report --plots`` draws each study: best validation metric against trial number, and the
metric against each searched parameter."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")


def test_one_figure_per_study_and_per_searched_parameter(tmp_path):
    from modbench.tune import study as st
    from modbench.tune.plots import study_stem, write_tune_plots

    (tmp_path / "cache" / "tune").mkdir(parents=True)
    storage = st.open_storage(f"sqlite:///{tmp_path / 'cache' / 'tune' / 'tiny.db'}")
    study = st.open_study(storage, "tiny | New loss | map@r | abc", pruner="none")
    for i in range(3):
        t = study.ask()
        beta = t.suggest_float("beta", 2, 16)
        t.suggest_float("lr", 1e-6, 1e-2, log=True)
        study.tell(t, beta / 16)
    written = write_tune_plots(tmp_path / "cache", tmp_path / "plots")
    stem = study_stem("tiny | New loss | map@r | abc", "tiny.db")
    assert stem.startswith("tiny-New_loss-")  # the suite and the label stay readable
    names = sorted(p.name for p in written)
    assert names == [f"tune-{stem}-beta.png", f"tune-{stem}-history.png", f"tune-{stem}-lr.png"]
    assert all(p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert write_tune_plots(tmp_path / "empty", tmp_path / "plots") == []


def test_two_studies_of_one_loss_differing_in_pruner_get_their_own_files(tmp_path):
    """The default study and a `--pruner none` check of the same loss: both drawn, none overwritten."""
    from modbench.tune import study as st
    from modbench.tune.plots import write_tune_plots

    (tmp_path / "cache" / "tune").mkdir(parents=True)
    storage = st.open_storage(f"sqlite:///{tmp_path / 'cache' / 'tune' / 'tiny.db'}")
    for pruner in ("asha", "none"):
        study = st.open_study(storage, f"tiny | New loss | map@r | abc{st.PRUNER_FIELD}{pruner}", pruner=pruner)
        t = study.ask()
        study.tell(t, t.suggest_float("beta", 2, 16) / 16)
    names = sorted(p.name for p in write_tune_plots(tmp_path / "cache", tmp_path / "plots"))
    assert len(names) == 4 and all(n.startswith("tune-tiny-New_loss-") for n in names)
    assert sum(n.startswith("tune-tiny-New_loss-pruner-none-") for n in names) == 2


def _study(storage, name: str, value: float = 0.5):
    from modbench.tune import study as st

    study = st.open_study(storage, name, pruner="none")
    t = study.ask()
    study.tell(t, t.suggest_float("beta", 2, 16) * value / 16)
    return study


@pytest.mark.slow  # several studies and their figures
def test_figures_of_different_studies_never_share_a_file(tmp_path):
    """Labels that differ only past 60 characters, labels that differ only in a character a file
    name cannot hold ('a/b', 'a_b', 'a b'), and studies of one loss that differ in their digest
    (another epoch count): each study its own files, and what is returned is what exists."""
    from modbench.tune import study as st
    from modbench.tune.plots import write_tune_plots

    (tmp_path / "cache" / "tune").mkdir(parents=True)
    storage = st.open_storage(f"sqlite:///{tmp_path / 'cache' / 'tune' / 'tiny.db'}")
    long = "x" * 70
    names = [f"tiny | {label} | map@r | {digest}{st.PRUNER_FIELD}asha" for label, digest in [
        (long + "1", "d1"), (long + "2", "d1"), ("a/b", "d1"), ("a_b", "d1"), ("a b", "d1"), ("CE", "d1"), ("CE", "d2"),
    ]]
    for name in names:
        _study(storage, name)
    written = write_tune_plots(tmp_path / "cache", tmp_path / "plots")
    assert len(written) == 2 * len(names)  # history and beta, per study
    assert len(set(written)) == len(written)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in written)
    assert all(len(p.name) <= 120 for p in written)
    # The study's identity stays readable: suite and label in the name.
    assert any(p.name.startswith("tune-tiny-CE-") for p in written)


def test_unreadable_and_foreign_databases_are_skipped_named_and_left_unchanged(tmp_path):
    """A corrupt file, an empty file and an SQLite file that holds no study, beside a real study:
    each skipped with one line naming it and why, none written to (a report is read-only), and
    the real study still drawn."""
    import sqlite3

    from modbench.tune import study as st
    from modbench.tune.plots import write_tune_plots

    tune = tmp_path / "cache" / "tune"
    tune.mkdir(parents=True)
    _study(st.open_storage(f"sqlite:///{tune / 'good.db'}"), "tiny | CE | map@r | d1 | pruner asha")
    (tune / "corrupt.db").write_bytes(b"not a database at all\n" * 200)
    (tune / "empty.db").write_bytes(b"")
    with sqlite3.connect(tune / "other.db") as con:
        con.execute("create table notes (x)")
    con.close()
    before = {p.name: p.read_bytes() for p in tune.iterdir() if p.name != "good.db"}
    skipped = []
    written = write_tune_plots(tmp_path / "cache", tmp_path / "plots", skipped=skipped.append)
    assert len(written) == 2
    assert {p.name: p.read_bytes() for p in tune.iterdir() if p.name in before} == before
    assert not (tune / "empty.db.lock").exists() and not (tune / "corrupt.db.lock").exists()
    assert len(skipped) == 3 and all("\n" not in line for line in skipped)
    for name in ("corrupt.db", "empty.db", "other.db"):
        assert sum(name in line for line in skipped) == 1
    assert "not an Optuna study" in next(line for line in skipped if "other.db" in line)


def test_trial_numbers_are_on_integer_ticks(tmp_path, monkeypatch):
    """Two trials (numbers 0 and 1): the history's x ticks are whole trial numbers, not 0.5."""
    from modbench.tune import plots
    from modbench.tune import study as st

    ticks = {}
    finish = plots._finish

    def record(fig, ax, xlabel, *args):
        fig.canvas.draw()
        ticks[xlabel] = list(ax.xaxis.get_majorticklocs())
        return finish(fig, ax, xlabel, *args)

    monkeypatch.setattr(plots, "_finish", record)
    (tmp_path / "cache" / "tune").mkdir(parents=True)
    storage = st.open_storage(f"sqlite:///{tmp_path / 'cache' / 'tune' / 'tiny.db'}")
    study = st.open_study(storage, "tiny | New loss | map@r | abc", pruner="none")
    for _ in range(2):
        t = study.ask()
        study.tell(t, t.suggest_float("beta", 2, 16) / 16)
    plots.write_tune_plots(tmp_path / "cache", tmp_path / "plots")
    shown = [x for x in ticks["trial number"] if -0.5 <= x <= 1.5]
    assert shown and all(float(x).is_integer() for x in shown), ticks["trial number"]
