"""File names from suite text: safe, readable, and one-to-one."""

from __future__ import annotations

from modbench.render.file_names import name_part


def test_safe_short_text_is_kept_as_it_is():
    assert name_part("cifar10-googlenet") == "cifar10-googlenet"


def test_texts_a_file_name_cannot_hold_get_names_of_their_own():
    texts = ["a/b", "a_b", "a b", "a\\b", "..", ".", "_", "a" * 61, "a" * 62, "a" * 60 + "/", "\x1b[2J"]
    names = [name_part(t) for t in texts]
    assert len(set(names)) == len(texts)
    for name in names:
        assert "/" not in name and name not in (".", "..") and name.isprintable() and len(name) <= 60
