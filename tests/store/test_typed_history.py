"""Typed answers in the history: stored as JSON, expanded into output.<field> columns with dtypes
from the schema, exported and loaded back equal, and a history file of schema 2 upgraded."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel

from openstackai_nb import Agent, RunHistory, Runner, RunStatus
from openstackai_nb.models.function import AgentInfo, FunctionModel
from openstackai_nb.runner import RunConfig
from openstackai_nb.store import _schema


class Address(BaseModel):
    city: str
    zip: int


class Order(BaseModel):
    """An order."""

    customer: str
    total: float
    items: list[str]
    paid: bool
    priority: Literal["low", "high"]
    address: Address
    shipped_at: datetime
    discount: int | None = None


ORDERS = [
    {"customer": "Acme", "total": 12.5, "items": ["bolt", "nut"], "paid": True, "priority": "high",
     "address": {"city": "Lyon", "zip": 69001}, "shipped_at": "2026-03-01T10:00:00Z", "discount": 5},
    {"customer": "Bobco", "total": 99.0, "items": [], "paid": False, "priority": "low",
     "address": {"city": "Nice", "zip": 6000}, "shipped_at": "2026-03-02T11:30:00Z", "discount": None},
]  # fmt: skip

OUTPUT_DTYPES = {
    "output.customer": "object|str",
    "output.total": "float64",
    "output.items": "object",
    "output.paid": "boolean",
    "output.priority": "category",
    "output.address.city": "object|str",
    "output.address.zip": "Int64",
    "output.shipped_at": "datetime64[ns, UTC]",
    "output.discount": "Int64",
}


def order_agent() -> Agent:
    def model(messages: list[Any], info: AgentInfo) -> str:
        prompt = messages[-1].content or ""
        return json.dumps(ORDERS[int(prompt[-1])]) if prompt[-1].isdigit() else "no idea"

    return Agent(name="Orders", model=FunctionModel(model, name="orders"), output_type=Order)


def run_orders(history: RunHistory) -> list[Any]:
    results = [Runner.run_sync(order_agent(), f"order {i}") for i in range(2)]
    results.append(Runner.run_sync(order_agent(), "order ?", config=RunConfig(max_turns=1)))  # FAILED
    results.append(Runner.run_sync(Agent(name="Text", model="scripted"), "Hello"))  # a text answer
    for r in results:
        history.add(r)
    return results


def assert_output_columns(df: pd.DataFrame) -> None:
    columns = [c for c in df.columns if c.startswith("output.")]
    assert columns == list(OUTPUT_DTYPES)  # the schema's order, nested fields dotted
    for name, dtype in OUTPUT_DTYPES.items():
        assert str(df[name].dtype) in dtype.split("|"), (name, df[name].dtype)
    assert list(df["output.priority"].cat.categories) == ["low", "high"]


def test_typed_answers_become_columns_with_dtypes_from_the_schema(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    results = run_orders(history)
    df = history.to_dataframe()
    assert_output_columns(df)
    assert df["output.customer"].tolist()[:2] == ["Acme", "Bobco"]
    assert df["output.total"].tolist()[:2] == [12.5, 99.0] and df["output.total"].iloc[2:].isna().all()
    assert df["output.items"].tolist()[:2] == [["bolt", "nut"], []]  # lists stay lists
    assert df["output.address.zip"].tolist()[:2] == [69001, 6000]
    assert df["output.shipped_at"].iloc[0] == pd.Timestamp("2026-03-01T10:00:00Z")
    assert df["output.discount"].iloc[0] == 5 and pd.isna(df["output.discount"].iloc[1])
    assert df["output.paid"].tolist()[:2] == [True, False] and pd.isna(df["output.paid"].iloc[3])
    # final_output keeps the text: the typed answer's JSON, the failed run's text, the text answer.
    assert json.loads(df["final_output"].iloc[0]) == ORDERS[0]
    assert df["final_output"].iloc[2] == "no idea" and df["status"].iloc[2] == "FAILED"
    assert df["final_output"].iloc[3] == results[3].final_output
    # Each distinct schema is stored once.
    history.flush()
    with sqlite3.connect(history.path) as conn:  # type: ignore[arg-type]
        assert conn.execute("SELECT COUNT(*) FROM output_schemas").fetchone()[0] == 1
        stored = conn.execute("SELECT output FROM runs ORDER BY seq").fetchall()
    conn.close()
    assert json.loads(stored[0][0])["address"] == {"city": "Lyon", "zip": 69001} and stored[2][0] is None


def test_a_history_without_typed_answers_has_no_output_columns(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    history.add(Runner.run_sync(Agent(name="Text", model="scripted"), "Hello"))
    assert not [c for c in history.to_dataframe().columns if c.startswith("output")]


def test_export_and_load_round_trip_equal(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    results = run_orders(history)
    path = history.export(tmp_path / "runs.jsonl")
    loaded = RunHistory.load(path)
    assert list(loaded) == list(history) == results
    back = loaded[results[0].run_id]
    assert back.final_output == json.loads(json.dumps(results[0].to_dict()))["final_output"]  # plain JSON data
    assert back.output_as(Order) == results[0].final_output and isinstance(results[0].final_output, Order)
    assert_output_columns(loaded.to_dataframe())
    columns = list(OUTPUT_DTYPES)
    pd.testing.assert_frame_equal(loaded.to_dataframe()[columns], history.to_dataframe()[columns])
    again = RunHistory.load(tmp_path / "h.sqlite")  # a copy of the store file
    assert list(again) == results


def test_secrets_in_a_typed_answer_are_scrubbed_everywhere(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme-secret-value-123456")
    order = {**ORDERS[0], "customer": "key acme-secret-value-123456"}
    agent = Agent(name="Leaky", model=FunctionModel(lambda m, i: json.dumps(order)), output_type=Order)
    history = RunHistory(tmp_path / "h.sqlite")
    history.add(Runner.run_sync(agent, "go"))
    df = history.to_dataframe()
    assert "acme-secret-value-123456" not in df["output.customer"].iloc[0]
    history.flush()
    raw = (tmp_path / "h.sqlite").read_bytes() + (tmp_path / "h.sqlite-wal").read_bytes()
    assert b"acme-secret-value-123456" not in raw


# -- a file of schema 2 -----------------------------------------------------------------------------
# The runs table openstackai-nb wrote at schema 2 (the other tables are unchanged since).
RUNS_2 = """
CREATE TABLE runs (
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
    started_at        INTEGER NOT NULL,
    metadata          TEXT NOT NULL DEFAULT '{}',
    owner_host        TEXT,
    owner_pid         INTEGER,
    owner_start       TEXT,
    finish_reason     TEXT
);
"""


def schema_2_file(path: Path) -> tuple[Path, dict[str, Any]]:
    old = Runner.run_sync(Agent(name="Old", model="scripted"), "Hello").to_dict()
    del old["output_text"], old["output_schema"]  # a dump from before typed answers
    other_tables = _schema._SCHEMA[_schema._SCHEMA.index("CREATE INDEX") :]
    other_tables = other_tables.replace(
        other_tables[
            other_tables.index("-- Each distinct") : other_tables.index("CREATE TABLE IF NOT EXISTS tool_calls")
        ],
        "",
    )
    with sqlite3.connect(path) as conn:
        conn.executescript(RUNS_2 + other_tables)
        conn.execute("PRAGMA user_version=2")
        conn.execute(
            "INSERT INTO runs (run_id, agent, model, input, final_output, status, started_at) "
            "VALUES (?, 'Old', 'scripted', 'Hello', ?, 'COMPLETED', 1767323045000000000)",
            (old["run_id"], old["final_output"]),
        )
        conn.execute("INSERT INTO results VALUES (?, ?)", (old["run_id"], json.dumps(old)))
    conn.close()
    return path, old


def test_a_schema_2_file_opens_keeps_its_runs_and_takes_typed_answers(tmp_path: Path) -> None:
    path, old = schema_2_file(tmp_path / "old.sqlite")
    history = RunHistory(path)
    (first,) = list(history)
    assert first.final_output == first.output_text == old["final_output"] and first.output_schema is None
    new = Runner.run_sync(order_agent(), "order 1")
    history.add(new)
    df = history.to_dataframe().set_index("run_id")
    assert pd.isna(df.loc[old["run_id"], "output.total"]) and df.loc[new.run_id, "output.total"] == 99.0
    assert df.loc[old["run_id"], "final_output"] == old["final_output"]
    assert history[new.run_id] == new
    history.flush()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        assert {"output", "output_schema"} <= columns
    conn.close()
    assert len(RunHistory(path)) == 2


def test_a_run_recorded_while_running_then_finished_keeps_its_typed_answer(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    result = Runner.run_sync(order_agent(), "order 0")
    running = result.model_copy(update={"status": RunStatus.RUNNING, "final_output": None})
    history.add(running, finished=False)
    history.add(result)
    assert history.to_dataframe()["output.customer"].tolist() == ["Acme"]
    assert history[result.run_id].started_at.tzinfo is not None and datetime.now(UTC) >= result.started_at
