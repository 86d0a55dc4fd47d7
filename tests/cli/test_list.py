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


def test_suite_descriptions_are_shown_as_text(cli, tmp_path, monkeypatch):
    import modbench.suite.loader as loader

    (tmp_path / "odd.yaml").write_text('description: "[bold red]x[/bold red] [/] \\e[2J done"\n')
    monkeypatch.setattr(loader, "builtin_suites_dir", lambda: tmp_path)
    result = cli("list", "suites")
    assert result.exit_code == 0, result.stderr
    assert "[bold red]x[/bold red] [/] [2J done" in result.stdout and "\x1b" not in result.stdout
