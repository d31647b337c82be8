"""Typed answers as DataFrame columns: ``output.<field>``, nested fields dotted, dtypes from the schema.

`history.to_dataframe()` and `compare()` expand the typed answers of their runs (an agent's
`output_type`) with `output_columns(values, schemas)`: one column per leaf of the JSON schema,
named ``output.<field>`` (``output.customer.city`` for a nested model; an answer that is not an
object, such as an int or a list, is the one column ``output``). Lists stay lists. Dtypes
follow the schema, with missing values (text runs, failed runs) as NA:

    integer -> Int64, number -> float64 (NaN), boolean -> boolean, string with an enum ->
    category (its values), string with format date-time -> datetime64[ns, UTC],
    anything else (text, arrays, objects without properties) -> object

Several schemas (a comparison of agents with different output types) give the union of their
columns, in order of first appearance; a column the schemas type differently is object.

The store keeps each distinct schema once (`schema_key`): the runs table holds its key.

Part of `openstackai_nb.output`, the home of typed answers (its docstring says what lives where).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PREFIX", "output_columns", "schema_key"]

PREFIX = "output"
"""The name of the typed answer's column, and the prefix of its fields' columns."""
_MAX_DEPTH = 6  # a recursive model stops expanding here (the rest is one object column)


_RECENT_SCHEMAS = 16  # schema keys kept: a comparison interleaves the runs of a few agents


class _SchemaKeys:
    """The (key, text) of the schemas seen lately, by object identity, under a lock.

    Why a cache: the runs of one agent share its schema object (`OutputType.schema`), so its
    JSON text and hash are computed once per agent, not once per recorded run. Why by identity:
    hashing a dict needs its canonical JSON text, which is the cost saved. Why the lock: runs are
    recorded from several threads at once (the private run loop, the history's writer thread, a
    user's own threads), and the check-then-insert of the table must not interleave. Each entry
    holds its schema, so an id is never reused while it is cached; a schema is not changed once
    its runs are recorded (`OutputType` builds it once; a loaded run's is parsed from JSON).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._keys: dict[int, tuple[Mapping[str, Any], tuple[str, str]]] = {}  # oldest first

    def get(self, schema: Mapping[str, Any]) -> tuple[str, str]:
        with self._lock:
            hit = self._keys.get(id(schema))
            if hit is not None and hit[0] is schema:
                return hit[1]
        got = _schema_key(schema)  # outside the lock: two threads may both compute it, to the same value
        with self._lock:
            self._keys.pop(id(schema), None)
            self._keys[id(schema)] = (schema, got)
            while len(self._keys) > self._size:
                del self._keys[next(iter(self._keys))]
        return got


_schema_keys = _SchemaKeys(_RECENT_SCHEMAS)


def schema_key(schema: Mapping[str, Any]) -> tuple[str, str]:
    """(key, text) of a schema: a short hash of its canonical JSON text, and its JSON text.

    Equal schemas get the same key. The runs of one agent share its schema object: its key is
    computed once (the last few schemas are kept, by identity).
    """
    return _schema_keys.get(schema)


def _schema_key(schema: Mapping[str, Any]) -> tuple[str, str]:
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)  # keeps the fields' order (the columns')
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24], text


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a `$ref`; take X out of anyOf [X, null] (an optional field)."""
    for _ in range(_MAX_DEPTH):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node = defs.get(ref.rsplit("/", 1)[1], {})
            continue
        options = node.get("anyOf")
        if isinstance(options, list):
            real = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            if len(real) == 1:
                node = real[0]
                continue
        break
    return node


def _kind(node: Mapping[str, Any]) -> Any:
    """The column kind of a leaf: int, float, bool, datetime, a tuple of categories, or obj."""
    kind = node.get("type")
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "string" and isinstance(node.get("enum"), list):
        return tuple(node["enum"])
    if kind == "string" and node.get("format") == "date-time":
        return "datetime"
    return "obj"


def _leaves(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: tuple[str, ...], depth: int
) -> list[tuple[tuple[str, ...], Any]]:
    node = _resolve(node, defs)
    props = node.get("properties")
    if isinstance(props, Mapping) and props and depth < _MAX_DEPTH:
        out: list[tuple[tuple[str, ...], Any]] = []
        for name, sub in props.items():
            if isinstance(sub, Mapping):
                out.extend(_leaves(sub, defs, (*path, str(name)), depth + 1))
        return out
    return [(path, _kind(node))]


def _layout(
    schemas: Sequence[Mapping[str, Any] | None],
) -> tuple[dict[tuple[str, ...], Any], dict[int, set[tuple[str, ...]]]]:
    """Every leaf path of the distinct schemas with its kind (object where they disagree), and each schema's paths."""
    layout: dict[tuple[str, ...], Any] = {}
    paths: dict[int, set[tuple[str, ...]]] = {}
    for schema in schemas:
        if schema is None or id(schema) in paths:
            continue
        leaves = _leaves(schema, schema.get("$defs") or {}, (), 0)
        paths[id(schema)] = {path for path, _ in leaves}
        for path, kind in leaves:
            if path in layout and layout[path] != kind:
                layout[path] = "obj"
            else:
                layout.setdefault(path, kind)
    return layout, paths


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def output_columns(values: Sequence[Any], schemas: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """The ``output``/``output.<field>`` columns of typed answers (empty when no run has a schema).

    Args:
        values: each run's typed answer as JSON data (None for a text or failed run).
        schemas: each run's output schema (None for a text run); equal schemas should be the same
            object (parsed once), as the layout is computed per distinct object.
    """
    layout, paths = _layout(schemas)
    if not layout:
        return {}
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {}
    for path, kind in layout.items():
        cells = [
            _at(v, path) if s is not None and path in paths[id(s)] else None
            for v, s in zip(values, schemas, strict=True)
        ]
        name = ".".join((PREFIX, *path))
        columns[name] = _typed(cells, kind, pd, np)
    return columns


def _typed(cells: list[Any], kind: Any, pd: Any, np: Any) -> Any:
    """A column of `cells` with the dtype of `kind` (object when a value does not fit it)."""
    try:
        if kind == "int":
            return pd.array([c if isinstance(c, int) and not isinstance(c, bool) else _na(c) for c in cells], "Int64")
        if kind == "float":
            return np.array([np.nan if c is None else float(c) for c in cells], dtype=np.float64)
        if kind == "bool":
            return pd.array([c if isinstance(c, bool) else _na(c) for c in cells], dtype="boolean")
        if kind == "datetime":
            return pd.to_datetime(pd.Series(cells, dtype=object), utc=True).dt.as_unit("ns").array
        if isinstance(kind, tuple):
            if all(c is None or c in kind for c in cells):
                return pd.Categorical(cells, categories=list(kind))
    except (TypeError, ValueError):
        pass
    out = np.empty(len(cells), dtype=object)
    out[:] = cells
    return out


def _na(value: Any) -> None:
    if value is not None:
        raise TypeError(f"{value!r} does not fit the column's type")
    return None
