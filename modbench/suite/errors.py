"""The suite layer's errors: ``SuiteError`` and turning pydantic's errors into its lines.

Every problem is one line ``FILE: KEY.PATH: what is wrong (closest valid choice)``. A file with
several problems raises one ``SuiteError`` holding all of them; ``str()`` gives one line per
problem (each line itself free of line breaks), so the command line prints them all and still
exits 2. Imported by the schema's users only: no registry, no torch.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from modbench.errors import UserError, closest, one_line

MAX_SHOWN = 20  # problems listed one per line; the rest are counted on a last line


def format_loc(loc: tuple) -> str:
    """``("losses", 1, "params", "beta")`` -> ``losses[1].params.beta``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problem_line(source: str, path: str, message: str) -> str:
    where = f"{source}: {path}: " if path else f"{source}: "
    return one_line(where + message)


class SuiteError(UserError):
    """An invalid or unreadable suite file (exit code 2): one or more ``(key path, message)``
    problems, all in one file."""

    def __init__(self, source: str, path: str = "", message: str = "", *, problems: list[tuple[str, str]] | None = None):
        self.source = source
        self.problems = list(problems) if problems else [(path, message)]
        self.key_path = self.problems[0][0]
        lines = [problem_line(source, p, m) for p, m in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            lines.append(problem_line(source, "", f"{len(self.problems) - MAX_SHOWN} more problem(s) not shown"))
        self.lines = lines
        super().__init__(lines[0])

    def __str__(self) -> str:
        return "\n".join(self.lines)


class Problems:
    """Collects the problems of one file, so that all of them are reported at once."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def extend(self, error: SuiteError) -> None:
        self.items.extend(error.problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise SuiteError(self.source, problems=self.items)


def model_fields_at(model_cls: type[BaseModel], loc: tuple) -> list[str]:
    """The valid keys of the model reached by ``loc`` (for 'unknown key' hints)."""
    cls = model_cls
    for part in loc:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ()) or ()
        candidates = [annotation, *args]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return []
        cls = nxt
    return sorted(cls.model_fields)


def validation_problems(exc: ValidationError, model_cls: type[BaseModel]) -> list[tuple[str, str]]:
    """Every pydantic error as ``(key path, one-line message)``, in the order of the file's keys.

    A required key reported missing next to an unknown key that is its close misspelling
    (``epoch`` for ``epochs``) is one problem, reported at the unknown key with the suggestion.
    """
    errors = exc.errors()
    unknown = {tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"}
    explained: set[tuple] = set()  # locations of missing keys that a misspelling explains
    problems: list[tuple[str, str]] = []
    for err in errors:
        loc, kind = tuple(err["loc"]), err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            valid = model_fields_at(model_cls, loc[:-1])
            hint = closest(key, valid) if valid else None
            msg = f"unknown key '{key}'"
            if hint:
                msg += f"; did you mean '{hint}'?"
                if (*loc[:-1], hint) not in unknown:
                    explained.add((*loc[:-1], hint))
            if valid:
                msg += f" (valid keys: {', '.join(valid)})"
            problems.append((loc, msg))
        elif kind == "missing":
            problems.append((loc, "required key is missing"))
        else:
            msg = err["msg"].removeprefix("Value error, ")  # a validator's own sentence
            if "input" in err:
                shown = repr(err["input"])
                if len(shown) <= 40:
                    msg += f" (got {shown})"
            problems.append((loc, msg))
    return [
        (format_loc(loc), msg)
        for loc, msg in problems
        if not (msg == "required key is missing" and loc in explained)
    ]


def validation_message(exc: ValidationError, model_cls: type[BaseModel]) -> tuple[str, str]:
    """The first problem of ``exc`` as (key path, message), with a count of the others."""
    problems = validation_problems(exc, model_cls)
    path, message = problems[0]
    if len(problems) > 1:
        message += f" ({len(problems) - 1} more problem(s) after fixing this)"
    return path, message
