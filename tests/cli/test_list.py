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


def _names(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines()[1:] if line.strip()]


def test_list_losses_honours_a_pml_pattern(cli):
    """``pml:*`` lists pytorch-metric-learning's loss classes (compared with the library's own
    list), a plain pattern filters the built-in names."""
    from pytorch_metric_learning import losses

    result = cli("list", "losses", "pml:*Margin*")
    assert result.exit_code == 0, result.stderr
    expected = sorted(f"pml:{n}" for n, c in vars(losses).items()
                      if isinstance(c, type) and issubclass(c, losses.BaseMetricLossFunction) and "Margin" in n)
    assert _names(result.stdout) == expected and expected
    every = _names(cli("list", "losses", "pml:*").stdout)
    assert "pml:ContrastiveLoss" in every and all(n.startswith("pml:") for n in every)
    plain = _names(cli("list", "losses", "*entropy").stdout)
    assert plain == ["cross-entropy"]


def test_list_timm_backbones_without_timm_is_the_install_hint(cli, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "timm", None)  # import timm raises ImportError
    result = cli("list", "backbones", "timm:*resnet*")
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.strip().count("\n") == 0
    assert "pip install 'modbench[timm]'" in result.stderr and "Traceback" not in result.stderr
