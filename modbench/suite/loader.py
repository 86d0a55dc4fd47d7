"""Finding, reading and validating suite files: ``load_suite`` is the one entry point.

YAML is read with a safe loader that also refuses duplicate keys. Every problem becomes one
``SuiteError`` line: ``FILE: KEY.PATH: what is wrong (valid choices, closest match)``; all the
problems of a file are reported together. ``load_suite`` validates the schema, the names the
suite refers to and every loss setting once, and keeps the expanded settings on the suite, so
that ``runs.resolve_runs`` validates nothing again.

Layers (one-way): schema <- errors <- references <- runs <- loader.
"""

from __future__ import annotations

import importlib.resources
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

import modbench
from modbench.plugins import resolve_references
from modbench.datasets.paths import DatasetSpecError, resolve_dataset
from modbench.errors import UserError, unknown_name_message
from modbench.suite.errors import (  # noqa: F401 (SuiteError, validation_message: API)
    Problems,
    SuiteError,
    format_loc,
    validation_message,
    validation_problems,
)
from modbench.suite.references import (  # noqa: F401
    DATASETS_WITH_LABEL_SETS,
    name_problems,
    reference_problems,
    verdict_baseline_problems,
)
from modbench.suite.runs import expand_entries, expand_losses
from modbench.suite.schema import LossEntry, Suite
from modbench.suite.tune_section import check_tune_section

# -- locating ---------------------------------------------------------------------------------


def builtin_suites_dir() -> Path:
    """``suites/`` beside the package in a source checkout, else the installed copy."""
    checkout = Path(modbench.__file__).resolve().parent.parent / "suites"
    if (checkout / "digits.yaml").is_file():
        return checkout
    return Path(str(importlib.resources.files("modbench.suites")))


def builtin_suite_names() -> list[str]:
    return sorted(p.stem for p in builtin_suites_dir().glob("*.yaml"))


def locate_suite(ref: str) -> Path:
    """A built-in suite name (a file in ``suites/``) or a path to a YAML file."""
    looks_like_path = any(sep in ref for sep in ("/", "\\")) or ref.endswith((".yaml", ".yml"))
    if looks_like_path or Path(ref).is_file():
        path = Path(ref)
        if not path.exists():
            raise UserError(f"{ref}: suite file not found")
        if not path.is_file():
            raise UserError(f"{ref}: not a file")
        return path
    path = builtin_suites_dir() / f"{ref}.yaml"
    if not path.is_file():
        raise UserError(
            unknown_name_message("suite", ref, builtin_suite_names())
            + "; or give a path to a YAML file"
        )
    return path


# -- reading ----------------------------------------------------------------------------------


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader (no python/* tags) that refuses duplicate keys instead of keeping the last,
    reads dates as the text written (``2024-01-01`` stays a string) and has no constructor for
    ``!!binary``, ``!!set``, ``!!omap`` or ``!!pairs`` (refused as unknown tags)."""

    yaml_constructors = {
        tag: fn
        for tag, fn in yaml.SafeLoader.yaml_constructors.items()
        if tag not in {f"tag:yaml.org,2002:{t}" for t in ("binary", "set", "omap", "pairs", "timestamp")}
    }

    def construct_yaml_timestamp_as_text(self, node):
        return self.construct_scalar(node)

    def construct_mapping(self, node, deep=False):  # noqa: D401 - yaml API
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key; let the base class report it
                break
            if duplicate:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (line {mark.line + 1})", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictSafeLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _StrictSafeLoader.construct_yaml_timestamp_as_text
)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    if "python/" in str(exc) or "could not determine a constructor" in str(exc):
        return f"unsafe or unknown YAML tag refused{where} (only plain YAML is allowed)"
    return f"invalid YAML{where}: {problem}"


MAX_BYTES = 1 << 20  # a suite is a few hundred bytes; refuse anything absurd before parsing
MAX_VALUES = 100_000  # values after alias expansion (a "billion laughs" document stops here)


def _check_values(data: Any, source: str) -> None:
    """Plain data only: refuse binary values, sets and non-finite numbers (with their key path),
    and documents whose shared (aliased) parts expand past ``MAX_VALUES`` values."""
    count, stack = 0, [((), data)]
    while stack:
        loc, node = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise SuiteError(
                source, "", f"more than {MAX_VALUES} values once YAML aliases are expanded; not a suite"
            )
        if isinstance(node, dict):
            stack.extend(((*loc, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*loc, i), v) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise SuiteError(source, format_loc(loc), f"{node} is not a usable number; give a finite value")
        elif not (node is None or isinstance(node, (str, int, float, bool))):
            raise SuiteError(
                source, format_loc(loc), f"a {type(node).__name__} value is not allowed; use plain text, numbers, lists and mappings"
            )


def read_yaml(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SuiteError(source, "", f"cannot read file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SuiteError(source, "", "not a UTF-8 text file (is it a YAML suite?)") from None
    if "\x00" in text:
        raise SuiteError(source, "", "binary file, not a YAML suite")
    if len(raw) > MAX_BYTES:
        raise SuiteError(source, "", f"file of {len(raw)} bytes; a suite is at most {MAX_BYTES}")
    try:
        data = yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        raise SuiteError(source, "", _yaml_problem(exc)) from None
    except RecursionError:
        raise SuiteError(source, "", "nested too deeply to be a suite") from None
    except Exception as exc:  # noqa: BLE001 - PyYAML's constructors raise anything on odd scalars
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise SuiteError(source, "", f"invalid YAML: a value cannot be read ({what[:80]})") from None
    _check_values(data, source)
    if data is None:
        raise SuiteError(source, "", "empty file; a suite needs name, dataset, backbone, train, losses")
    if not isinstance(data, dict):
        raise SuiteError(
            source, "", f"the top level must be a mapping of keys, not a {type(data).__name__}"
        )
    return data


# -- validating -------------------------------------------------------------------------------


def parse_suite(data: dict[str, Any], source: str) -> Suite:
    """Schema validation only (types, ranges, unknown keys). No registry look-ups, no torch."""
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(source, problems=validation_problems(exc, Suite)) from None


def check_references(suite: Suite, source: str) -> None:
    """Names that must exist in the registries, and each loss's parameters (no torch import:
    registries are lazy and loss parameter models live in ``modbench.losses.params``). Expands
    the losses, keeps the settings on ``suite`` and reports every problem at once."""
    problems = Problems(source)
    reference_problems(suite, problems)
    try:
        settings = expand_losses(suite, source)
    except SuiteError as exc:
        problems.extend(exc)
    else:
        verdict_baseline_problems(suite, settings, problems)
    problems.raise_if_any()
    suite._loss_settings = tuple(settings)
    check_tune_section(suite, source)  # the tune: section (docs/tuning.md)


def entry_problems(data: dict[str, Any], problems: Problems, base_dir: Path) -> None:
    """When the schema fails elsewhere, still check the loss entries that parse (their names and
    parameters), so that one attempt lists every problem of the file."""
    entries = data.get("losses")
    if not isinstance(entries, list):
        return
    parsed = []
    for i, raw in enumerate(entries):
        if any(p == f"losses[{i}]" or p.startswith(f"losses[{i}].") for p, _ in problems.items):
            continue
        try:
            parsed.append((i, LossEntry.model_validate(raw)))
        except ValidationError:
            continue
    try:
        expand_entries(parsed, problems.source, resolve_references((e.name for _, e in parsed), base_dir))
    except SuiteError as exc:
        problems.extend(exc)


def load_suite(ref: str | dict, *, check: bool = True) -> tuple[Suite, str]:
    """Locate, read and validate a suite; returns the suite and its source (for messages).

    The suite carries ``source``, ``source_dir`` (the file's folder, for relative names and
    paths), ``references`` (its plugin references, resolved against that folder once) and, when
    checked, ``loss_settings`` (every loss setting, validated once). ``ref`` may also be the
    suite as a dict (the Python API): its source is ``<suite dict>`` and its relative names and
    paths are relative to the current directory. Nothing else writes these."""
    if isinstance(ref, dict):
        source, data, base_dir = "<suite dict>", ref, Path.cwd()
    else:
        path = locate_suite(ref)
        source = str(path) if not str(path).startswith(str(builtin_suites_dir())) else f"suites/{path.name}"
        data, base_dir = read_yaml(path), path.resolve().parent
    try:
        suite = parse_suite(data, source)
    except SuiteError as exc:
        if not check:
            raise
        problems = Problems(source)
        problems.extend(exc)
        name_problems(data, problems)
        entry_problems(data, problems, base_dir)
        problems.raise_if_any()
    suite._source, suite._source_dir = source, base_dir
    # every plugin reference resolved against the suite's folder here, once: runs carry them
    suite._references = resolve_references([*(e.name for e in suite.losses), suite.backbone.name], base_dir)
    if check:
        check_references(suite, source)
    return _resolve_weights(_resolve_dataset_path(suite, source, base_dir), source, base_dir), source


def _resolve_dataset_path(suite: Suite, source: str, base_dir: Path | None) -> Suite:
    """``dataset.path`` made absolute against the suite file's folder (modbench.datasets.paths)."""
    try:
        return suite.model_copy(update={"dataset": resolve_dataset(suite.dataset, base_dir)})
    except DatasetSpecError as e:
        raise SuiteError(source, e.key, str(e)) from None


def _resolve_weights(suite: Suite, source: str, base_dir: Path | None) -> Suite:
    """``backbone.weights`` made absolute against the suite file's folder, and the sha256 of its
    bytes in ``backbone.weights_digest`` (modbench.backbones.weights_file)."""
    from modbench.backbones.weights_file import WeightsSpecError, resolve_weights

    try:
        backbone = resolve_weights(suite.backbone, base_dir)
    except WeightsSpecError as e:
        raise SuiteError(source, e.key, str(e)) from None
    return suite if backbone is suite.backbone else suite.model_copy(update={"backbone": backbone})
