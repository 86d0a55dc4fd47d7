"""The paper's Tables 1 and 2 as package data, and the matching of measured runs to its rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modbench.results.paper import load_paper, paper_records, read_paper_json
from results.factory import config

PAPER_TEXT = Path("/work/shared/paper/improved-loss-function-for-image-classification.txt")
PRINTED_LOSS = {"Margin loss": "margin", "Triplet loss": "triplet", "New loss*": "improved"}


def test_the_json_ships_with_the_package_and_names_its_source():
    data = read_paper_json()
    src = data["source"]
    assert src["title"] == "Improved Loss Function for Image Classification"
    assert src["authors"] == ["Chenrui Wen", "Xinhao Yang", "Ke Zhang", "Jiahui Zhang"]
    assert src["year"] == 2021 and src["tables"] == [1, 2]
    paper = load_paper()
    assert sorted(paper.tables) == [1, 2]
    assert len(paper.tables[1].rows) == 3 and len(paper.tables[2].rows) == 12
    # the blank Dataset cell of Table 2 is recorded, with how it was read
    assert "rows 4-6 are CIFAR-10 with GoogLeNet" in paper.tables[2].interpretation
    blank = [r for r in data["tables"][1]["rows"] if r["printed_row"] in (4, 5, 6)]
    assert all(r["printed_dataset"] == "" and r["dataset"] == "cifar10" and r["backbone"] == "googlenet" for r in blank)


ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_ships_the_data_folder():
    tomllib = pytest.importorskip("tomllib")
    setuptools_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "modbench.paper_data" in setuptools_cfg["packages"]
    assert "*.json" in setuptools_cfg["package-data"]["modbench.paper_data"]
    assert (ROOT / "modbench" / "paper_data" / "paper_tables.json").is_file()


@pytest.mark.slow
def test_an_installed_copy_finds_the_tables(tmp_path):
    """``pip install --target`` (no dependencies), then load the tables from that copy only."""
    import shutil
    import subprocess
    import sys

    source = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("modbench", "suites"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    assert (target / "modbench" / "paper_data" / "paper_tables.json").is_file()
    code = "import modbench.results.paper as p; t = p.load_paper(); print(p.__file__); print(len(t.tables[2].rows))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""},
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout.split()
    assert out[0].startswith(str(target)) and out[1] == "12"


def _printed_rows(text: str, caption: str, n_values: int) -> list[list[str]]:
    """The tab-separated rows printed after ``caption`` in the paper's text version."""
    block = text.split(caption, 1)[1]
    rows = []
    for line in block.splitlines():
        cells = line.split("\t")
        numeric = len(cells) > n_values and all(re.fullmatch(r"\d\.\d+", c) for c in cells[-n_values:])
        if numeric:
            rows.append(cells)
        elif rows:
            break
    return rows


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason="the paper's text is not in this checkout")
def test_values_are_the_ones_printed_in_the_paper():
    text = PAPER_TEXT.read_text()
    paper = load_paper()
    t1 = _printed_rows(text, "TABLE 1: Comparison on the CIFAR-100 dataset.", 2)
    assert [(PRINTED_LOSS[c[0]], float(c[1]), float(c[2])) for c in t1] == [
        # the paper's F1 is macro-F1 of classification (its section 3.3): stored as macro_f1
        (r.loss, r.values["nmi"], r.values["macro_f1"]) for r in paper.tables[1].rows
    ]
    t2 = _printed_rows(text, "TABLE 2: Comparison of recall rates with three loss functions.", 4)
    assert len(t2) == 12
    stored = paper.tables[2].rows
    for cells, row in zip(t2, stored):
        assert PRINTED_LOSS[cells[2]] == row.loss == PRINTED_LOSS[row.printed_loss]
        assert [float(v) for v in cells[3:7]] == [row.values[m] for m in ("recall@1", "recall@2", "recall@4", "recall@8")]
        if cells[1]:
            assert re.sub(r"\W", "", cells[1]).lower() == row.backbone
    raw = read_paper_json()["tables"][1]["rows"]
    assert [c[0] for c in t2] == [r["printed_dataset"] for r in raw]


@pytest.mark.parametrize(
    "cfg,table,expected",
    [
        (dict(dataset="cifar100", backbone="googlenet", loss="margin"), 1, (0.512, 1)),
        (dict(dataset="cifar100", backbone="googlenet", loss="improved", labels="fine"), 1, (0.542, 3)),
        (dict(dataset="cifar100", backbone="googlenet", loss="margin", labels="coarse"), 1, None),
        (dict(dataset="cifar100", backbone="googlenet", loss="triplet"), 2, (0.610, 2)),
        (dict(dataset="cifar10", backbone="googlenet", loss="improved"), 2, (0.722, 6)),
        (dict(dataset="cifar10", backbone="resnet50", loss="margin"), 2, (0.7807, 7)),
        (dict(dataset="fashion-mnist", backbone="resnet50", loss="improved"), 2, (0.8749, 12)),
        (dict(dataset="cifar10", backbone="googlenet", loss="improved"), 1, None),  # Table 1 is CIFAR-100
        (dict(dataset="cifar10", backbone="resnet18", loss="improved"), 2, None),
        (dict(dataset="cifar10", backbone="googlenet", loss="proxynca"), 2, None),
        (dict(dataset="digits", backbone="small-cnn", loss="triplet"), 2, None),
    ],
)
def test_matching_on_dataset_backbone_and_loss(cfg, table, expected):
    row = load_paper().row_for_config(table, config(**cfg))
    if expected is None:
        assert row is None
    else:
        first = "nmi" if table == 1 else "recall@1"
        assert (row.values[first], row.printed_row) == expected


def test_differences_from_the_papers_protocol():
    paper = load_paper()
    same = config(dataset="fashion-mnist", backbone="resnet50", loss="improved", params={"beta": 4, "gamma": 10})
    assert paper.differences(same) == []
    off = config(
        dataset="cifar10", loss="improved", params={"beta": 4, "gamma": 3}, subset=2, train={"epochs": 1, "lr": 1e-3}
    )
    assert paper.differences(off) == [
        "lr 0.001 (paper: 1e-05)", "epochs 1 (paper: 70)", "subset 2 images per class (paper: full training set)",
        "gamma 3 (paper: 5)",
    ]
    weights = config(dataset="fashion-mnist", backbone="resnet50", loss="improved", params={"beta": 4, "gamma": 10})
    weights["backbone"].update(weights="/w/r50.pth", weights_digest="0" * 64, freeze_bn=True)
    assert paper.differences(weights) == ["pretrained True (paper: False)", "freeze_bn True (paper: BatchNorm trained)"]


def test_paper_records_for_json():
    from modbench.results.aggregate import group_rows
    from results.factory import make_row

    rows = [make_row("Mine", loss="improved", dataset="cifar100", metrics={"nmi": 0.5}),
            make_row("Other", loss="proxynca", dataset="cifar100", metrics={"nmi": 0.4})]
    (record,) = paper_records(load_paper(), group_rows(rows))
    assert record["status"] == "paper" and record["seed"] is None and record["label"] == "New loss*"
    assert record["nmi"] == 0.542 and record["recall@8"] == 0.817
    assert record["paper"]["rows"] == [{"table": 1, "printed_row": 3}, {"table": 2, "printed_row": 3}]
    assert record["paper"]["measured_label"] == "Mine"
    # the paper's F1 is macro-F1 of classification: beside macro_f1, never under f1
    assert record["macro_f1"] == 0.55 and "f1" not in record
    assert "macro-F1 of classification" in record["paper"]["metrics_as"]["macro_f1"]
