"""The history's tables, their columns, schema upgrades and the batched write of runs.

Layout: a narrow table ``runs`` of scalar columns (read straight into pandas: no JSON is parsed
for `to_dataframe()`), the run's full ``RunResult`` JSON in ``results`` (for iteration and
export), and the tidy tables ``tool_calls`` and ``turns`` keyed by run_id.

A typed answer (an agent's `output_type`) is kept as JSON in ``runs.output`` (NULL for text
answers and runs that did not complete), its schema once per distinct schema in
``output_schemas``, named by ``runs.output_schema``; ``runs.final_output`` keeps the answer's text.

A tool call that needed approval keeps the decision (`results.Approval`) as JSON in
``tool_calls.approval`` (NULL for calls that needed none); ``tool_calls.parsed_from_text`` is 1
for a call the model wrote as text (recovered by its provider). ``runs.warnings`` holds a run's
`RunResult.warnings`, one a line (NULL for none).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import HistoryError

if TYPE_CHECKING:
    from openstackai_nb.store._rows import Rows

__all__ = ["BUSY_MS", "INT_COLUMNS", "OUTPUT_COLUMNS", "PUT_RESULT", "RUN_COLUMNS", "setup", "write_rows"]

_SCHEMA_VERSION = 5
"""1: the first layout; 2: runs.finish_reason, turns.finish_reason and turns.reasoning; 3: runs.output,
runs.output_schema and the table output_schemas (typed answers), runs.provider and runs.endpoint (who
served the model, for prices); 4: tool_calls.approval (approval decisions); 5: runs.warnings,
tool_calls.parsed_from_text (what local servers do) and runs.cached_calls (model calls answered from
the response cache) (`_ADDED`)."""
BUSY_MS = 10_000
"""How long (ms) a statement waits for another process's lock on the file before it fails."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
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
_UPSERT_TAIL = " ON CONFLICT(run_id) DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in _ROW_COLUMNS[1:])
PUT_RESULT = "INSERT OR REPLACE INTO results (run_id, result) VALUES (?, ?)"


# -- batched writes -------------------------------------------------------------------------------

_WIDTH = 3 + len(_ROW_COLUMNS)
"""Columns of a record given to `record_in`: its kind, then the kind's values, NULL-padded."""
_RUN, _TOOL, _TURN, _SCHEMA_ROW = 0, 1, 2, 3
"""Kinds of records: a runs row (c1: finished, c2..: the runs columns, last: the result JSON), a
tool_calls row, a turns row (c1..: the table's columns), an output schema (c1: key, c2: schema)."""
_TOOL_COLUMNS = (
    "run_id, idx, call_id, name, arguments, result, error, started_at, elapsed_time, turn, approval, parsed_from_text"
)
_TURN_COLUMNS = (
    "run_id, turn, start, duration, outcome, model_time, retries, n_tool_calls, tool_time, error, finish_reason, "
    "reasoning"
)


def _new(columns: str, first: int = 1) -> str:
    return ", ".join(f"NEW.c{first + i}" for i in range(len(columns.split(","))))


_RUN_VALUES = ", ".join(f"NEW.c{2 + i}" for i in range(len(_ROW_COLUMNS)))
_RECORD_IN = f"""
CREATE TEMP VIEW IF NOT EXISTS record_in (k, {", ".join(f"c{i}" for i in range(1, _WIDTH))})
    AS SELECT {", ".join(["NULL"] * _WIDTH)} WHERE 0;
CREATE TEMP TRIGGER IF NOT EXISTS record_run INSTEAD OF INSERT ON record_in WHEN NEW.k = {_RUN} BEGIN
    INSERT INTO runs ({", ".join(_ROW_COLUMNS)}) VALUES ({_RUN_VALUES}){_UPSERT_TAIL};
    INSERT OR REPLACE INTO results (run_id, result) VALUES (NEW.c2, NEW.c{_WIDTH - 1});
    DELETE FROM tool_calls WHERE NEW.c1 AND run_id = NEW.c2;
    DELETE FROM turns WHERE NEW.c1 AND run_id = NEW.c2;
END;
CREATE TEMP TRIGGER IF NOT EXISTS record_tool INSTEAD OF INSERT ON record_in WHEN NEW.k = {_TOOL} BEGIN
    INSERT INTO tool_calls ({_TOOL_COLUMNS}) VALUES ({_new(_TOOL_COLUMNS)});
END;
CREATE TEMP TRIGGER IF NOT EXISTS record_turn INSTEAD OF INSERT ON record_in WHEN NEW.k = {_TURN} BEGIN
    INSERT INTO turns ({_TURN_COLUMNS}) VALUES ({_new(_TURN_COLUMNS)});
END;
CREATE TEMP TRIGGER IF NOT EXISTS record_schema INSTEAD OF INSERT ON record_in WHEN NEW.k = {_SCHEMA_ROW} BEGIN
    INSERT OR IGNORE INTO output_schemas (key, schema) VALUES (NEW.c1, NEW.c2);
END;
"""
"""How a batch of runs reaches the tables in one statement: a view of this connection (TEMP:
nothing of it is in the file, whose layout stays schema 5) whose INSTEAD OF triggers route each
record to its table, in the order given."""
_PADS = [(None,) * i for i in range(_WIDTH)]
_CHUNK = 256
"""Records per statement at most (fewer when SQLite's bound on parameters is lower)."""


def _records(batch: Iterable[Rows]) -> list[Any]:
    """The batch as a flat list of record values (`_WIDTH` per record), in the order they apply.

    The result equals writing the runs one by one, in order: a run given twice keeps its first
    position (seq) and its last values; its tool-call and turn rows are those of its last
    finished version, replacing any stored before.
    """
    last: dict[str, Rows] = {}  # first position, last version
    finished: dict[str, Rows] = {}
    for rows in batch:
        last[rows.run_id] = rows
        if rows.finished:
            finished[rows.run_id] = rows
    values: list[Any] = []
    schemas: dict[str, tuple[str, str]] = {}
    for run_id, rows in last.items():
        done = finished.get(run_id)
        values += (_RUN, done is not None, *rows.run, rows.text)
        if done is not None:
            for row in done.tools:
                values += (_TOOL, *row, *_PADS[_WIDTH - 1 - len(row)])
            for row in done.turns:
                values += (_TURN, *row, *_PADS[_WIDTH - 1 - len(row)])
        if rows.schema is not None and rows.schema[0] not in schemas:
            schemas[rows.schema[0]] = rows.schema
            values += (_SCHEMA_ROW, *rows.schema, *_PADS[_WIDTH - 3])
    return values


def write_rows(conn: sqlite3.Connection, batch: Iterable[Rows]) -> None:
    """Upsert runs (inside the caller's transaction) with one statement per 256 records.

    Statement count matters more than row count: the sqlite3 module releases the GIL around every
    statement, and on a busy process each release costs the writer a GIL hand-off (measured:
    1,000 rows in batches of 10 under a CPU-bound thread took 13 s and 246 ms of CPU one
    statement per row, 2.3 s and 53 ms with one multi-row statement per batch). So a batch is one
    multi-row INSERT into `record_in` (see `_RECORD_IN`): its triggers fill runs, results,
    tool_calls, turns and output_schemas inside that one statement, in SQLite's C code.
    """
    batch = list(batch)
    for rows in batch:
        rows.build()
    values = _records(batch)
    if not values:
        return
    per = max(1, min(_CHUNK, _max_variables(conn) // _WIDTH)) * _WIDTH
    one = "(" + ",".join("?" * _WIDTH) + ")"
    for i in range(0, len(values), per):
        part = values[i : i + per]
        conn.execute(f"INSERT INTO record_in VALUES {','.join([one] * (len(part) // _WIDTH))}", part)


_variables: int | None = None


def _max_variables(conn: sqlite3.Connection) -> int:
    global _variables
    if _variables is None:
        try:
            _variables = int(conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        except (AttributeError, sqlite3.Error):  # getlimit is Python 3.11+
            _variables = 999  # SQLite's bound before 3.32
    return _variables


_ADDED = {
    "runs": (
        "finish_reason TEXT",
        "provider TEXT",
        "endpoint TEXT",
        "output TEXT",
        "output_schema TEXT",
        "warnings TEXT",
        "cached_calls INTEGER NOT NULL DEFAULT 0",
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
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
    conn.executescript(_RECORD_IN)  # this connection's own (TEMP): nothing is written to the file
