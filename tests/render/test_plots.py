"""Training-curve plots: the figure holds one line per loss setting with the history's values,
a min-max band where there are several seeds, and the files are real PNG images."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from modbench.errors import UserError
from modbench.render.plots import metric_figure, plot_filename, require_matplotlib, write_plots
from modbench.results.aggregate import group_rows
from modbench.results.curves import TRAIN_LOSS, curve_metrics, metric_curves
from results.factory import make_row

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history(seed: int, shift: float, epochs: int = 4):
    return [
        {"epoch": e, "train_loss": 2.0 / e + seed * 0.01, "val": {"nmi": 0.1 * e + shift + 0.01 * seed, "recall@1": 0.2 * e}}
        for e in range(1, epochs + 1)
    ]


def fixture():
    rows, histories = [], {}
    for label, shift, seeds in (("Cross-entropy", 0.0, [0, 1, 2]), ("New loss", 0.05, [0, 1, 2]), ("Triplet", -0.05, [0])):
        for seed in seeds:
            row = make_row(label, seed=seed, metrics={"nmi": 0.5})
            rows.append(row)
            histories[row.key] = history(seed, shift)
    rows.append(make_row("Failed", seed=0, status="failed"))
    return group_rows(rows), histories


def test_curves_hold_the_mean_and_range_over_seeds():
    groups, histories = fixture()
    assert curve_metrics(histories) == ["nmi", "recall@1", TRAIN_LOSS]
    curves = metric_curves(groups, histories, "nmi")
    assert [c.label for c in curves] == ["Cross-entropy", "New loss", "Triplet"]  # no curve for the failed run
    ce = curves[0]
    per_seed = np.array([[r["val"]["nmi"] for r in history(s, 0.0)] for s in (0, 1, 2)])
    assert ce.epochs == [1, 2, 3, 4] and ce.seeds == [0, 1, 2]
    np.testing.assert_allclose(ce.mean, per_seed.mean(axis=0))
    np.testing.assert_allclose(ce.low, per_seed.min(axis=0))
    np.testing.assert_allclose(ce.high, per_seed.max(axis=0))


def test_curves_tolerate_missing_epochs_and_nan():
    rows = [make_row("A", seed=0, metrics={"nmi": 1}), make_row("A", seed=1, metrics={"nmi": 1})]
    histories = {
        rows[0].key: [{"epoch": 1, "val": {"nmi": float("nan")}}, {"epoch": 2, "val": {"nmi": 0.4}}],
        rows[1].key: [{"epoch": 1, "val": {"nmi": 0.2}}],
    }
    (curve,) = metric_curves(group_rows(rows), histories, "nmi")
    assert curve.mean == [0.2, 0.4]
    assert curve.runs[1][1] != curve.runs[1][1]  # NaN where seed 1 has no epoch 2


def test_figure_has_one_line_per_loss_with_the_history_values():
    groups, histories = fixture()
    curves = metric_curves(groups, histories, "nmi")
    fig = metric_figure(curves, suite="digits", metric="nmi")
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 3
    assert [line.get_label() for line in lines] == ["Cross-entropy", "New loss", "Triplet"]
    for line, curve in zip(lines, curves):
        np.testing.assert_allclose(line.get_xdata(), curve.epochs)
        np.testing.assert_allclose(line.get_ydata(), curve.mean)
    triplet = [r["val"]["nmi"] for r in history(0, -0.05)]
    np.testing.assert_allclose(lines[2].get_ydata(), triplet)  # one seed: the seed's own values
    assert len(ax.collections) == 2  # min-max bands for the two losses with three seeds
    assert ax.get_xlabel() == "epoch" and "NMI" in ax.get_ylabel()
    loss_fig = metric_figure(metric_curves(groups, histories, TRAIN_LOSS), suite="digits", metric=TRAIN_LOSS)
    assert loss_fig.axes[0].get_yscale() == "log"


def test_sweep_suite_gets_one_line_per_parameter_value():
    rows, histories = [], {}
    for beta in (2, 3, 4, 5, 7, 10):
        row = make_row(f"New loss (beta={beta})", loss="improved", params={"beta": beta, "gamma": 3}, swept={"beta": beta}, metrics={"nmi": 1})
        rows.append(row)
        histories[row.key] = [{"epoch": e, "val": {"f1": beta / 10 + e / 100}} for e in (1, 2, 3)]
    curves = metric_curves(group_rows(rows), histories, "f1")
    ax = metric_figure(curves, suite="sweep", metric="f1").axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [f"New loss (beta={b})" for b in (2, 3, 4, 5, 7, 10)]
    np.testing.assert_allclose(ax.get_lines()[5].get_ydata(), [1.01, 1.02, 1.03])
    assert len(ax.collections) == 0  # one seed each: no band


def test_write_plots_writes_real_pngs_and_a_rerun_replaces_them(tmp_path):
    import matplotlib.image

    groups, histories = fixture()
    curves = {m: metric_curves(groups, histories, m) for m in curve_metrics(histories)}
    curves["f1"] = metric_curves(groups, histories, "f1")  # no value anywhere: no file
    files = write_plots("my suite/1", curves, tmp_path / "plots")
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    stem = plot_filename("my suite/1", "x")[: -len("-x.png")]
    assert stem.startswith("my_suite_1-")  # readable, with a hash: the name needed a change
    assert names == [f"{stem}-nmi.png", f"{stem}-recall_1.png", f"{stem}-train_loss.png"]
    assert [f.metric for f in files] == ["nmi", "recall@1", TRAIN_LOSS]
    assert all(f.lines == 3 and f.banded for f in files)
    for f in files:
        assert f.path.read_bytes()[:8] == PNG_MAGIC
        image = matplotlib.image.imread(f.path)
        assert image.shape[0] > 100 and image.shape[1] > 100
    first = files[0].path.stat().st_mtime_ns
    again = write_plots("my suite/1", curves, tmp_path / "plots")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == names  # replaced, not added
    assert again[0].path.stat().st_mtime_ns >= first


def test_plot_filename_is_sanitised_and_stable():
    assert plot_filename("cifar10-googlenet", "recall@1") == "cifar10-googlenet-recall_1.png"
    assert plot_filename("../x y", "map@r").startswith("x_y-")
    assert "/" not in plot_filename("a/b", "c")


def test_plot_filenames_of_different_suites_differ():
    """Suite names that differ only in a character a file name cannot hold, or past the cut,
    never share a figure."""
    suites = ["a/b", "a_b", "a b", "a?b", "x" * 80 + "1", "x" * 80 + "2"]
    names = {plot_filename(s, "recall@1") for s in suites}
    assert len(names) == len(suites)


def test_missing_matplotlib_is_a_one_line_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(UserError) as info:
        require_matplotlib()
    assert "pip install modbench[plots]" in str(info.value)
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


def test_labels_are_never_mathtext(tmp_path):
    """A ``$`` in a label or suite name is text: matplotlib used to parse ``$\\frac{$`` as
    mathtext and fail to save the figure."""
    rows = [make_row("$\\frac{$ x", seed=0, metrics={"nmi": 0.5}), make_row("\x1b[2Jplain", seed=0, loss="margin", metrics={"nmi": 0.4})]
    groups = group_rows(rows)
    histories = {r.key: history(0, 0.0) for r in rows}
    curves = {"nmi": metric_curves(groups, histories, "nmi")}
    (png,) = write_plots("a$b$^ suite", curves, tmp_path)
    assert png.path.read_bytes()[:8] == PNG_MAGIC
    fig = metric_figure(curves["nmi"], suite="a$b$^ suite", metric="nmi")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["\\$\\frac{\\$ x", "plain"]
