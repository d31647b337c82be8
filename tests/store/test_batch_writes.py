"""Batched writes: a group of runs written together ends exactly as if written one by one."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.results import RunResult, ToolCall
from openstackai_nb.store import RunHistory
from openstackai_nb.store._rows import Rows
from openstackai_nb.store._schema import write_rows


def run(run_id: str, *, status: RunStatus = RunStatus.COMPLETED, calls: int = 0, output: str = "ok") -> RunResult:
    now = datetime.now(UTC)
    return RunResult(
        run_id=run_id,
        status=status,
        final_output=output,
        agent_name="A",
        model="m",
        input=f"input of {run_id}",
        turn_count=1,
        started_at=now,
        tool_calls=[ToolCall(call_id=f"c{i}", name="t", started_at=now, turn=1) for i in range(calls)],
    )


def rows(result: RunResult, *, finished: bool = True) -> Rows:
    return Rows(result, (None, None, None) if finished else ("host", 1, "1"), finished=finished)


def table(h: RunHistory, sql: str) -> list[tuple]:
    assert h.path is not None
    with sqlite3.connect(h.path) as conn:
        return conn.execute(sql).fetchall()


def test_one_batch_equals_writing_one_by_one(tmp_path) -> None:
    h = RunHistory(tmp_path / "h.sqlite")
    h.add(run("run_old", calls=3))  # stored before, with three tool calls
    batch = [
        rows(run("run_a", status=RunStatus.RUNNING, output=""), finished=False),
        rows(run("run_b", calls=2)),
        rows(run("run_a", calls=1, output="final a")),  # the same run again, finished
        rows(run("run_old", calls=1, output="again")),  # a stored run re-recorded with fewer calls
        rows(run("run_b", calls=2, output="b again")),  # a finished run twice in one batch
    ]
    h._store.write(lambda c: write_rows(c, batch))

    assert h.run_ids == ["run_old", "run_a", "run_b"]  # first positions kept
    assert h["run_a"].final_output == "final a" and h["run_a"].status is RunStatus.COMPLETED
    assert h["run_b"].final_output == "b again" and h["run_old"].final_output == "again"
    owners = table(h, "SELECT run_id, owner_pid FROM runs ORDER BY seq")
    assert owners == [("run_old", None), ("run_a", None), ("run_b", None)]
    calls = h.tool_calls_dataframe()
    assert calls.groupby("run_id").size().to_dict() == {"run_a": 1, "run_b": 2, "run_old": 1}  # none stale
    assert calls["run_id"].tolist() == ["run_old", "run_a", "run_b", "run_b"]  # in run order
    assert len(h.turns_dataframe()) == 3
    df = h.to_dataframe().set_index("run_id")
    assert df.loc["run_old", "n_tool_calls"] == 1 and df.loc["run_a", "status"] == "COMPLETED"


def test_a_running_row_after_its_finished_row_keeps_the_tool_rows(tmp_path) -> None:
    # Written one by one, a RUNNING upsert after the finished one changes the runs row only.
    h = RunHistory(tmp_path / "h.sqlite")
    batch = [rows(run("run_x", calls=2)), rows(run("run_x", status=RunStatus.RUNNING), finished=False)]
    h._store.write(lambda c: write_rows(c, batch))
    assert h["run_x"].status is RunStatus.RUNNING
    assert len(h.tool_calls_dataframe()) == 2
    # ... also when the RUNNING row comes in a later batch.
    h.add(run("run_y", calls=3))
    h.add(run("run_y", status=RunStatus.RUNNING), finished=False)
    assert h["run_y"].status is RunStatus.RUNNING
    assert h.tool_calls_dataframe()["run_id"].tolist() == ["run_x", "run_x", "run_y", "run_y", "run_y"]


def test_large_batches_are_split_under_sqlites_parameter_bound(tmp_path) -> None:
    h = RunHistory(tmp_path / "h.sqlite")
    results = [run(f"run_{i:05d}", calls=i % 4) for i in range(1200)]
    assert h.add_many(results) == 1200
    assert len(h) == 1200 and h.run_ids[:2] == ["run_00000", "run_00001"] and h.run_ids[-1] == "run_01199"
    assert len(h.tool_calls_dataframe()) == sum(i % 4 for i in range(1200))
    assert len(h.turns_dataframe()) == 1200


def test_concurrent_runs_are_each_committed_before_they_return(tmp_path) -> None:
    from openstackai_nb import store

    h = RunHistory(tmp_path / "h.sqlite")
    previous = store.set_history(h)
    seen: list[int] = []

    async def one(i: int) -> None:
        result = await Runner.run_async(Agent(name="A", model="scripted"), f"q{i}")
        # Committed: visible to another connection the moment run_async returns.
        with sqlite3.connect(h.path) as conn:  # type: ignore[arg-type]
            seen.append(conn.execute("SELECT COUNT(*) FROM runs WHERE run_id=?", (result.run_id,)).fetchone()[0])

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(60)))

    try:
        asyncio.run(main())
    finally:
        store.set_history(previous)
    assert seen == [1] * 60 and len(h) == 60


def test_a_run_cancelled_while_its_write_is_queued_does_not_break_the_writer(tmp_path) -> None:
    from openstackai_nb import store

    h = RunHistory(tmp_path / "h.sqlite")
    previous = store.set_history(h)

    async def main() -> None:
        # Cancel each run at a random point, some of them while waiting for their commit.
        tasks = [asyncio.ensure_future(Runner.run_async(Agent(name="A", model="scripted"), f"q{i}")) for i in range(40)]
        for k in range(12):
            await asyncio.sleep(0)
            tasks[k * 3].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run(main())
        assert h.flush()
        statuses = {r.status for r in h}
        assert statuses <= {RunStatus.COMPLETED, RunStatus.CANCELLED} and len(h) >= 28
        Runner.run_sync(Agent(name="A", model="scripted"), "after")  # the writer still works
        assert h[-1].input == "after"
    finally:
        store.set_history(previous)


def test_writes_nobody_waits_for_are_committed_soon_and_on_flush(tmp_path) -> None:
    h = RunHistory(tmp_path / "h.sqlite")

    async def queue(n: int, start: int) -> None:
        for i in range(start, start + n):
            assert h._store.submit_async(rows(run(f"run_{i}")), wait=False) is None

    asyncio.run(queue(3, 0))
    deadline = time.monotonic() + 30
    while table(h, "SELECT COUNT(*) FROM runs") != [(3,)] and time.monotonic() < deadline:
        time.sleep(0.01)  # committed by the writer on its own, without a flush
    assert table(h, "SELECT COUNT(*) FROM runs") == [(3,)]
    asyncio.run(queue(2, 3))
    assert h.flush() and table(h, "SELECT COUNT(*) FROM runs") == [(5,)]


def test_a_batch_is_two_statements_between_begin_and_commit(tmp_path) -> None:
    # Each statement costs the writer a GIL hand-off: a batch of runs, with their tool calls and
    # turns, is one multi-row upsert into runs and one into results.
    h = RunHistory(tmp_path / "h.sqlite")
    h.add(run("run_warm"))
    lines: list[str] = []
    h._store.conn.set_trace_callback(lines.append)
    try:
        h.add_many([run(f"run_{i}", calls=i) for i in range(3)])
    finally:
        h._store.conn.set_trace_callback(None)
    assert [s.split(" (")[0] for s in lines] == [
        "BEGIN IMMEDIATE",
        "INSERT INTO runs",
        "INSERT OR REPLACE INTO results",
        "COMMIT",
    ]
    assert h.tool_calls_dataframe().groupby("run_id").size().to_dict() == {"run_1": 1, "run_2": 2}
    assert len(h.turns_dataframe()) == 4 and len(h) == 4
    assert table(h, "SELECT COUNT(*) FROM tool_calls") == [(0,)]  # the tidy tables: runs of older versions
    assert table(h, "SELECT COUNT(*) FROM runs WHERE tools IS NOT NULL AND turns IS NOT NULL") == [(4,)]


def test_a_finished_run_is_serialised_by_the_writer_as_it_was_when_recorded(tmp_path) -> None:
    # The loop hands over a snapshot (Rows.later); JSON and rows are made on the writer thread.
    h = RunHistory(tmp_path / "h.sqlite")
    result = run("run_snap", calls=2, output="as recorded")
    result.metadata["tag"] = "before"
    later = Rows.later(result, (None, None, None), finished=True)
    assert not hasattr(later, "text")  # nothing serialised yet
    result.final_output = result.output_text = "changed after"
    result.metadata["tag"] = "after"
    result.tool_calls.append(ToolCall(call_id="late", name="t", started_at=datetime.now(UTC), turn=2))
    result.warnings.append("late warning")
    h._store.write(later)
    stored = h["run_snap"]
    assert stored.final_output == "as recorded" and stored.metadata == {"tag": "before"}
    assert [c.call_id for c in stored.tool_calls] == ["c0", "c1"] and stored.warnings == []
    assert table(h, "SELECT n_tool_calls, final_output FROM runs") == [(2, "as recorded")]
    assert h.tool_calls_dataframe()["call_id"].tolist() == ["c0", "c1"]


def test_runs_handed_to_the_writer_are_scrubbed_there(tmp_path) -> None:
    key = "sk-test-SECRET-0123456789abcdef"
    h = RunHistory(tmp_path / "h.sqlite")
    result = run("run_key", calls=1, output=f"the key is {key}")
    result.tool_calls[0].arguments = {"key": key}
    h.add(result, wait=False)
    assert h.flush()
    assert h["run_key"].final_output == "the key is [REDACTED]"
    assert h.path is not None and h.path.read_bytes().find(key.encode()) == -1
    assert key.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("h.sqlite*"))
