"""``modbench merge-tuned``: tuned suites that ``tune --loss`` wrote for some losses each (in
separate sessions or on separate machines) joined into the one tuned suite a ``tune`` of all of
them writes (docs/tuning.md, "Tuned in parts")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from modbench.cli.common import err, handle_errors, out

# The command's work (the suite reader, the tuned-suite module) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).


@handle_errors
def merge_tuned(
    parts: Annotated[list[Path], typer.Argument(show_default=False, help="Tuned suites written by `modbench tune --loss ...`, each tuning other losses of the same suite with the same settings; their losses in this order.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the merged tuned suite (`-`: stdout; a symbolic link, device or FIFO is written through, never replaced) \\[default: ./<suite>.yaml, the suite's name as the parts give it].")] = None,
) -> None:
    """Join per-loss tuned suites into one tuned suite for `compare`; refuses parts whose
    checksum does not verify, that tune another suite or with other settings, or a loss twice."""
    from modbench.cli.output import is_stdout, require_file_name
    from modbench.render.safe_text import plain_text
    from modbench.suite.loader import read_yaml  # the suites' hardened reader: size, binary, tags, aliases
    from modbench.tune.study import safe_file_name
    from modbench.tune.tuned_suite import merge_tuned_suites, tuned_suite_text, write_tuned_suite

    read = [(str(path), read_yaml(path)) for path in parts]
    merged = merge_tuned_suites(read)
    default = Path(f"{safe_file_name(str(merged.get('name', 'tuned')))}.yaml")
    if is_stdout(output):
        out.file.write(tuned_suite_text(default, merged))
        out.file.flush()
        return
    path = output if output is not None else default
    require_file_name(path, "--output", "tuned.yaml")
    write_tuned_suite(path, merged)
    err.print(plain_text(f"wrote {path} ({len(merged['losses'])} tuned losses); `modbench compare --suite {path}` "
                         "trains them and reports test metrics"), markup=False, highlight=False)
