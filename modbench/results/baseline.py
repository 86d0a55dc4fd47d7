"""``--baseline NAME`` / ``verdict.baseline``: which loss setting of a suite is the baseline (the
contrasts against it are in ``results.verdicts_table``)."""

from __future__ import annotations

from collections.abc import Iterable

from modbench.errors import UserError, closest


def find_baseline(settings: Iterable[tuple[str, str]], name: str, *, suite: str = "") -> str:
    """The label of the baseline among ``settings`` ((loss name, label) pairs, in suite order).

    ``name`` is a label or a loss name; a loss name that several settings share (a sweep) is
    ambiguous and must be given as a label. Raises a ``UserError`` (exit 2) naming the choices.
    """
    settings = list(dict.fromkeys(settings))
    labels = [label for _, label in settings]
    if name in labels:
        return name
    by_name = [label for loss, label in settings if loss == name]
    if len(by_name) == 1:
        return by_name[0]
    where = f" in suite '{suite}'" if suite else ""
    if len(by_name) > 1:
        raise UserError(
            f"--baseline {name}: {len(by_name)} loss settings{where} are '{name}'; "
            f"give one label instead (choices: {', '.join(by_name)})"
        )
    choices = sorted(set(labels) | {loss for loss, _ in settings})
    hint = closest(name, choices)
    did_you_mean = f"; did you mean '{hint}'?" if hint else ""
    raise UserError(
        f"--baseline {name}: no loss named or labelled '{name}'{where}{did_you_mean} "
        f"(choices: {', '.join(choices)})"
    )
