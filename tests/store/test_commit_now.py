"""A run alone in the process commits its own record (`_writer.StoreWriter.commit_now`), and only then.

What stays as before: a run that returned is in the file (a second connection reads it at once),
concurrent runs share group commits on the writer thread, writes already queued keep their order,
another process's lock never makes a run's thread wait, and the WAL is still checkpointed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.store import RunHistory, _writer, set_history
from openstackai_nb.store._rows import Rows
from tests._server import Reply, text_stream


class _CountingConnection:
    """Stands in for the store's sqlite3 connection and counts its COMMITs (by thread), its cursors' too."""

    def __init__(self, conn: sqlite3.Connection | sqlite3.Cursor, commits: list[str] | None = None) -> None:
        self.conn = conn
        self.commits: list[str] = [] if commits is None else commits

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            self.commits.append(threading.current_thread().name)
        return self.conn.execute(sql, *args)

    def cursor(self) -> Any:
        cursor = _CountingConnection(self.conn.cursor(), self.commits)
        cursor.parent = self
        return cursor

    @property
    def connection(self) -> Any:
        return getattr(self, "parent", self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def _status_seen_by_another_connection(path: Path, run_id: str) -> str | None:
    with sqlite3.connect(path) as other:
        row = other.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else row[0]


def test_a_run_alone_is_in_the_file_when_it_returns_committed_by_its_own_thread(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    previous = set_history(history)
    try:
        for text in ("one", "two", "three"):
            result = Runner.run_sync(Agent(name="A", model="scripted"), text)
            assert _status_seen_by_another_connection(history.path, result.run_id) == "COMPLETED"
        assert history._store._writer is None  # no writer thread was needed: no hand-over, no wake-up
        assert [r.input for r in history] == ["one", "two", "three"]
    finally:
        set_history(previous)


def test_concurrent_runs_still_share_group_commits(tmp_path: Path, openai_server) -> None:  # type: ignore[no-untyped-def]
    openai_server.handler = lambda request: Reply(**{**text_stream("fine").__dict__, "delay": 0.05})
    history = RunHistory(tmp_path / "h.sqlite")
    counting = _CountingConnection(history._store.conn)
    history._store.conn = counting  # type: ignore[assignment]
    previous = set_history(history)
    agent = Agent(name="A", model=OpenAIChatModel("m", base_url=openai_server.url, api_key="x"))

    async def together() -> list[Any]:
        return await asyncio.gather(*(Runner.run_async(agent, f"q{i}") for i in range(20)))

    try:
        results = asyncio.run(together())
        assert all(r.status is RunStatus.COMPLETED for r in results)
        assert len(history) == 20
        # Runs that end while others are in flight are handed to the writer, which commits whatever
        # is queued together (how many per commit depends on timing); at most the last run, alone
        # by then, commits itself.
        on_loop = [name for name in counting.commits if name != "openstackai-nb-history"]
        assert len(on_loop) <= 1, counting.commits
        assert len(counting.commits) > len(on_loop), counting.commits
    finally:
        set_history(previous)
        history._store.conn = counting.conn


def test_a_write_already_queued_keeps_its_order(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    store = history._store
    result = Runner.run_sync(Agent(name="A", model="scripted"), "hi")
    result.run_id = "run_queued_first"
    result.status = RunStatus.RUNNING
    held, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:  # another thread uses the store (a read, say): the writer waits for it
        with store.lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_store)
    holder.start()
    try:
        assert held.wait(30)
        queued = history.add(result, finished=False, wait=False)  # queued (or taken by the writer, waiting)
        result.status = RunStatus.COMPLETED
        # The finished version must not overtake the RUNNING one, which would then overwrite it.
        assert store.commit_now(Rows(result, (None, None, None), finished=True)) is False
    finally:
        release.set()
        holder.join()
    assert queued is not None
    queued.result(30)
    store.submit(Rows(result, (None, None, None), finished=True)).result(30)
    assert history["run_queued_first"].status is RunStatus.COMPLETED


def test_another_process_lock_never_holds_the_run_thread(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    previous = set_history(history)
    holder = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None, check_same_thread=False)
    try:
        result = Runner.run_sync(Agent(name="A", model="scripted"), "warm")
        holder.execute("BEGIN IMMEDIATE")  # another process's write lock
        rows = Rows(result, (None, None, None), finished=True)
        started = time.monotonic()
        assert history._store.commit_now(rows) is False  # SQLite's busy timeout is 0 there
        assert time.monotonic() - started < 0.2
        threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
        # As before: the run is handed to the writer, which waits for the lock, and returns once stored.
        late = Runner.run_sync(Agent(name="A", model="scripted"), "while locked")
        assert _status_seen_by_another_connection(history.path, late.run_id) == "COMPLETED"
    finally:
        set_history(previous)
        holder.close()


def test_the_wal_is_checkpointed_for_runs_that_commit_themselves(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_writer, "_INLINE_CHECKPOINT", 5)
    history = RunHistory(tmp_path / "h.sqlite")
    store = history._store
    previous = set_history(history)
    agent = Agent(name="A", model="scripted")
    try:
        for i in range(200):
            Runner.run_sync(agent, f"run {i}")
            if store._checkpoint_due:
                # A scripted run never lets go of the GIL: give the writer thread its turn, as a
                # run waiting for its model over HTTP does.
                deadline = time.monotonic() + 10
                while (store._checkpoint_due or store._busy) and time.monotonic() < deadline:
                    time.sleep(0.001)
        assert history.flush()
        # Their own commits leave SQLite's checkpoint out (it waits for the disk), and the writer
        # thread checkpoints for them: the WAL is reused from its start instead of growing by
        # ~8 pages per run (200 runs: about 6 MB).
        assert (tmp_path / "h.sqlite-wal").stat().st_size < 2_000_000
        assert len(history) == 200
    finally:
        set_history(previous)


@pytest.mark.parametrize("alone", [True, False])
def test_the_scrubber_sees_what_a_run_commits_either_way(tmp_path: Path, alone: bool) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    secret = "sk-proj-" + "A1b2C3d4" * 5
    result = Runner.run_sync(Agent(name="A", model="scripted"), f"my key is {secret}")
    rows = Rows(result, (None, None, None), finished=True)
    if alone:
        assert history._store.commit_now(rows)
    else:
        history._store.submit(rows).result(30)
    raw = (tmp_path / "h.sqlite").read_bytes() + (tmp_path / "h.sqlite-wal").read_bytes()
    assert secret.encode() not in raw
    assert "[REDACTED]" in history[result.run_id].input


def test_a_run_whose_record_cannot_be_made_goes_on_and_the_writer_reports_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from openstackai_nb import RunConfig

    history = RunHistory(tmp_path / "h.sqlite")
    previous = set_history(history)
    circular: dict[str, Any] = {}
    circular["self"] = circular
    try:
        bad = Runner.run_sync(Agent(name="A", model="scripted"), "hi", config=RunConfig(metadata={"c": circular}))
        assert bad.status is RunStatus.COMPLETED  # the history never breaks a run
        assert history.flush()  # the writer logs right after it answered the run
        assert any("could not record a run" in r.getMessage() for r in caplog.records)  # as before: the writer says so
        good = Runner.run_sync(Agent(name="A", model="scripted"), "again")
        assert _status_seen_by_another_connection(history.path, good.run_id) == "COMPLETED"
        assert history.run_ids == [good.run_id]
    finally:
        set_history(previous)


def test_a_run_handed_to_the_writer_is_recorded_as_it_ended_not_as_changed_after(tmp_path: Path) -> None:
    # A run alone is built on its own thread without a copy; when it cannot commit there (here:
    # a write is queued, held up by another thread using the store), the writer gets a snapshot,
    # so changes made to the result after the run returned are not what is recorded.
    from openstackai_nb.store.session import record

    history = RunHistory(tmp_path / "h.sqlite")
    store = history._store
    previous = set_history(history)
    result = Runner.run_sync(Agent(name="A", model="scripted"), "hi")
    result.run_id = "run_handed_over"
    earlier = Runner.run_sync(Agent(name="A", model="scripted"), "earlier")
    held, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:
        with store.lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_store)
    holder.start()

    async def end_the_run() -> Any:
        pending = record(result, finished=True, alone=True)
        result.final_output = "changed after the run returned"
        result.tool_calls.append(result.tool_calls[0] if result.tool_calls else None)  # type: ignore[arg-type]
        return pending

    try:
        assert held.wait(30)
        queued = store.submit(Rows(earlier, (None, None, None), finished=True))
        assert not queued.done()  # held up: commit_now must not overtake it
        pending = asyncio.run(end_the_run())
        assert pending is not None  # handed to the writer, not committed on the run's thread
    finally:
        release.set()
        holder.join()
        set_history(previous)
    assert history.flush()
    stored = history["run_handed_over"]
    assert stored.final_output != "changed after the run returned" and len(stored.tool_calls) == 0
