"""``modbench list``: each kind by its plural or singular name."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("singular, plural", [("loss", "losses"), ("suite", "suites"), ("backbone", "backbones"), ("dataset", "datasets")])
def test_singular_and_plural_list_the_same(cli, singular, plural):
    one, many = cli("list", singular), cli("list", plural)
    assert one.exit_code == 0 and many.exit_code == 0, one.stderr
    assert one.stdout == many.stdout and plural.capitalize() in one.stdout


def test_an_unknown_kind_suggests_the_closest(cli):
    result = cli("list", "lossez")
    assert result.exit_code == 2 and "list lossez: did you mean 'losses'?" in result.stderr
