"""A history file written before finish_reason, reasoning, provider and endpoint existed (schema 1)
still opens, keeps its runs, and gains the new columns."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pandas as pd

from openstackai_nb import Agent, RunHistory, Runner
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import Reply

# The layout openstackai-nb wrote up to schema 1, verbatim.
SCHEMA_1 = """
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
    owner_start       TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
-- The full RunResult JSON lives apart, so the runs table stays narrow and fast to scan.
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
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
    PRIMARY KEY (run_id, turn)
) WITHOUT ROWID;
"""


OLD_RESULT = {
    "run_id": "run_00000000000000aa", "status": "COMPLETED", "final_output": "Old answer.", "agent_name": "Old",
    "model": "scripted", "input": "Hi", "turn_count": 1, "elapsed_time": 0.5,
    "started_at": "2026-01-02T03:04:05Z", "tool_calls": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2,
    "requests": 1}, "metadata": {}, "error": None, "messages": [], "trace": [],
}  # fmt: skip


def old_file(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1)
        conn.execute("PRAGMA user_version=1")
        conn.execute(
            "INSERT INTO runs (run_id, agent, model, input, final_output, status, turn_count, elapsed_time,"
            " prompt_tokens, completion_tokens, started_at) VALUES (?, 'Old', 'scripted', 'Hi', 'Old answer.',"
            " 'COMPLETED', 1, 0.5, 3, 2, 1767323045000000000)",
            (OLD_RESULT["run_id"],),
        )
        conn.execute("INSERT INTO results VALUES (?, ?)", (OLD_RESULT["run_id"], json.dumps(OLD_RESULT)))
        conn.execute("INSERT INTO turns VALUES (?, 1, 0.0, 0.5, 'ok', 0.4, 0, 0, 0.0, NULL)", (OLD_RESULT["run_id"],))
    conn.close()
    return path


def test_a_schema_1_file_opens_keeps_its_runs_and_gains_the_columns(tmp_path: Path) -> None:
    path = old_file(tmp_path / "old.sqlite")
    history = RunHistory(path)
    (old,) = list(history)
    assert old.final_output == "Old answer." and old.finish_reason is None and old.reasoning is None

    def thinker(messages, info):  # type: ignore[no-untyped-def]
        return Reply(text="New answer.", reasoning="Thinking.", finish_reason="length")

    new = Runner.run_sync(Agent(name="New", model=FunctionModel(thinker)), "Hi")
    history.add(new, finished=True)
    runs = history.to_dataframe().set_index("run_id")
    assert pd.isna(runs.loc[old.run_id, "finish_reason"]) and runs.loc[new.run_id, "finish_reason"] == "length"
    assert runs.loc[[old.run_id, new.run_id], ["provider", "endpoint"]].isna().all(axis=None)  # schema 3's columns
    assert runs["cached_calls"].tolist() == [0, 0] and runs["cached_calls"].dtype == "int64"  # schema 5's
    turns = history.turns_dataframe().set_index("run_id")
    assert pd.isna(turns.loc[old.run_id, "reasoning"])
    assert (turns.loc[new.run_id, "reasoning"], turns.loc[new.run_id, "finish_reason"]) == ("Thinking.", "length")
    assert history[new.run_id] == new
    history.flush()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    conn.close()
    assert len(RunHistory(path)) == 2  # opened again: nothing to migrate


_SCHEMA_5 = re.compile(r"^\s*(warnings|parsed_from_text|cached_calls)\s")


def test_a_schema_4_file_gains_warnings_and_parsed_from_text(tmp_path: Path) -> None:
    # Schema 4 (approval decisions) lacked runs.warnings and tool_calls.parsed_from_text.
    from openstackai_nb.messages import ToolCallRequest
    from openstackai_nb.store import _schema

    path = tmp_path / "v4.sqlite"
    # Schema 4 is today's layout without schema 5's columns (a comma before ")" goes with them).
    kept = [line for line in _schema._SCHEMA.splitlines(keepends=True) if not _SCHEMA_5.search(line)]
    schema_4 = re.sub(r",(\s*--[^\n]*)?\n\)", r"\1\n)", "".join(kept))
    assert "warnings" not in schema_4 and "parsed_from_text" not in schema_4
    with sqlite3.connect(path) as conn:
        conn.executescript(schema_4)
        conn.execute("PRAGMA user_version=4")
        conn.execute(
            "INSERT INTO runs (run_id, status, started_at) VALUES ('run_v4', 'COMPLETED', 1767323045000000000)"
        )
        conn.execute("INSERT INTO results VALUES ('run_v4', ?)", (json.dumps({**OLD_RESULT, "run_id": "run_v4"}),))
        conn.execute("INSERT INTO tool_calls VALUES ('run_v4', 0, 'c0', 'add', '{}', '2', NULL, 0, 0.1, 1, NULL)")
    conn.close()

    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    def model(messages, info):  # type: ignore[no-untyped-def]
        if info.turn == 1:
            return ToolCallRequest(id="t0", name="add", arguments='{"a": 1, "b": 2}', parsed_from_text=True)
        return "3."

    history = RunHistory(path)
    new = Runner.run_sync(Agent(name="New", tools=[add], model=FunctionModel(model)), "1+2")
    new.warnings.append("the prompt was probably cut: raise num_ctx")
    history.add(new, finished=True)
    history.flush()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    conn.close()
    runs = history.to_dataframe().set_index("run_id")
    assert pd.isna(runs.loc["run_v4", "warnings"])
    assert runs.loc[new.run_id, "warnings"] == "the prompt was probably cut: raise num_ctx"
    calls = history.tool_calls_dataframe().set_index("run_id")
    assert calls.loc["run_v4", "parsed_from_text"] == False  # noqa: E712 - a numpy bool
    assert calls.loc[new.run_id, "parsed_from_text"] == True  # noqa: E712
    assert history[new.run_id].tool_calls[0].parsed_from_text and history[new.run_id].warnings == new.warnings
