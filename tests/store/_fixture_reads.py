"""History files written by an earlier version, and everything the history reads back from them.

`tests/store/fixtures/history_v5.sqlite` was written by the code of main at 9ce09a6 (history
schema 5, the layout before issue 25), by this module's `write_runs`; `history_v5.reads.json`
holds what that code read back from it (`reads`). `history_v6.*` the same by the code that
introduced schema 6 (branch h25store), and `history_v7.*` by the code that introduced schema 7
(7 Dec 2026), each for the next format change. `test_format_fixtures.py`
checks that today's code reads each file identically and can go on writing into it.

Regenerate (only with the code that wrote the format under test, never with newer code):

    .venv/bin/python -m tests.store._fixture_reads tests/store/fixtures/history_v5
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from openstackai_nb import Agent, RunConfig, RunHistory, Runner, tool
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply, call
from openstackai_nb.results import RunResult, RunStatus
from openstackai_nb.tools import ApprovalRequest, Decision

KEY = "sk-fixture-SECRET-0123456789abcdef"
"""A key-shaped string in one run's input: stored scrubbed."""


class Ticket(BaseModel):
    """A support ticket."""

    title: str
    priority: int
    tags: list[str]


@tool(requires_approval=True)
def pay(amount: float) -> str:
    """Pay an amount."""
    return f"paid {amount}"


def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: sunny"


def _approve(request: ApprovalRequest) -> Decision:
    return Decision.approve("small") if request.arguments["amount"] <= 10 else Decision.reject("too much")


def write_runs(history: RunHistory) -> None:
    """Record the fixture's runs: tools, approvals, typed answers, failures, metadata, a RUNNING row."""

    def payer(messages: Any, info: AgentInfo) -> Any:
        if info.turn == 1:
            return Reply(tool_calls=[call("pay", amount=5), call("pay", amount=500), call("lookup", city="Oslo")])
        return Reply(text="done", reasoning="Paid one.", finish_reason="stop")

    def ticket(messages: Any, info: AgentInfo) -> str:
        prompt = messages[-1].content or ""
        if "?" in prompt:
            return "not json"
        return json.dumps({"title": prompt, "priority": len(prompt) % 3, "tags": ["a", "b"]})

    runs: list[RunResult] = []
    runs.append(
        Runner.run_sync(
            Agent(name="Payer", tools=[pay, lookup], model=FunctionModel(payer, name="payer")),
            "pay them",
            config=RunConfig(approve=_approve, metadata={"exp": "one", "seed": 1}),
        )
    )
    agent = Agent(name="Scripted", tools=[lookup], model="scripted")
    for i, prompt in enumerate(["say 5 words", "What is the weather in Paris? Use the lookup tool.", f"my key {KEY}"]):
        runs.append(Runner.run_sync(agent, prompt, config=RunConfig(metadata={"exp": "two", "seed": i})))
    tickets = Agent(name="Tickets", model=FunctionModel(ticket, name="tickets"), output_type=Ticket)
    runs.append(Runner.run_sync(tickets, "printer on fire", config=RunConfig(metadata={"exp": "two", "seed": 9})))
    runs.append(Runner.run_sync(tickets, "what?", config=RunConfig(max_turns=1)))  # FAILED, text kept

    def broken(messages: Any, info: AgentInfo) -> str:
        raise RuntimeError("the model broke")

    failed = Runner.run_sync(Agent(name="Broken", model=FunctionModel(broken)), "hello")
    failed.warnings.append("a warning, for the warnings column")
    runs.append(failed)
    for r in runs:
        history.add(r)
    running = RunResult(
        run_id="run_fixture_running",
        status=RunStatus.RUNNING,
        agent_name="Elsewhere",
        model="scripted",
        input="still going on another host",
        started_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    )
    history.add(running, finished=False)
    history.flush()
    # The RUNNING row is owned by a process on another host: it stays RUNNING wherever it is read.
    history._store.write(lambda c: c.execute("UPDATE runs SET owner_host='fixture-host' WHERE status='RUNNING'"))


def _cell(value: Any) -> Any:
    """One DataFrame cell as exact JSON (timestamps to ns, NaN and NA spelt out)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return {"ts": value.value, "tz": str(value.tz)}
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or value is pd.NaT or value is None:
        return {"na": type(value).__name__}
    if isinstance(value, float) and math.isnan(value):
        return {"nan": True}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): _cell(v) for k, v in value.items()}}
    return value


def frame(df: Any) -> dict[str, Any]:
    """A DataFrame as exact JSON: columns, dtypes and every cell."""
    return {
        "columns": [str(c) for c in df.columns],
        "dtypes": [str(t) for t in df.dtypes],
        "rows": [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)],
    }


def reads(history: RunHistory) -> dict[str, Any]:
    """Everything the history reads back: DataFrames, runs by id and position, filters, search."""
    ids = history.run_ids
    out: dict[str, Any] = {
        "len": len(history),
        "run_ids": ids,
        "to_dataframe": frame(history.to_dataframe()),
        "to_dataframe_cost": frame(history.to_dataframe(metadata=False, cost=True)),
        "tool_calls": frame(history.tool_calls_dataframe()),
        "turns": frame(history.turns_dataframe()),
        "runs": {run_id: history[run_id].to_dict() for run_id in ids},
        "iter": [r.to_dict() for r in history],
        "last_2": [r.run_id for r in history.last(2)],
        "first": history[0].run_id,
        "slice": [r.run_id for r in history[1:3]],
    }
    filters: dict[str, dict[str, Any]] = {
        "status_completed": {"status": "COMPLETED"},
        "status_failed_or_running": {"status": ["FAILED", "RUNNING"]},
        "agent_scripted": {"agent": "Scripted"},
        "model": {"model": "scripted"},
        "metadata_exp_two": {"metadata": {"exp": "two"}},
        "metadata_seed_1": {"metadata": {"exp": "two", "seed": 1}},
        "since": {"since": "2026-12-01T00:00:00+00:00"},
        "until": {"until": "2026-12-01T10:00:01+00:00"},
        "run_ids": {"run_ids": ids[::2]},
    }
    for name, kwargs in filters.items():
        view = history.filter(**kwargs)
        out[f"filter_{name}"] = {"len": len(view), "run_ids": view.run_ids, "frame": frame(view.to_dataframe())}
    view = history.filter(lambda r: bool(r.tool_calls), agent=["Payer", "Scripted"])
    out["filter_predicate"] = {"run_ids": view.run_ids, "tool_calls": frame(view.tool_calls_dataframe())}
    return out


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False)


def main(stem: str) -> None:
    from openstackai_nb import store

    base = Path(stem)
    db = base.with_suffix(".sqlite")
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    store.set_history(RunHistory(":memory:"))  # the runs below are recorded by hand, in `db` only
    history = RunHistory(db)
    write_runs(history)
    base.with_suffix(".reads.json").write_text(canonical(reads(history)) + "\n", encoding="utf-8")
    history.flush()
    import sqlite3

    conn = sqlite3.connect(db)  # everything into the file itself: the -wal is not committed
    assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
