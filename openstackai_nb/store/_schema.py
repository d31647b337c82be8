"""The history's tables, their columns, schema upgrades and the batched write of runs.

Layout: a narrow table ``runs`` of scalar columns (read straight into pandas: no JSON is parsed
for `to_dataframe()`) that, since schema 6, also holds the run's tool calls and turns as compact
JSON (``tools``: one array per call, the columns of the tool-call table after ``idx``;
``turns``: one array per turn, its columns after ``run_id``; NULL for a run still RUNNING),
which `tool_calls_dataframe()` and `turns_dataframe()` unpack; and the run's full ``RunResult``
JSON in ``results`` (for iteration and export: kept apart, its pages are never read by the
DataFrames). Runs written by schema 5 and before (or by an older version still writing the same
file) have NULL in ``tools``/``turns`` and their rows in the tidy tables ``tool_calls`` and
``turns``, which are read for them as before.

A typed answer (an agent's `output_type`) is kept as JSON in ``runs.output`` (NULL for text
answers and runs that did not complete), its schema once per distinct schema in
``output_schemas``, named by ``runs.output_schema``; ``runs.final_output`` keeps the answer's text.

A tool call that needed approval keeps the decision (`results.Approval`) as JSON (NULL for calls
that needed none); ``parsed_from_text`` is 1 for a call the model wrote as text (recovered by its
provider). ``runs.warnings`` holds a run's `RunResult.warnings`, one a line (NULL for none).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import HistoryError

if TYPE_CHECKING:
    from openstackai_nb.store._rows import Rows

__all__ = ["BUSY_MS", "INT_COLUMNS", "OUTPUT_COLUMNS", "PUT_RESULT", "RUN_COLUMNS", "setup", "write_rows"]

_SCHEMA_VERSION = 7
"""1: the first layout; 2: runs.finish_reason, turns.finish_reason and turns.reasoning; 3: runs.output,
runs.output_schema and the table output_schemas (typed answers), runs.provider and runs.endpoint (who
served the model, for prices); 4: tool_calls.approval (approval decisions); 5: runs.warnings,
tool_calls.parsed_from_text (what local servers do) and runs.cached_calls (model calls answered from
the response cache); 6: runs.tools and runs.turns, a run's tool calls and turns as compact JSON in its
runs row, instead of rows of the tables tool_calls and turns, which keep the runs written before
(`_ADDED`); 7: the index of runs by status keeps only RUNNING rows (``runs_running``, partial; it
replaces ``runs_status``), and a new file's ``runs.seq`` has no AUTOINCREMENT. Both cut what a
commit writes: a run finished alone wrote 7.2 pages to the WAL (its runs row, the run_id index,
runs_status, sqlite_sequence, its results row and their run_id index, and the header page when the
file grew), 5.4 since. A file of schema 6 or before keeps its AUTOINCREMENT (removing it means
copying the whole table) and loses ``runs_status`` (`_upgrade`). Without AUTOINCREMENT, SQLite may
give a new run the seq of the last run after `RunHistory.clear()` deleted it: seq orders runs, and
the new run is still after every run the file holds."""
BUSY_MS = 10_000
"""How long (ms) a statement waits for another process's lock on the file before it fails."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq               INTEGER PRIMARY KEY,  -- AUTOINCREMENT in files made before schema 7
    run_id            TEXT NOT NULL UNIQUE,
    agent             TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    input             TEXT NOT NULL DEFAULT '',
    final_output      TEXT,
    status            TEXT NOT NULL,
    turn_count        INTEGER NOT NULL DEFAULT 0,
    elapsed_time      REAL NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    n_tool_calls      INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    started_at        INTEGER NOT NULL,  -- nanoseconds since the epoch, UTC
    metadata          TEXT NOT NULL DEFAULT '{}',
    owner_host        TEXT,
    owner_pid         INTEGER,
    owner_start       TEXT,
    finish_reason     TEXT,
    provider          TEXT,
    endpoint          TEXT,
    output            TEXT,  -- a typed answer as JSON (NULL: a text answer, or not completed)
    output_schema     TEXT,  -- its schema's key in output_schemas
    warnings          TEXT,  -- RunResult.warnings, one a line (NULL: none)
    cached_calls      INTEGER NOT NULL DEFAULT 0  -- model calls answered from the response cache
);
-- Only the RUNNING rows (a run still going, or one whose process died): what opening a file looks
-- for. A run that finishes within RUNNING_RECORD_DELAY never enters it.
CREATE INDEX IF NOT EXISTS runs_running ON runs(status) WHERE status = 'RUNNING';
-- The full RunResult JSON lives apart, so the runs table stays narrow and fast to scan.
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
);
-- Each distinct JSON schema of typed answers, once.
CREATE TABLE IF NOT EXISTS output_schemas (
    key    TEXT PRIMARY KEY,
    schema TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tool_calls (
    run_id       TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    call_id      TEXT,
    name         TEXT,
    arguments    TEXT,
    result       TEXT,
    error        TEXT,
    started_at   INTEGER,
    elapsed_time REAL,
    turn         INTEGER,
    approval     TEXT,  -- the approval decision as JSON (NULL: the call needed none)
    parsed_from_text INTEGER NOT NULL DEFAULT 0,  -- 1: the model wrote the call as text
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turns (
    run_id       TEXT NOT NULL,
    turn         INTEGER NOT NULL,
    start        REAL,
    duration     REAL,
    outcome      TEXT,
    model_time   REAL,
    retries      INTEGER,
    n_tool_calls INTEGER,
    tool_time    REAL,
    error        TEXT,
    finish_reason TEXT,
    reasoning    TEXT,
    PRIMARY KEY (run_id, turn)
) WITHOUT ROWID;
"""

RUN_COLUMNS = (
    "run_id",
    "agent",
    "model",
    "input",
    "final_output",
    "status",
    "turn_count",
    "elapsed_time",
    "prompt_tokens",
    "completion_tokens",
    "n_tool_calls",
    "error",
    "started_at",
    "finish_reason",
    "provider",
    "endpoint",
    "warnings",
    "cached_calls",
)
INT_COLUMNS = ("turn_count", "prompt_tokens", "completion_tokens", "n_tool_calls", "cached_calls")
OUTPUT_COLUMNS = ("output", "output_schema")
"""The typed answer's columns of the runs table (expanded into ``output.<field>`` by `to_dataframe`)."""
_ROW_COLUMNS = (*RUN_COLUMNS, "metadata", "owner_host", "owner_pid", "owner_start", *OUTPUT_COLUMNS)
_WRITTEN = (*_ROW_COLUMNS, "tools", "turns")
_UPSERT_TAIL = (
    " ON CONFLICT(run_id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in _ROW_COLUMNS[1:])
    + ", tools=COALESCE(excluded.tools, runs.tools), turns=COALESCE(excluded.turns, runs.turns)"
)
"""A RUNNING version (tools and turns NULL) keeps the tool calls and turns of a finished one stored before."""
_INSERT_RUNS = f"INSERT INTO runs ({', '.join(_WRITTEN)})"
_INSERT_RESULTS = "INSERT OR REPLACE INTO results (run_id, result)"
_INSERT_SCHEMAS = "INSERT OR IGNORE INTO output_schemas (key, schema)"
PUT_RESULT = "UPDATE results SET result = ?2 WHERE run_id = ?1"
"""Replace a stored run's JSON (parameters: run_id, JSON), keeping its tool calls and turns."""


# -- batched writes -------------------------------------------------------------------------------


def _insert(
    conn: sqlite3.Connection | sqlite3.Cursor, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """`head VALUES (...),(...)... tail`: all rows in as few statements as SQLite's bound allows."""
    if not rows:
        return
    width = len(rows[0])
    if len(rows) == 1:  # a run committed alone (`run_sync`): its row as it is, the text made once
        conn.execute(_statement(head, tail, width, 1), rows[0])
        return
    per = max(1, min(256, _max_variables(conn) // width))
    for i in range(0, len(rows), per):
        part = list(rows[i : i + per])
        # Padded to a power of two by repeating the last row (every caller's statement is an
        # upsert, OR REPLACE or OR IGNORE, so a repeat changes nothing): sqlite3 compiles and
        # caches one statement per distinct text, and a text per batch size kept late allocations
        # alive that pinned allocator arenas after a large compare() (benchmarks/README.md).
        part += [part[-1]] * (min(per, 1 << (len(part) - 1).bit_length()) - len(part))
        conn.execute(_statement(head, tail, width, len(part)), [v for row in part for v in row])


@functools.cache
def _statement(head: str, tail: str, width: int, count: int) -> str:
    """`head VALUES (?,...),... tail` for `count` rows of `width` values (a few texts, made once each)."""
    one = "(" + ",".join("?" * width) + ")"
    return f"{head} VALUES {','.join([one] * count)}{tail}"


_variables: int | None = None


def _max_variables(conn: sqlite3.Connection | sqlite3.Cursor) -> int:
    global _variables
    if _variables is None:
        try:
            connection = conn.connection if isinstance(conn, sqlite3.Cursor) else conn
            _variables = int(connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        except (AttributeError, sqlite3.Error):  # getlimit is Python 3.11+
            _variables = 999  # SQLite's bound before 3.32
    return _variables


def write_rows(conn: sqlite3.Connection | sqlite3.Cursor, batch: Iterable[Rows]) -> None:
    """Upsert runs (inside the caller's transaction; its connection or cursor): one statement per table.

    Statement count matters more than row count: the sqlite3 module releases the GIL around every
    statement, and on a busy process each release costs the writer a GIL hand-off (measured:
    1,000 rows in batches of 10 under a CPU-bound thread took 13 s and 246 ms of CPU one
    statement per row, 2.3 s and 53 ms with one multi-row statement per batch). A run's tool
    calls and turns ride in its runs row (`runs.tools`, `runs.turns`, compact JSON), so a batch
    is two statements (three when a typed answer brings a new schema), whatever it holds.

    The result equals writing them one by one, in order: a run given twice keeps its first
    position (seq) and its last values; its tool calls and turns are those of its last finished
    version.
    """
    if isinstance(batch, list | tuple) and len(batch) == 1:  # a run committed alone: no grouping to do
        [rows] = batch
        rows.build()
        _insert(conn, _INSERT_RUNS, [(*rows.run, *(rows.details if rows.finished else (None, None)))], _UPSERT_TAIL)
        _insert(conn, _INSERT_RESULTS, [(rows.run_id, rows.text)])
        if rows.schema is not None:
            _insert(conn, _INSERT_SCHEMAS, [rows.schema])
        return
    last: dict[str, Rows] = {}  # first position, last version
    finished: dict[str, Rows] = {}
    for rows in batch:
        rows.build()
        last[rows.run_id] = rows
        if rows.finished:
            finished[rows.run_id] = rows
    if not last:
        return
    runs = []
    for run_id, rows in last.items():
        done = finished.get(run_id)
        runs.append((*rows.run, *(done.details if done is not None else (None, None))))
    _insert(conn, _INSERT_RUNS, runs, _UPSERT_TAIL)
    _insert(conn, _INSERT_RESULTS, [(r.run_id, r.text) for r in last.values()])
    schemas = {r.schema[0]: r.schema for r in last.values() if r.schema is not None}
    _insert(conn, _INSERT_SCHEMAS, list(schemas.values()))


_ADDED = {
    "runs": (
        "finish_reason TEXT",
        "provider TEXT",
        "endpoint TEXT",
        "output TEXT",
        "output_schema TEXT",
        "warnings TEXT",
        "cached_calls INTEGER NOT NULL DEFAULT 0",
        "tools TEXT",
        "turns TEXT",
    ),
    "turns": ("finish_reason TEXT", "reasoning TEXT"),
    "tool_calls": ("approval TEXT", "parsed_from_text INTEGER NOT NULL DEFAULT 0"),
}
"""Columns added since schema 1, appended in this order (turns and tool_calls rows are inserted by position).
Tables added since (output_schemas) come from `_SCHEMA`'s CREATE TABLE IF NOT EXISTS."""


def _add_columns(conn: sqlite3.Connection) -> None:
    """Add the columns an older file lacks (another process may be adding them at the same moment)."""
    for table, columns in _ADDED.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column in columns:
            if column.split()[0] in have:
                continue
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise


def _upgrade(conn: sqlite3.Connection) -> None:
    """What a file of an older schema changes besides new columns (idempotent, like the rest of `setup`).

    Schema 7: ``runs_status`` (every run, by status) is dropped; ``runs_running``, made by
    `_SCHEMA`, indexes only the RUNNING rows, which is all the history looks up by status.
    """
    conn.execute("DROP INDEX IF EXISTS runs_status")


def setup(conn: sqlite3.Connection, path: Path | None) -> None:
    """Pragmas and schema of a new connection (idempotent: safe to run again)."""
    conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > _SCHEMA_VERSION:
        raise HistoryError(
            f"the run history file {path} was written by a newer openstackai-nb (schema {version}); "
            "upgrade openstackai-nb or use another file"
        )
    if path is not None:
        conn.execute("PRAGMA journal_mode=WAL")
        # Commits happen on the store's writer thread, never on the run loop, so SQLite's
        # own checkpoint after a commit (every ~1000 pages) is kept: with checkpoints only
        # on another connection, a WAL written to without pause never got reset and grew
        # without bound (730 MB for 20,000 writes). The WAL is truncated back to 16 MB.
        conn.execute("PRAGMA journal_size_limit=16777216")
    conn.execute("PRAGMA synchronous=NORMAL")
    if version < _SCHEMA_VERSION:
        # Idempotent (IF NOT EXISTS): two processes creating the same file at once is fine.
        conn.executescript(_SCHEMA)
        _add_columns(conn)  # a file of an older schema keeps its runs and gains the new columns
        _upgrade(conn)
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
