"""The report's protocol section is self-contained: split sizes in words
(never a raw Python dict), no reference to files that are not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from modbench.render.protocol import protocol_markdown
from modbench.results.summary import summarize_rows
from results.factory import make_row

REPO = Path(__file__).resolve().parents[2]


def protocol(data):
    rows = [make_row("A", seed=s, metrics={"nmi": 0.5}, dataset="digits", result_extra={"data": data, "device": "cpu"})
            for s in (0, 1)]
    (summary,) = summarize_rows(rows)
    return protocol_markdown(summary.protocol)


def test_split_sizes_are_words_not_a_dict():
    text = protocol({"train": 1293, "val": 144, "test": 360,
                     "info": {"source": "sklearn.datasets.load_digits", "fixture": False, "labels": None}})
    (line,) = [item for item in _items(text) if item.startswith("- **Split sizes**")]
    assert "train 1293, validation 144, test 360 images (read with sklearn.datasets.load\\_digits)" in line
    assert "{" not in line and "'" not in line and "None" not in line
    fixture = protocol({"train": 4, "val": 1, "test": 2, "info": {"fixture": True}})
    assert "fixture data: synthetic files, not the real dataset" in " ".join(_items(fixture))


def _items(text: str) -> list[str]:
    """The Markdown list items of ``text``, each joined onto one line."""
    items: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            items.append(line)
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
    return items


def test_protocol_fits_80_columns_without_cutting_words():
    """Every line of the protocol section is at most 80 columns; wrapped items keep their words
    (the joined item equals the one-line text)."""
    data = {"train": 1293, "val": 144, "test": 360, "info": {"source": "sklearn.datasets.load_digits"}}
    text = protocol(data)
    assert max(len(line) for line in text.splitlines()) <= 80
    items = _items(text)
    assert any(i.startswith("- **Dataset**: Digits (`digits`); the official training split divided into train and "
                            "validation (class-stratified, val\\_fraction 0.1, split seed 0)") for i in items), items
    assert any(i.startswith("- **A**: `triplet`; parameters ") and i.endswith("; seeds done 2/2") for i in items), items


def test_protocol_cites_only_files_in_the_repository():
    text = protocol({"train": 10, "val": 1, "test": 5})
    assert "DESIGN.md" not in text
    assert "Retrieval here is closed-set" in text and "never seen in training" in text
    for path in re.findall(r"`([\w./-]+\.md)`", text):
        assert (REPO / path).is_file(), path


def test_device_row_names_precision_and_threads():
    rows = [make_row("A", seed=0, metrics={"nmi": 0.5}, result_extra={
        "device": "cpu", "numerics": {"device": "cpu", "precision": "float32", "cpu_threads": 2}})]
    rows.append(make_row("A", seed=1, metrics={"nmi": 0.5}, result_extra={"device": "cpu", "cpu_threads": 1}))
    summaries = summarize_rows(rows)
    text = "".join(protocol_markdown(s.protocol) for s in summaries)
    assert "cpu, precision float32, 2 CPU threads" in text and "cpu, 1 CPU thread" in text


def _training_line(train):
    rows = [make_row("A", seed=0, metrics={"nmi": 0.5}, dataset="digits", train=train,
                     result_extra={"data": {"train": 10, "val": 1, "test": 5}, "device": "cpu"})]
    (summary,) = summarize_rows(rows)
    (line,) = [item for item in _items(protocol_markdown(summary.protocol)) if item.startswith("- **Training**")]
    return line


def test_the_training_line_states_the_schedule_and_what_weight_decay_covers():
    plain = _training_line({})
    assert "constant learning rate" in plain and "weight decay 0.0004 on the network only" in plain
    line = _training_line({"scheduler": "cosine", "warmup_epochs": 2.0, "weight_decay_on": "all"})
    assert "cosine schedule after 2 warm-up epochs (stepped per batch)" in line
    assert "on every parameter (weight\\_decay\\_on: all)" in line or "on every parameter (weight_decay_on: all)" in line
    step = _training_line({"scheduler": "step", "step_size": 30, "gamma": 0.5})
    assert "step schedule (x0.5 every 30 epochs)" in step

def test_protocol_states_the_test_set_size_and_a_test_subset():
    whole = protocol({"train": 100, "val": 10, "test": 359, "info": {"test_total": 359}})
    (line,) = [item for item in _items(whole) if item.startswith("- **Split sizes**")]
    assert "test 359 images (the whole test split)" in line
    assert "the whole official test split for every reported number" in " ".join(_items(whole))
    rows = [make_row("A", seed=0, metrics={"nmi": 0.5}, dataset="digits", subset=10, test_subset=3,
                     result_extra={"data": {"train": 100, "val": 10, "test": 30,
                                            "info": {"test_total": 359, "test_subset": 3}}})]
    (summary,) = summarize_rows(rows)
    smoke = protocol_markdown(summary.protocol)
    (line,) = [item for item in _items(smoke) if item.startswith("- **Split sizes**")]
    assert "test 30 of 359 images" in line and "whole" not in line
    joined = " ".join(_items(smoke))
    assert "test subset: at most 3 test images per class (a smoke run: not the whole test split)" in joined
    assert "subset: at most 10 training images per class (validation in proportion)" in joined


def test_the_backbone_line_names_the_weights_file_and_frozen_batchnorm():
    rows = [make_row("A", seed=s, metrics={"nmi": 0.5}, dataset="digits", result_extra={"device": "cpu"})
            for s in (0, 1)]
    for row in rows:
        row.config["backbone"].update(weights="/data/w/my_<b>net</b>.pth", weights_digest="ab12" * 16, freeze_bn=True)
    (summary,) = summarize_rows(rows)
    (line,) = [item for item in _items(protocol_markdown(summary.protocol)) if item.startswith("- **Backbone**")]
    assert "pretrained weights from the file" in line and "sha256 ab12ab12ab12" in line
    assert "<b>" not in line and "/data/w" not in line  # the file's name only, as literal text
    assert "BatchNorm frozen" in line
    plain = " ".join(_items(protocol({"train": 4, "val": 1, "test": 2, "info": {}})))
    assert "trained from scratch" in plain and "BatchNorm" not in plain
