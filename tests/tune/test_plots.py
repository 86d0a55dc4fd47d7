"""``report --plots`` draws each study: best validation metric against trial number, and the
metric against each searched parameter."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")


def test_one_figure_per_study_and_per_searched_parameter(tmp_path):
    from modbench.tune import study as st
    from modbench.tune.plots import write_tune_plots

    (tmp_path / "cache" / "tune").mkdir(parents=True)
    storage = st.open_storage(f"sqlite:///{tmp_path / 'cache' / 'tune' / 'tiny.db'}")
    study = st.open_study(storage, "tiny | New loss | map@r | abc", pruner="none")
    for i in range(3):
        t = study.ask()
        beta = t.suggest_float("beta", 2, 16)
        t.suggest_float("lr", 1e-6, 1e-2, log=True)
        study.tell(t, beta / 16)
    written = write_tune_plots(tmp_path / "cache", tmp_path / "plots")
    names = sorted(p.name for p in written)
    assert names == ["tune-tiny-New-loss-beta.png", "tune-tiny-New-loss-history.png", "tune-tiny-New-loss-lr.png"]
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
    assert names == ["tune-tiny-New-loss-beta.png", "tune-tiny-New-loss-history.png",
                     "tune-tiny-New-loss-pruner-none-beta.png", "tune-tiny-New-loss-pruner-none-history.png"]


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
