"""DataFrames and files out of run history (pandas is imported inside the functions).

`RunHistory.to_dataframe()`, `tool_calls_dataframe()` and `turns_dataframe()` build their
frames here from the store's scalar columns (no JSON blob is parsed for the runs table), and
`RunHistory.export()` / `RunHistory.load()` write and read JSON lines: one
`RunResult.to_dict()` per line, secrets scrubbed, never pickle.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb._extras import require
from openstackai_nb.errors import HistoryError
from openstackai_nb.store._schema import INT_COLUMNS, OUTPUT_COLUMNS, RUN_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.results import RunResult

__all__ = [
    "TOOL_CALL_COLUMNS",
    "TURN_COLUMNS",
    "gc_paused",
    "read_jsonl",
    "runs_frame",
    "tool_calls_frame",
    "turns_frame",
    "write_jsonl",
]

TURN_COLUMNS = (
    "run_id",
    "turn",
    "start",
    "duration",
    "outcome",
    "model_time",
    "retries",
    "n_tool_calls",
    "tool_time",
    "error",
    "finish_reason",
    "reasoning",
)
"""The columns of `turns_dataframe()`, in order."""


TOOL_CALL_COLUMNS = (
    "idx, call_id, name, arguments, result, error, started_at, elapsed_time, turn, approval, parsed_from_text"
)
"""The tool_calls table's columns `tool_calls_frame` reads (after run_id), in order."""


def _pandas() -> Any:
    return require("pandas", "pandas", "A DataFrame of run history")


def _column(values: Sequence[Any], kind: str) -> Any:
    import numpy as np

    if kind == "obj" and isinstance(values, np.ndarray):
        return values
    if kind == "int":
        try:
            return np.array(values, dtype=np.int64)
        except TypeError:  # a NULL in an optional column
            return np.fromiter((v or 0 for v in values), dtype=np.int64, count=len(values))
    if kind == "float":
        try:
            return np.array(values, dtype=np.float64)
        except TypeError:
            pass
        return np.fromiter((float("nan") if v is None else v for v in values), dtype=np.float64, count=len(values))
    if kind == "time":
        pd = _pandas()
        try:
            ns = np.array(values, dtype=np.int64)
        except TypeError:
            ns = np.fromiter((v or 0 for v in values), dtype=np.int64, count=len(values))
        return pd.to_datetime(ns, unit="ns", utc=True)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


_RUN_KINDS = {name: ("int" if name in INT_COLUMNS else "obj") for name in RUN_COLUMNS}
_RUN_KINDS.update(elapsed_time="float", started_at="time")


def _transpose(rows: Sequence[Sequence[Any]], width: int) -> list[Any]:
    """Columns of a list of equal-length row tuples (one C-level 2-D object array, then views)."""
    import numpy as np

    if not rows:
        return [np.empty(0, dtype=object) for _ in range(width)]
    table = np.empty((len(rows), width), dtype=object)
    table[:] = rows
    return [table[:, i] for i in range(width)]


def runs_frame(
    rows: Sequence[Sequence[Any]],
    *,
    metadata: bool = True,
    schemas: Mapping[str, str] | None = None,
    cost: bool = False,
) -> pd.DataFrame:
    """The runs table from store rows (RUN_COLUMNS then the metadata JSON text).

    With `schemas` (the output_schemas table: key -> schema text), each row ends with the
    OUTPUT_COLUMNS too, and typed answers are expanded into ``output.<field>`` columns. With
    `cost`, the cost columns of `comparison.prices.cost_columns` follow the run columns.
    """
    import numpy as np

    pd = _pandas()
    width = len(RUN_COLUMNS) + 1 + (len(OUTPUT_COLUMNS) if schemas is not None else 0)
    columns = _transpose(rows, width)
    data: dict[str, Any] = {name: _column(columns[i], _RUN_KINDS[name]) for i, name in enumerate(RUN_COLUMNS)}
    if cost:
        from openstackai_nb.comparison.prices import cost_columns

        at = {name: columns[i] for i, name in enumerate(RUN_COLUMNS)}
        facts = zip(
            at["model"], at["provider"], at["endpoint"], data["prompt_tokens"].tolist(),
            data["completion_tokens"].tolist(), data["elapsed_time"].tolist(), at["started_at"], strict=True,
        )  # fmt: skip
        data.update(cost_columns(list(facts), data["cached_calls"].tolist()))
    if schemas is not None:
        data.update(_typed_answers(columns[-2], columns[-1], schemas))
    if metadata and len(rows):
        # Many runs share the same metadata (a compare, a tag): parse each distinct text once
        # and spread the values with the factorized codes.
        codes, uniques = pd.factorize(columns[len(RUN_COLUMNS)])
        parsed = [json.loads(t) if t and t != "{}" else {} for t in uniques]
        keys: dict[str, None] = {}
        for meta in parsed:
            for key in meta:
                keys.setdefault(str(key))
        for key in keys:
            name = key if key not in data else f"metadata.{key}"
            distinct = np.empty(len(parsed), dtype=object)
            distinct[:] = [meta.get(key) for meta in parsed]
            values = distinct[codes]
            data[name] = pd.array(values) if _all_numbers(distinct) else values
    return pd.DataFrame(data, copy=False)


def _typed_answers(outputs: Any, keys: Any, schemas: Mapping[str, str]) -> dict[str, Any]:
    """The ``output.<field>`` columns of the runs' typed answers (none when no run has one)."""
    import numpy as np

    from openstackai_nb.output.columns import output_columns

    keys = np.asarray(keys, dtype=object)
    if not len(keys) or not (keys != None).any():  # noqa: E711 - elementwise
        return {}
    used = set(keys.tolist())
    parsed = {key: json.loads(text) for key, text in schemas.items() if key in used}
    return output_columns(_loads_all(list(outputs)), [parsed.get(k) if k is not None else None for k in keys])


def _all_numbers(values: Any) -> bool:
    seen = False
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        seen = True
    return seen


def tool_calls_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """The tool-call table from store rows; arguments and result are parsed back from JSON.

    Rows: run_id, idx, call_id, name, arguments, result, error, started_at, elapsed_time, turn,
    approval (JSON of a `results.Approval`, or NULL), parsed_from_text (0 or 1).
    """
    pd = _pandas()
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * 12
    errors = cols[6]
    approvals = [a if isinstance(a, dict) else {} for a in _loads_all(cols[10])]
    decided = [None if not a else "approved" if a.get("approved") else "rejected" for a in approvals]
    data = {
        "run_id": _column(cols[0], "obj"),
        "index": _column(cols[1], "int"),
        "call_id": _column(cols[2], "obj"),
        "name": _column(cols[3], "obj"),
        "arguments": _column(_loads_all(cols[4]), "obj"),
        "result": _column(_loads_all(cols[5]), "obj"),
        "error": _column(errors, "obj"),
        "ok": _column([e is None for e in errors], "obj").astype(bool),
        "started_at": _column(cols[7], "time"),
        "elapsed_time": _column(cols[8], "float"),
        "turn": _column(cols[9], "int"),
        "approval": _column(decided, "obj"),
        "decided_by": _column([a.get("decided_by") for a in approvals], "obj"),
        "approval_reason": _column([a.get("reason") for a in approvals], "obj"),
        "approval_wait": _column([a.get("waited", float("nan")) for a in approvals], "float"),
        "parsed_from_text": _column([bool(p) for p in cols[11]], "obj").astype(bool),
    }
    return pd.DataFrame(data, copy=False)


def turns_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """The turns table from store rows (TURN_COLUMNS order)."""
    pd = _pandas()
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * len(TURN_COLUMNS)
    kinds = ("obj", "int", "float", "float", "obj", "float", "int", "int", "float", "obj", "obj", "obj")
    data = {name: _column(cols[i], kinds[i]) for i, name in enumerate(TURN_COLUMNS)}
    return pd.DataFrame(data, copy=False)


def _loads_all(texts: Sequence[str | None]) -> list[Any]:
    """Parse a column of JSON cells with one `json.loads` (they were written as JSON)."""
    try:
        values = json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")
    except (TypeError, ValueError):
        values = None
    if not isinstance(values, list) or len(values) != len(texts):  # a cell that is not one JSON value
        return [_loads(t) for t in texts]
    return values


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- JSON lines ------------------------------------------------------------------------------------


def write_jsonl(runs: Iterable[RunResult], path: str | os.PathLike[str]) -> Path:
    """Write runs as JSON lines (one `to_dict()` per line, every string scrubbed of secrets).

    The file is written beside its final name and renamed into place, so a reader never sees a
    half-written export. A new file gets the user's usual mode (you chose where it goes, maybe
    to share it); a file replaced keeps its mode, so an export made private stays private.
    """
    from openstackai_nb._secrets import scrub_data

    target = Path(path).expanduser()
    tmp = target.with_name(target.name + ".part")
    try:
        mode = os.stat(target).st_mode & 0o777
    except OSError:
        mode = 0o666  # less the umask, as open() does
    tmp.unlink(missing_ok=True)  # a leftover keeps its own mode: start afresh
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with open(fd, "w", encoding="utf-8", newline="\n") as fh:
        for result in runs:
            fh.write(json.dumps(scrub_data(result.to_dict()), ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
    os.replace(tmp, target)
    return target


def read_jsonl(path: str | os.PathLike[str]) -> list[RunResult]:
    """Read the runs of a JSON lines export.

    Raises:
        HistoryError: a line is not a run (names the file and line).
    """
    from openstackai_nb.results import RunResult

    source = Path(path).expanduser()
    out: list[RunResult] = []
    try:
        fh = open(source, encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"cannot read the run export {source}: {exc.strerror or exc}") from None
    with fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(RunResult.from_dict(json.loads(line)))
            except Exception as exc:  # noqa: BLE001 - reported with the place it happened
                first = str(exc).splitlines()[0][:200]
                raise HistoryError(
                    f"{source}, line {number}: not a run exported by RunHistory.export ({type(exc).__name__}: {first})"
                ) from None
    return out


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a large table is built.

    Millions of new tuples and strings (none of them cyclic) would otherwise trigger full
    collections over and over.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
