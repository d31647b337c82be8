"""The rows of `tool_calls_dataframe()` and `turns_dataframe()`, wherever a run keeps them.

Since schema 6 a run's tool calls and turns are compact JSON in its runs row
(`runs.tools`, `runs.turns`: see `_schema`); runs written before keep theirs in the tables
``tool_calls`` and ``turns``. Both are read and merged in run order, as rows of those tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openstackai_nb.store._query import Where
    from openstackai_nb.store._sqlite import Store

__all__ = ["detail_rows"]


def detail_rows(store: Store, where: Where, table: str, columns: str, order: str) -> list[Any]:
    """run_id plus `columns` of `table` ("tool_calls" or "turns"), for the runs `where` picks, in run order."""
    column = "tools" if table == "tool_calls" else "turns"
    picked = ", ".join(f"t.{c.strip()}" for c in columns.split(","))
    legacy = store.read(
        f"SELECT runs.seq, t.run_id, {picked} FROM {table} t JOIN runs ON runs.run_id = t.run_id"
        f"{where.and_(f'@{column} IS NULL').sql('runs.')} ORDER BY runs.seq, t.{order}",
        where.params,
    )
    packed = store.read(
        f"SELECT seq, run_id, {column} FROM runs{where.and_(f'@{column} IS NOT NULL').sql()} ORDER BY seq",
        where.params,
    )
    numbered = table == "tool_calls"  # a tool-call row's idx is its position in the run
    unpacked = zip(packed, _parsed([text for _, _, text in packed]), strict=True)
    if not legacy:  # the usual case: every run of the view written since schema 6
        out: list[tuple[Any, ...]] = []
        for (_, run_id, _), details in unpacked:
            if numbered:
                out += [(run_id, i, *d) for i, d in enumerate(details)]
            else:
                out += [(run_id, *d) for d in details]
        return out
    rows: list[tuple[int, tuple[Any, ...]]] = [(row[0], tuple(row[1:])) for row in legacy]
    for (seq, run_id, _), details in unpacked:
        if numbered:
            rows += [(seq, (run_id, i, *d)) for i, d in enumerate(details)]
        else:
            rows += [(seq, (run_id, *d)) for d in details]
    rows.sort(key=lambda pair: pair[0])  # stable: each run's rows keep their order
    return [row for _, row in rows]


def _parsed(texts: Sequence[str]) -> list[list[Any]]:
    """The compact JSON cells, parsed with one `json.loads` (cell by cell if one is unreadable)."""
    try:
        values = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        values = None
    if isinstance(values, list) and len(values) == len(texts) and all(isinstance(v, list) for v in values):
        return values
    return [_one(text) for text in texts]


def _one(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return []  # an unreadable cell: that run shows no rows, the others do
    return [v for v in value if isinstance(v, list)] if isinstance(value, list) else []
