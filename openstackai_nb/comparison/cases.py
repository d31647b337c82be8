"""Cases: what `compare()` runs each agent on, with an expected answer, an id and metadata.

`load_cases(inputs)` turns every form `compare` accepts into a list of `Case` objects, checked
before anything runs:

- a string (one case), or a list / Series of strings: each string is a case's input;
- dicts with an ``input`` key and optional ``expected``, ``id`` and ``metadata`` (a dict); any
  other key is a metadata value too;
- `Case` objects;
- a pandas DataFrame with an ``input`` column and optional ``expected`` and ``id`` columns;
  every other column is metadata (a missing value, NaN or None, in ``expected`` or ``id``
  means none);
- a path (a `pathlib.Path`, or a string of one line ending in ``.jsonl`` or ``.csv``) to a
  JSON Lines file of such dicts, or a CSV file with such columns (every CSV value is text; an
  empty ``expected`` or ``id`` cell means none).

A case's id (`Case.case_id`) is the one given, else derived from its input text alone:
``"c_"`` and the first 10 hex digits of the SHA-256 of the input, the same in every session.
Bad cases are a ConfigError naming the row (its index, or its line in a file): no input, an
input that is not a non-empty string, an id that is not a string (whole numbers are taken as
their text), or two cases with the same id. The same input twice without ids is two cases
with the same derived id, so it is refused as well: one case run several times is
`compare(..., repeats=N)`; two genuinely different cases with the same text need their own ids.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openstackai_nb.errors import ConfigError

__all__ = ["CASE_FIELDS", "Case", "derived_id", "load_cases"]

CASE_FIELDS = ("input", "expected", "id", "metadata")
"""The keys of a case given as a dict (any other key is a metadata value)."""
_FILE_SUFFIXES = (".jsonl", ".csv")


def derived_id(text: str) -> str:
    """The id of a case given without one: ``"c_"`` + the first 10 hex digits of SHA-256 of its input."""
    return "c_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Case:
    """One case of a comparison: the input every agent gets, and what a scorer checks against.

    Example:
        >>> case = Case(input="What is 2+2?", expected="4", metadata={"topic": "math"})
        >>> case.case_id
        'c_52cb6b5e4a'
    """

    input: str
    """The prompt."""
    expected: Any = None
    """The expected answer (any value a scorer understands; None: no expected answer)."""
    id: str | None = None
    """The case's id; None: derived from the input (`case_id`)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Named values, one `compare` column each (e.g. a topic or difficulty)."""

    def __hash__(self) -> int:  # expected and metadata may be unhashable (dicts, lists)
        return hash((self.input, self.id))

    @property
    def case_id(self) -> str:
        """The given id, else ``"c_"`` + 10 hex digits of the input's SHA-256 (stable across sessions)."""
        return self.id if self.id is not None else derived_id(self.input)


def load_cases(inputs: Any) -> list[Case]:
    """Every form `compare` accepts, as checked `Case` objects (see the module's docs).

    Raises:
        ConfigError: no cases, or a bad one (named by its row or line), before anything runs.
    """
    if isinstance(inputs, Path) or (isinstance(inputs, str) and _looks_like_path(inputs)):
        return _checked(_read_file(Path(inputs)))
    if _is_dataframe(inputs):
        return _checked(_frame_rows(inputs))
    if isinstance(inputs, str | Case | Mapping):
        rows: list[tuple[str, Any]] = [("inputs[0]", inputs)]
    else:
        try:
            items = list(inputs)
        except TypeError:
            raise ConfigError(
                "compare: inputs must be strings, dicts, Case objects, a DataFrame or a .jsonl/.csv path, "
                f"got {type(inputs).__name__}"
            ) from None
        rows = [(f"inputs[{i}]", item) for i, item in enumerate(items)]
    return _checked([(where, _case(where, item)) for where, item in rows])


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip().lower().endswith(_FILE_SUFFIXES)


def _is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _missing(value: Any) -> bool:
    """None or NaN (a DataFrame's empty cell)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _case(where: str, item: Any) -> Case:
    if isinstance(item, Case):
        return _checked_case(where, item.input, item.expected, item.id, item.metadata)
    if isinstance(item, str):
        return _checked_case(where, item, None, None, {})
    if isinstance(item, Mapping):
        fields = {str(k): v for k, v in item.items()}  # pyright: ignore[reportUnknownVariableType]
        if "input" not in fields:
            raise ConfigError(f"compare: {where} has no 'input' (keys: {sorted(fields)}); each case needs an input")
        metadata = fields.pop("metadata", None)
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ConfigError(f"compare: {where}: metadata must be a dict, got {type(metadata).__name__}")
        extra = {k: v for k, v in fields.items() if k not in CASE_FIELDS}
        meta = {**{str(k): v for k, v in (metadata or {}).items()}, **extra}  # pyright: ignore[reportUnknownVariableType]
        return _checked_case(where, fields["input"], fields.get("expected"), fields.get("id"), meta)
    raise ConfigError(
        f"compare: {where} must be a string, a dict with 'input' or a Case, got {type(item).__name__}: {item!r:.60}"
    )


def _checked_case(where: str, text: Any, expected: Any, case_id: Any, metadata: Mapping[str, Any]) -> Case:
    if not isinstance(text, str):
        raise ConfigError(f"compare: {where}: input must be a string, got {type(text).__name__}: {text!r:.60}")
    if not text.strip():
        raise ConfigError(f"compare: {where}: input is empty; each case needs a prompt")
    if _missing(case_id):
        case_id = None
    elif isinstance(case_id, numbers.Integral) and not isinstance(case_id, bool):
        case_id = str(int(case_id))
    elif not isinstance(case_id, str) or not case_id.strip():
        raise ConfigError(f"compare: {where}: id must be a non-empty string (or left out), got {case_id!r:.60}")
    return Case(input=text, expected=None if _missing(expected) else expected, id=case_id, metadata=dict(metadata))


def _checked(named: list[tuple[str, Case]]) -> list[Case]:
    """No cases, or two with one id, is an error naming both rows."""
    if not named:
        raise ConfigError("compare: no inputs given")
    seen: dict[str, str] = {}
    for where, case in named:
        first = seen.setdefault(case.case_id, where)
        if first != where:
            if case.id is None:
                raise ConfigError(
                    f"compare: {where} has the same input as {first} ({case.input!r:.60}), so the same "
                    f"derived id {case.case_id!r}; run one case several times with repeats=N, or give "
                    "each its own id"
                )
            raise ConfigError(f"compare: {where} has the id {case.id!r} of {first}; each case needs its own id")
    return [case for _, case in named]


def _frame_rows(df: Any) -> list[tuple[str, Case]]:
    if "input" not in df.columns:
        raise ConfigError(f"compare: the DataFrame has no 'input' column (columns: {list(df.columns)})")
    names = [str(c) for c in df.columns]
    rows: list[tuple[str, Case]] = []
    for position, (label, values) in enumerate(zip(df.index, df.itertuples(index=False, name=None), strict=True)):
        record = dict(zip(names, values, strict=True))
        meta = {k: v for k, v in record.items() if k not in CASE_FIELDS}
        where = f"DataFrame row {position} (index {label!r})"
        rows.append((where, _checked_case(where, record["input"], record.get("expected"), record.get("id"), meta)))
    return rows


def _read_file(path: Path) -> list[tuple[str, Case]]:
    if not path.is_file():
        raise ConfigError(
            f"compare: inputs {str(path)!r} looks like a case file but there is no such file; "
            "to run that text as a prompt, pass it in a list"
        )
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(path)
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    raise ConfigError(f"compare: case files are .jsonl or .csv, got {path.name!r}")


def _read_jsonl(path: Path) -> list[tuple[str, Case]]:
    cases: list[tuple[str, Case]] = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"compare: {where} is not JSON ({exc.msg})") from None
            if not isinstance(item, dict):
                raise ConfigError(f"compare: {where} must be a JSON object with 'input', got {line.strip():.60}")
            cases.append((where, _case(where, item)))
    return cases


def _read_csv(path: Path) -> list[tuple[str, Case]]:
    import csv

    cases: list[tuple[str, Case]] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "input" not in reader.fieldnames:
            raise ConfigError(f"compare: {path.name} has no 'input' column (header: {reader.fieldnames})")
        start = reader.line_num
        for row in reader:
            where = f"{path.name} line {start + 1}"
            start = reader.line_num
            record: dict[str, Any] = {k: v for k, v in row.items() if k is not None}
            for key in ("expected", "id"):
                if record.get(key) == "":
                    record[key] = None
            meta = {k: v for k, v in record.items() if k not in CASE_FIELDS}
            cases.append(
                (where, _checked_case(where, record.get("input"), record.get("expected"), record.get("id"), meta))
            )
    return cases
