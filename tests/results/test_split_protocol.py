"""Which protocol a run is reported under: its data record first (a dataset whose loader has a
class-disjoint split of its own), else its configuration's ``dataset.split``."""

from __future__ import annotations

from modbench.results.rows import accuracy_applicable
from modbench.results.split_protocol import protocol_mode, protocol_note, protocol_text

CLOSED_CONFIG = {"dataset": {"name": "digits"}}
DISJOINT_CONFIG = {"dataset": {"name": "digits", "split": {"mode": "class-disjoint", "seed": 0}}}
COUNTS = {"protocol": "class-disjoint", "class_counts": {"train": 50, "val": 50, "test": 100}}


def test_from_the_configuration_and_from_the_record():
    assert protocol_mode(CLOSED_CONFIG) == "closed" and protocol_text(CLOSED_CONFIG) == "closed-set"
    assert protocol_mode(DISJOINT_CONFIG) == "class-disjoint"
    assert protocol_text(DISJOINT_CONFIG) == "class-disjoint"  # no result yet: no counts
    own = {"data": {"info": COUNTS}}  # e.g. a loader whose standard split is class-disjoint
    assert protocol_mode(CLOSED_CONFIG, own) == "class-disjoint"
    assert protocol_text(CLOSED_CONFIG, own) == "class-disjoint (train 50, validation 50, test 100 classes)"


def test_no_classifier_accuracy_under_class_disjoint():
    assert accuracy_applicable({"family": "softmax", "config": CLOSED_CONFIG}) is True
    assert accuracy_applicable({"family": "softmax", "config": DISJOINT_CONFIG}) is False
    assert accuracy_applicable({"family": "softmax", "config": CLOSED_CONFIG, "data": {"info": COUNTS}}) is False
    assert accuracy_applicable({"family": "embedding", "config": DISJOINT_CONFIG}) is False
    assert accuracy_applicable(None) is None


def test_the_note_names_a_mix():
    assert protocol_note([]) == ""
    assert protocol_note(["closed-set"]) == "Protocol: closed-set: the test split holds the training classes."
    note = protocol_note(["closed-set", "class-disjoint (train 3, validation 2, test 5 classes)"])
    assert "(differs between runs)" in note and "never seen in training" in note


def test_counts_from_a_retrieval_loaders_record():
    # CUB-200-2011's standard split as the retrieval loaders record it: ids as [first, last] runs.
    info = {"protocol": "class-disjoint", "class_ids": {"train": [[0, 89]], "val": [[90, 99]], "test": [[100, 199]]}}
    assert protocol_text(None, {"data": {"info": info}}) == "class-disjoint (train 90, validation 10, test 100 classes)"
    info["class_ids"]["train"] = [[0, 3], [7, 9]]  # 4 + 3 classes
    assert protocol_text(None, {"data": {"info": info}}).startswith("class-disjoint (train 7,")
