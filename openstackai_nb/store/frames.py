"""Runs as DataFrames: the one home of their columns, dtypes and cells (pandas imported inside).

Two tables show runs one per row, and both are built here:

- `RunHistory.to_dataframe()` (and its tool-call and turn tables): from the store's scalar
  columns (`runs_frame`, `tool_calls_frame`, `turns_frame`; no JSON blob is parsed for the
  runs table);
- `compare()`: from the RunResults as the runs finish (`RunColumns`: each result's cells are
  written into column arrays at its row, then the result is let go, so a grid of any size
  holds its table's cells and never its RunResults).

What both share: the dtype of each run column (`RUN_KINDS`: int64 counts, float64 times,
datetime64[ns, UTC] starts, object text), the typed answers' ``output.<field>`` columns
(`store.outputs.output_columns`) and the cost columns (`openstackai_nb.prices.cost_columns`).
Column arrays go to pandas as numpy arrays (no per-row dicts, no per-cell Python objects for
numbers). Text cells are scrubbed where the run was (the store scrubs what it writes;
`RunColumns` scrubs the answer text and typed answers, as `compare` promises).
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from openstackai_nb._extras import require
from openstackai_nb._secrets import scrub, scrub_data
from openstackai_nb.store._schema import INT_COLUMNS, OUTPUT_COLUMNS, RUN_COLUMNS
from openstackai_nb.store._texts import Texts

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.results import RunResult

__all__ = [
    "RESULT_COLUMNS",
    "RUN_KINDS",
    "RunColumns",
    "TOOL_CALL_COLUMNS",
    "TURN_COLUMNS",
    "Texts",
    "column",
    "gc_paused",
    "runs_frame",
    "tool_calls_frame",
    "turns_frame",
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

RUN_KINDS: dict[str, str] = {name: ("int" if name in INT_COLUMNS else "obj") for name in RUN_COLUMNS}
"""The kind of each run column: "int" (int64), "float" (float64), "time" (datetime64[ns, UTC]) or "obj"."""
RUN_KINDS.update(elapsed_time="float", started_at="time")

RESULT_COLUMNS = (
    "model",
    "run_id",
    "status",
    "final_output",
    "finish_reason",
    "elapsed_time",
    "turn_count",
    "prompt_tokens",
    "completion_tokens",
    "n_tool_calls",
    "cached_calls",
    "error",
)
"""The run columns `RunColumns` keeps for `compare()` (the ones a comparison row shows)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _pandas() -> Any:
    return require("pandas", "pandas", "A DataFrame of runs")


def column(values: Sequence[Any], kind: str) -> Any:
    """A column of `values` as the array pandas takes for `kind` ("int", "float", "time" or "obj")."""
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


def _transpose(rows: Sequence[Sequence[Any]], width: int) -> list[Any]:
    """Columns of a list of equal-length row tuples (one C-level 2-D object array, then views)."""
    import numpy as np

    if not rows:
        return [np.empty(0, dtype=object) for _ in range(width)]
    table = np.empty((len(rows), width), dtype=object)
    table[:] = rows
    return [table[:, i] for i in range(width)]


def _costs(at: Mapping[str, Any]) -> dict[str, Any]:
    """The cost columns (`prices.cost_columns`) from run columns (model, provider, endpoint, tokens, times)."""
    from openstackai_nb.prices import cost_columns

    facts = zip(
        at["model"],
        at["provider"],
        at["endpoint"],
        at["prompt_tokens"].tolist(),
        at["completion_tokens"].tolist(),
        at["elapsed_time"].tolist(),
        at["started_at"].tolist(),
        strict=True,
    )
    return cost_columns(list(facts), at["cached_calls"].tolist())


# -- the history's tables ------------------------------------------------------------------------


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
    `cost`, the cost columns of `prices.cost_columns` follow the run columns.
    """
    import numpy as np

    pd = _pandas()
    width = len(RUN_COLUMNS) + 1 + (len(OUTPUT_COLUMNS) if schemas is not None else 0)
    columns = _transpose(rows, width)
    data: dict[str, Any] = {name: column(columns[i], RUN_KINDS[name]) for i, name in enumerate(RUN_COLUMNS)}
    if cost:
        at = {name: columns[i] for i, name in enumerate(RUN_COLUMNS)}
        at.update({name: data[name] for name in RUN_COLUMNS if RUN_KINDS[name] in ("int", "float")})
        data.update(_costs(at))
    if schemas is not None:
        data.update(_stored_answers(columns[-2], columns[-1], schemas))
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


def _stored_answers(outputs: Any, keys: Any, schemas: Mapping[str, str]) -> dict[str, Any]:
    """The ``output.<field>`` columns of the stored typed answers (none when no run has one)."""
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
        "run_id": column(cols[0], "obj"),
        "index": column(cols[1], "int"),
        "call_id": column(cols[2], "obj"),
        "name": column(cols[3], "obj"),
        "arguments": column(_loads_all(cols[4]), "obj"),
        "result": column(_loads_all(cols[5]), "obj"),
        "error": column(errors, "obj"),
        "ok": column([e is None for e in errors], "obj").astype(bool),
        "started_at": column(cols[7], "time"),
        "elapsed_time": column(cols[8], "float"),
        "turn": column(cols[9], "int"),
        "approval": column(decided, "obj"),
        "decided_by": column([a.get("decided_by") for a in approvals], "obj"),
        "approval_reason": column([a.get("reason") for a in approvals], "obj"),
        "approval_wait": column([a.get("waited", float("nan")) for a in approvals], "float"),
        "parsed_from_text": column([bool(p) for p in cols[11]], "obj").astype(bool),
    }
    return pd.DataFrame(data, copy=False)


def turns_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """The turns table from store rows (TURN_COLUMNS order)."""
    pd = _pandas()
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * len(TURN_COLUMNS)
    kinds = ("obj", "int", "float", "float", "obj", "float", "int", "int", "float", "obj", "obj", "obj")
    data = {name: column(cols[i], kinds[i]) for i, name in enumerate(TURN_COLUMNS)}
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


# -- compare's table: runs as they finish ------------------------------------------------------------

_TEXTS = ("run_id", "final_output", "error")  # one text per run: kept as UTF-8 until the frame is built
_OBJECTS = ("model", "status", "finish_reason", "provider", "endpoint")  # few distinct values: one object each
_COUNTS = ("turn_count", "prompt_tokens", "completion_tokens", "n_tool_calls", "cached_calls", "started_at")


class RunColumns:
    """The cells of `size` runs, one column each, filled row by row as runs finish (any order).

    `add(row, result)` copies what the table shows of a RunResult (`RESULT_COLUMNS`, and what its
    typed answer and cost need) into the columns; the result itself is not kept. A row never
    added keeps None / 0 / NaN. Answers are scrubbed of secrets (`_secrets.scrub`), typed
    answers too (`scrub_data`). Each run's own texts (run id, answer, error) wait as bytes
    (`Texts`) and become strings when `columns()` is first called; the others are numbers or
    one of a few shared strings (model, status, ...).

    Example:
        >>> cells = RunColumns(2)                      # doctest: +SKIP
        >>> cells.add(1, result)                       # as the run ends  # doctest: +SKIP
        >>> data = cells.columns()                     # name -> array, RESULT_COLUMNS order  # doctest: +SKIP
    """

    def __init__(self, size: int) -> None:
        import numpy as np

        self.size = size
        self._texts = {name: Texts(size) for name in _TEXTS}
        self._objects = {name: np.full(size, None, dtype=object) for name in _OBJECTS}
        self._counts = {name: np.zeros(size, dtype=np.int64) for name in _COUNTS}
        self._elapsed = np.full(size, np.nan, dtype=np.float64)
        self._shared: dict[str, str] = {}
        self._schemas: dict[int, Any] = {}  # row -> output schema (typed runs only)
        self._answers: dict[int, Any] = {}  # row -> the typed answer as scrubbed JSON data
        self._columns: dict[str, Any] | None = None  # made once, by columns()

    def _one(self, value: str | None) -> str | None:
        return None if value is None else self._shared.setdefault(value, value)

    def add(self, row: int, result: RunResult) -> None:
        """Copy the cells of `result` into row `row`."""
        texts, objects, counts, usage = self._texts, self._objects, self._counts, result.usage
        text = result.output_text
        texts["run_id"].put(row, result.run_id)
        texts["final_output"].put(row, None if text is None else scrub(text))
        texts["error"].put(row, result.error)
        objects["model"][row] = self._one(result.model)
        objects["status"][row] = self._one(result.status.value)
        objects["finish_reason"][row] = self._one(result.finish_reason)
        objects["provider"][row] = self._one(result.provider)
        objects["endpoint"][row] = self._one(result.endpoint)
        counts["turn_count"][row] = result.turn_count
        counts["prompt_tokens"][row] = usage.prompt_tokens
        counts["completion_tokens"][row] = usage.completion_tokens
        counts["n_tool_calls"][row] = len(result.tool_calls)
        counts["cached_calls"][row] = result.cached_calls
        counts["started_at"][row] = _ns(result.started_at)
        self._elapsed[row] = result.elapsed_time
        self._columns = None
        if result.output_schema is not None:
            self._schemas[row] = result.output_schema
            if result.typed:
                from openstackai_nb.results import jsonable

                self._answers[row] = scrub_data(jsonable(result.final_output))

    def run_id(self, row: int) -> str | None:
        """The run id of row `row` (None: not added yet)."""
        return self._texts["run_id"][row]

    def columns(self) -> dict[str, Any]:
        """The `RESULT_COLUMNS`, in order, as the arrays pandas takes (dtypes as `RUN_KINDS` says).

        The same arrays on every call until a row is added (the texts' strings are made once).
        """
        if self._columns is None:
            every = {**self._objects, **self._counts, "elapsed_time": self._elapsed}
            every.update((name, texts.array()) for name, texts in self._texts.items())
            self._columns = {name: every[name] for name in RESULT_COLUMNS}
        return self._columns

    def typed_answers(self) -> dict[str, Any]:
        """The ``output.<field>`` columns of the typed answers (none when no run had an output type)."""
        if not self._schemas:
            return {}
        from openstackai_nb.output.columns import output_columns

        schemas = [self._schemas.get(i) for i in range(self.size)]
        return output_columns([self._answers.get(i) for i in range(self.size)], schemas)

    def costs(self) -> dict[str, Any]:
        """The cost columns (`prices.cost_columns`) of the rows."""
        return _costs({**self._objects, **self._counts, "elapsed_time": self._elapsed})


def _ns(value: datetime) -> int:
    """A datetime as nanoseconds since the epoch (UTC), exactly (no float rounding)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _US * 1000


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
