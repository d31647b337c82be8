"""The run history: every run in a durable SQLite store, read back as runs, DataFrames and files.

- `run_history`: `RunHistory`, the store and its queries (filter, DataFrames, export, load);
- `session`: the session's history (`openstackai_nb.history`) and the recorder that feeds it;
- `export`: DataFrames and JSON lines (pandas imported inside);
- `outputs`: the old import path of `openstackai_nb.output.columns` (typed answers as ``output.<field>``
  columns, shared with `compare()`): deprecated;
- `_schema`, `_sqlite`, `_writer`, `_sqlite_file`, `_rows`: the tables, the connection's
  transactions, the writer thread, the file's identity and damage, a RunResult as rows.

`openstackai_nb.store` itself is light: `RunHistory` is imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import HistoryError, HistoryWarning
from openstackai_nb.store.session import barrier, get_history, record, set_history

if TYPE_CHECKING:
    from openstackai_nb.store.run_history import RunHistory, default_path

__all__ = [
    "HistoryError",
    "HistoryWarning",
    "RunHistory",
    "barrier",
    "default_path",
    "get_history",
    "record",
    "set_history",
]


def __getattr__(name: str) -> Any:
    # PEP 562: the SQLite store module is imported on first use, not when the package loads.
    if name in ("RunHistory", "default_path"):
        from openstackai_nb.store import run_history

        return getattr(run_history, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
