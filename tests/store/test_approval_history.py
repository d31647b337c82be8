"""Approval decisions in the run history: on each ToolCall of the stored run, as columns of
`tool_calls_dataframe()`, through export and load, and in a file of the previous schema (3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from openstackai_nb import Agent, RunHistory, Runner, tool
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply, call
from openstackai_nb.results import RunResult
from openstackai_nb.runner import RunConfig
from openstackai_nb.store import _schema
from openstackai_nb.tools import ApprovalRequest, Decision


@tool(requires_approval=True)
def pay(amount: float) -> str:
    """Pay an amount."""
    return f"paid {amount}"


def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: sunny"


def approve_small(request: ApprovalRequest) -> Decision:
    if request.arguments["amount"] <= 10:
        return Decision.approve("small")
    return Decision.reject("over the limit of 10")


def payer() -> Agent:
    def model(messages, info: AgentInfo):  # type: ignore[no-untyped-def]
        if info.turn == 1:
            return Reply(tool_calls=[call("pay", amount=5), call("pay", amount=500), call("lookup", city="Oslo")])
        return "done"

    return Agent(name="payer", tools=[pay, lookup], model=FunctionModel(model))


def run_into(history: RunHistory) -> RunResult:
    result = Runner.run_sync(payer(), "pay them", config=RunConfig(approver=approve_small))
    history.add(result, finished=True)
    return result


def test_decisions_are_kept_on_the_run_and_in_the_tool_calls_table(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    result = run_into(history)
    assert history[result.run_id] == result
    stored = {c.arguments.get("amount"): c for c in history[result.run_id].tool_calls}
    assert stored[500].approval is not None and stored[500].approval.reason == "over the limit of 10"

    calls = history.tool_calls_dataframe()
    by_name = calls.assign(amount=[a.get("amount") for a in calls["arguments"]]).set_index(["name", "amount"])
    small, big = by_name.loc[("pay", 5)], by_name.loc[("pay", 500)]
    assert (small["approval"], small["decided_by"], small["approval_reason"]) == (
        "approved",
        "approver approve_small",
        "small",
    )
    assert (big["approval"], big["approval_reason"], bool(big["ok"])) == ("rejected", "over the limit of 10", False)
    assert big["error"] == "the user rejected this call: over the limit of 10"
    assert small["approval_wait"] >= 0
    free = calls[calls["name"] == "lookup"].iloc[0]
    assert pd.isna(free["approval"]) and pd.isna(free["decided_by"]) and pd.isna(free["approval_wait"])


def test_export_and_load_keep_the_decisions(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    result = run_into(history)
    path = history.export(tmp_path / "runs.jsonl")
    loaded = RunHistory.load(path)
    assert loaded[result.run_id] == result
    assert loaded.tool_calls_dataframe()["approval"].tolist() == history.tool_calls_dataframe()["approval"].tolist()


def test_a_schema_3_file_gains_the_approval_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    schema_3 = _schema._SCHEMA.replace(
        "    approval     TEXT,  -- the approval decision as JSON (NULL: the call needed none)\n", ""
    ).replace("    parsed_from_text INTEGER NOT NULL DEFAULT 0,  -- 1: the model wrote the call as text\n", "")
    assert schema_3 != _schema._SCHEMA
    with sqlite3.connect(path) as conn:
        conn.executescript(schema_3)
        conn.execute("PRAGMA user_version=3")
        conn.execute("INSERT INTO tool_calls VALUES ('run_old', 0, 'call_0', 'lookup', '{}', '\"x\"', NULL, 0, 0.1, 1)")
    conn.close()
    history = RunHistory(path)
    result = run_into(history)
    history.flush()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
        assert "approval" in {row[1] for row in conn.execute("PRAGMA table_info(tool_calls)")}
        old = conn.execute("SELECT approval FROM tool_calls WHERE run_id = 'run_old'").fetchone()
    conn.close()
    assert old == (None,)
    calls = history.tool_calls_dataframe()
    assert sorted(calls["approval"].dropna()) == ["approved", "rejected"]
    assert history[result.run_id] == result
