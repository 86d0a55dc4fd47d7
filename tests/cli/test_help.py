"""Every command's --help: no fragments left by Rich eating a
'[default: ...]', no '<bool>' placeholder on plain flags, and every option says its default."""

from __future__ import annotations

import re

import pytest
import typer.main

from modbench.cli.app import app


def _commands():
    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        out.append((path, cmd))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    return out


COMMANDS = _commands()


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "modbench")
def test_help_has_no_fragments_or_bool_placeholders(cli, path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "<bool>" not in text
    assert not re.search(r"\w \.(?=\s|$)", text, re.M), re.findall(r".{30}\w \.(?=\s|$)", text, re.M)  # "Cache root ."
    assert "[]" not in text


def _options():
    for path, cmd in COMMANDS:
        for param in cmd.params:
            if param.param_type_name == "option" and not getattr(param, "is_flag", False):
                yield " ".join(path) or "modbench", param


@pytest.mark.parametrize("where,param", list(_options()), ids=lambda x: x if isinstance(x, str) else x.opts[0])
def test_every_valued_option_states_its_default(where, param):
    if param.required:
        return
    shown = param.default is not None and param.show_default is not False
    assert shown or re.search(r"default|\bevery\b|otherwise|give this or", param.help or "", re.I), (
        f"{where} {param.opts[0]}: the help does not say what happens without it: {param.help!r}"
    )


def test_no_private_typer_or_click_imports():
    """The CLI relies on Typer's public API only."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "modbench"
    offenders = [str(p) for p in root.rglob("*.py") if "typer._click" in p.read_text() or "from click" in p.read_text()]
    assert offenders == []


def test_usage_errors_are_one_line_exit_2(cli):
    result = cli("compare", "--suite", "digits", "--epochs", "0")
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    result = cli("train", "--no-such-flag")
    assert result.exit_code == 2 and "--no-such-flag" in result.stderr and result.stderr.count("\n") == 1
    bare = cli()
    assert bare.exit_code == 2 and "Usage" in bare.stdout and "compare" in bare.stdout
