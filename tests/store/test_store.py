"""The durable run store: every run lands in it, with the right fields, dtypes and tables."""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from datetime import UTC, datetime, timedelta

import pytest

import openstackai_nb
from openstackai_nb import Agent, RunConfig, Runner, RunStatus
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.runner.recorder import RUNNING_RECORD_DELAY
from openstackai_nb.store import HistoryError, HistoryWarning, RunHistory
from tests._server import Reply as HTTPReply
from tests._server import text_stream, tool_stream

KEY = "sk-test-SECRET-0123456789abcdef"


def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


def weather_agent(name: str = "Weather") -> Agent:
    return Agent(name=name, instructions="Use the tool.", tools=[get_weather], model="scripted")


def test_api_runs_land_in_history_with_fields_and_dtypes(session_history: RunHistory) -> None:
    assert openstackai_nb.history is session_history
    r1 = Runner.run_sync(weather_agent(), "Weather in Paris?", config=RunConfig(metadata={"tag": "exp1", "k": 3}))
    r2 = Runner.run_sync(Agent(name="Writer", model="scripted"), "write 12 words")

    h = openstackai_nb.history
    assert len(h) == 2
    assert [r.run_id for r in h] == [r1.run_id, r2.run_id]  # newest last
    assert h[-1] == r2 and h[0] == r1 and h[r1.run_id] == r1
    assert h[-2:] == [r1, r2]

    df = h.to_dataframe()
    assert list(df.columns[:13]) == [
        "run_id", "agent", "model", "input", "final_output", "status", "turn_count", "elapsed_time",
        "prompt_tokens", "completion_tokens", "n_tool_calls", "error", "started_at",
    ]  # fmt: skip
    assert {"tag", "k"} <= set(df.columns)
    assert str(df["started_at"].dtype) == "datetime64[ns, UTC]"
    for col in ("turn_count", "prompt_tokens", "completion_tokens", "n_tool_calls"):
        assert str(df[col].dtype) == "int64", col
    assert str(df["elapsed_time"].dtype) == "float64"
    row = df.set_index("run_id").loc[r1.run_id]
    assert row["agent"] == "Weather" and row["model"] == "scripted" and row["input"] == "Weather in Paris?"
    assert row["status"] == "COMPLETED" and row["turn_count"] == 2 and row["n_tool_calls"] == 1
    assert row["prompt_tokens"] == r1.prompt_tokens and row["completion_tokens"] == r1.completion_tokens
    assert row["final_output"] == r1.final_output and row["tag"] == "exp1" and row["k"] == 3
    assert abs(row["elapsed_time"] - r1.elapsed_time) < 1e-9
    assert row["started_at"].to_pydatetime() == r1.started_at
    assert df.set_index("run_id").loc[r2.run_id, "completion_tokens"] == 12


def test_tool_calls_and_turns_tables_join_on_run_id(session_history: RunHistory) -> None:
    r = Runner.run_sync(weather_agent(), "Weather in Paris?")
    runs = session_history.to_dataframe()
    calls = session_history.tool_calls_dataframe()
    turns = session_history.turns_dataframe()
    assert list(calls.columns) == [
        "run_id", "index", "call_id", "name", "arguments", "result", "error", "ok", "started_at",
        "elapsed_time", "turn", "approval", "decided_by", "approval_reason", "approval_wait", "parsed_from_text",
    ]  # fmt: skip
    assert len(calls) == 1
    call_row = calls.iloc[0]
    assert call_row["name"] == "get_weather" and call_row["arguments"] == {"city": "Paris"}
    assert call_row["result"] == "sunny in Paris" and bool(call_row["ok"]) and call_row["turn"] == 1
    assert str(calls["started_at"].dtype) == "datetime64[ns, UTC]"
    assert list(turns["turn"]) == [1, 2]
    assert list(turns["n_tool_calls"]) == [1, 0]
    assert list(turns["outcome"]) == ["ok", "ok"]
    assert (turns["model_time"] >= 0).all() and (turns["duration"] >= turns["model_time"]).all()
    joined = calls.merge(runs, on="run_id", suffixes=("_call", ""))
    assert list(joined["agent"]) == ["Weather"] and list(joined["run_id"]) == [r.run_id]
    per_run = turns.groupby("run_id").size().rename("turns").reset_index().merge(runs, on="run_id")
    assert (per_run["turns"] == per_run["turn_count"]).all()


def test_failed_timeout_and_http_runs_are_recorded(session_history: RunHistory, openai_server) -> None:
    def broken(messages, info):
        raise RuntimeError("the model function broke")

    failed = Runner.run_sync(Agent(name="Broken", model=FunctionModel(broken)), "hi")
    assert failed.status is RunStatus.FAILED

    def handler(request):
        # Chosen by content, not by arrival order: a timed-out request may never be read.
        if request.messages[-1]["content"] == "slow":
            return HTTPReply(**{**text_stream("too late").__dict__, "delay": 5.0})
        if request.messages[-1]["role"] == "tool":
            return text_stream("Cold in Oslo.")
        return tool_stream([("call_1", "get_weather", {"city": "Oslo"})])

    openai_server.handler = handler
    with pytest.raises(RunTimeoutError):
        Runner.run_sync(Agent(name="Slow", model="gpt-4o-mini"), "slow", config=RunConfig(timeout_per_turn=0.3))

    http = Runner.run_sync(Agent(name="HTTP", tools=[get_weather], model="gpt-4o-mini"), "Oslo?")
    assert http.status is RunStatus.COMPLETED, http
    assert http.final_output == "Cold in Oslo."

    df = session_history.to_dataframe().set_index("agent")
    assert df.loc["Broken", "status"] == "FAILED" and "broke" in df.loc["Broken", "error"]
    assert df.loc["Slow", "status"] == "FAILED" and "timeout_per_turn" in df.loc["Slow", "error"]
    assert df.loc["HTTP", "status"] == "COMPLETED" and df.loc["HTTP", "prompt_tokens"] == 30
    assert df.loc["HTTP", "n_tool_calls"] == 1
    # The API key reaches neither the store file nor any DataFrame.
    session_history.flush()
    session_history.path.parent.joinpath("x").write_text("")
    raw = b"".join(p.read_bytes() for p in session_history.path.parent.iterdir() if p.is_file())
    assert KEY.encode() not in raw
    assert KEY not in df.to_csv()


def test_a_started_run_is_visible_as_running(session_history: RunHistory) -> None:
    seen: list[tuple[str, int]] = []

    def model(messages, info):
        time.sleep(RUNNING_RECORD_DELAY + 0.3)  # a run is recorded RUNNING once it has gone on a while
        # While the model "thinks", the run is already in the store as RUNNING: read through the
        # session's history (which waits for its pending writes), then through another connection.
        seen.append((session_history[-1].status.value, len(session_history.filter(status="RUNNING"))))
        h = RunHistory(session_history.path)
        seen.append((h[-1].status.value, len(h.filter(status="RUNNING"))))
        return "done"

    r = Runner.run_sync(Agent(name="Peek", model=FunctionModel(model)), "hi")
    assert seen == [("RUNNING", 1), ("RUNNING", 1)]
    assert session_history[r.run_id].status is RunStatus.COMPLETED


def test_filter_clear_and_views(session_history: RunHistory) -> None:
    a = Runner.run_sync(Agent(name="A", model="scripted"), "one", config=RunConfig(metadata={"exp": "x"}))
    b = Runner.run_sync(Agent(name="B", model=FunctionModel(lambda m, i: "b")), "two")
    Runner.run_sync(Agent(name="C", model=FunctionModel(lambda m, i: 1 / 0)), "three")
    h = session_history
    assert [r.run_id for r in h.filter(agent="A")] == [a.run_id]
    assert len(h.filter(agent=["A", "B"])) == 2
    assert len(h.filter(status="FAILED")) == 1 and len(h.filter(status=RunStatus.COMPLETED)) == 2
    assert [r.run_id for r in h.filter(model="function:<lambda>", status="COMPLETED")] == [b.run_id]
    assert [r.run_id for r in h.filter(metadata={"exp": "x"})] == [a.run_id]
    assert [r.run_id for r in h.filter(lambda r: r.input.startswith("t"), status="COMPLETED")] == [b.run_id]
    assert len(h.filter(since=a.started_at)) == 3
    assert len(h.filter(since=datetime.now(UTC) + timedelta(hours=1))) == 0
    assert len(h.filter(until=b.started_at)) == 1
    assert h.filter(run_ids=[b.run_id]).to_dataframe()["agent"].tolist() == ["B"]
    assert h.filter(agent="nobody").to_dataframe().empty
    # Views filter the tool-call and turn tables too (joined on run_id).
    w = Runner.run_sync(weather_agent(), "Weather in Rome?")
    view = h.filter(run_ids=[w.run_id], since=a.started_at, metadata=None)
    assert view.tool_calls_dataframe()["run_id"].tolist() == [w.run_id]
    assert view.turns_dataframe()["run_id"].tolist() == [w.run_id, w.run_id]
    assert h.filter(agent="A").tool_calls_dataframe().empty and len(h.filter(agent="A").turns_dataframe()) == 1
    assert h.filter(run_ids=[w.run_id]).clear() == 1
    assert h.filter(status="FAILED").clear() == 1
    assert len(h) == 2 and len(RunHistory(h.path)) == 2
    assert h.clear() == 2 and len(h) == 0
    assert h.tool_calls_dataframe().empty and h.turns_dataframe().empty
    assert list(h.to_dataframe().columns[:3]) == ["run_id", "agent", "model"]


def test_export_load_round_trip_is_equal_and_key_free(session_history: RunHistory, openai_server, tmp_path) -> None:
    openai_server.script(tool_stream([("call_1", "get_weather", {"city": "Rome"})]), text_stream("Warm."))
    Runner.run_sync(Agent(name="HTTP", tools=[get_weather], model="gpt-4o-mini"), "Rome?")
    Runner.run_sync(weather_agent(), "Weather in Paris?", config=RunConfig(metadata={"tag": "t"}))
    Runner.run_sync(Agent(name="Broken", model=FunctionModel(lambda m, i: 1 / 0)), "hi")
    # A key the user pasted into a prompt is scrubbed on the way out.
    Runner.run_sync(Agent(name="Leaky", model="scripted"), f"my key is {KEY}")

    path = session_history.export(tmp_path / "runs.jsonl")
    data = path.read_bytes()
    assert KEY.encode() not in data and b"SECRET-0123" not in data
    assert len(data.splitlines()) == 4
    loaded = RunHistory.load(path)
    assert loaded.path is None  # in memory
    runs = list(session_history)
    assert list(loaded)[:3] == runs[:3]
    assert "[REDACTED]" in loaded[-1].input
    assert (
        loaded.to_dataframe()
        .drop(columns=["input", "final_output"])
        .equals(session_history.to_dataframe().drop(columns=["input", "final_output"]))
    )
    assert loaded.tool_calls_dataframe().equals(session_history.tool_calls_dataframe())
    # The store file itself holds no key either.
    assert KEY.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    # Loading a store file copies it.
    assert list(RunHistory.load(session_history.path)) == list(session_history)


def test_load_rejects_a_bad_export_naming_the_line(tmp_path) -> None:
    bad = tmp_path / "runs.jsonl"
    bad.write_text('{"run_id": "x"}\n')
    with pytest.raises(HistoryError, match=r"runs\.jsonl, line 1"):
        RunHistory.load(bad)
    with pytest.raises(HistoryError, match="cannot read"):
        RunHistory.load(tmp_path / "missing.jsonl")


def test_persists_across_instances_and_memory_mode(tmp_path, monkeypatch) -> None:
    path = tmp_path / "h.sqlite"
    h = RunHistory(path)
    from openstackai_nb import store

    previous = store.set_history(h)
    try:
        r = Runner.run_sync(Agent(name="A", model="scripted"), "hi")
    finally:
        store.set_history(previous)
    h.flush()  # the run loop's writes are committed by a writer thread, moments later
    assert RunHistory(path)[r.run_id] == r
    monkeypatch.setenv("OPENSTACKAI_NB_HISTORY", "off")
    mem = RunHistory()
    assert mem.path is None and len(mem) == 0


def test_default_path_and_unwritable_fallback(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPENSTACKAI_NB_HISTORY")
    monkeypatch.chdir(tmp_path)
    h = RunHistory()
    assert h.path == tmp_path / ".openstackai_nb" / "history.sqlite"
    # A folder where the store cannot be created (here: its folder name is taken by a file).
    work = tmp_path / "readonly"
    work.mkdir()
    (work / ".openstackai_nb").write_text("not a folder")
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with pytest.warns(HistoryWarning, match="cannot write run history in") as caught:
        fallback = RunHistory()
    assert len(caught) == 1 and len(str(caught[0].message).splitlines()) == 1
    assert caught[0].category.__module__ == "openstackai_nb.errors"  # with the other errors (also in .store)
    assert fallback.path == tmp_path / "data" / "openstackai-nb" / "history.sqlite"
    # An explicit path that cannot be written is an error, not a silent fallback.
    monkeypatch.setenv("OPENSTACKAI_NB_HISTORY", str(work / ".openstackai_nb" / "h.sqlite"))
    with pytest.raises(HistoryError, match="OPENSTACKAI_NB_HISTORY"):
        RunHistory()


def test_corrupted_store_is_a_clear_error_and_is_left_untouched(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    garbage = b"this is not sqlite at all " * 200
    path.write_bytes(garbage)
    with pytest.raises(HistoryError) as info:
        RunHistory(path)
    message = str(info.value)
    assert str(path) in message and "Move it aside" in message
    assert path.read_bytes() == garbage  # never modified or replaced


def test_corrupted_store_does_not_break_runs(tmp_path, monkeypatch) -> None:
    from openstackai_nb import store

    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"garbage" * 1000)
    previous = store.set_history(None)
    monkeypatch.setenv("OPENSTACKAI_NB_HISTORY", str(path))
    try:
        with pytest.warns(HistoryWarning, match="broken.sqlite") as caught:
            r = Runner.run_sync(Agent(name="A", model="scripted"), "hi")
            Runner.run_sync(Agent(name="A", model="scripted"), "again")
        assert r.status is RunStatus.COMPLETED and len(caught) == 1
        with pytest.raises(HistoryError, match="broken.sqlite"):
            len(store.get_history())  # the history says why when it is used
    finally:
        store.set_history(previous)
    assert path.read_bytes() == b"garbage" * 1000


def test_one_unreadable_row_never_hides_the_others(session_history: RunHistory) -> None:
    runs = [Runner.run_sync(Agent(name=f"A{i}", model="scripted"), f"run {i}") for i in range(3)]
    session_history.flush()
    with sqlite3.connect(session_history.path) as conn:
        conn.execute("UPDATE results SET result='{broken' WHERE run_id=?", (runs[1].run_id,))
    with pytest.warns(HistoryWarning, match=runs[1].run_id):
        got = list(session_history)
    assert [r.run_id for r in got] == [runs[0].run_id, runs[2].run_id]
    assert len(session_history.to_dataframe()) == 3  # the scalar row is still there


def test_reaps_runs_of_a_dead_process(session_history: RunHistory) -> None:
    r = Runner.run_sync(Agent(name="A", model="scripted"), "hi")
    session_history.flush()
    # Make the row look like a run still in flight in a process that no longer exists.
    with sqlite3.connect(session_history.path) as conn:
        conn.execute(
            "UPDATE runs SET status='RUNNING', owner_host=?, owner_pid=?, owner_start='1' WHERE run_id=?",
            (__import__("socket").gethostname(), 2**22 + 12345, r.run_id),
        )
    reopened = RunHistory(session_history.path)
    got = reopened[r.run_id]
    assert got.status is RunStatus.FAILED and got.error.startswith("interrupted:")
    assert reopened.to_dataframe()["status"].tolist() == ["FAILED"]


def test_record_never_raises_into_a_run(session_history: RunHistory) -> None:
    # metadata that JSON cannot hold is kept as text, not an exception.
    r = Runner.run_sync(
        Agent(name="A", model="scripted"), "hi", config=RunConfig(metadata={"when": datetime(2026, 1, 1)})
    )
    assert r.status is RunStatus.COMPLETED
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert session_history.to_dataframe()["when"].tolist() == ["2026-01-01T00:00:00"]
    assert json.loads(json.dumps(session_history[-1].to_dict()))["metadata"]


def test_history_is_lazy_and_the_same_object() -> None:
    import subprocess
    import sys

    code = (
        "import sys, openstackai_nb as o\n"
        "assert 'pandas' not in sys.modules and 'sqlite3' not in sys.modules\n"
        "assert 'openstackai_nb.store.run_history' not in sys.modules\n"
        "h = o.history\n"
        "assert h is o.history and o.RunHistory is type(h)\n"
        "assert 'pandas' not in sys.modules and 'sqlite3' in sys.modules\n"
        "assert callable(o.compare) and callable(o.set_prices) and 'pandas' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_to_html_report_is_escaped_and_key_free(session_history: RunHistory, tmp_path) -> None:
    Runner.run_sync(Agent(name="<b>Bold</b>", model=FunctionModel(lambda m, i: "<script>alert(1)</script>")), "hi")
    Runner.run_sync(Agent(name="Leaky", model="scripted"), f"my key is {KEY}")
    out = session_history.to_html(tmp_path / "report.html", title="Runs")
    page = out.read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert KEY not in page
    only = session_history.filter(agent="Leaky").to_html(tmp_path / "one.html")
    assert "Leaky" in only.read_text() and "Bold" not in only.read_text()


def test_writer_thread_ends_when_idle_and_comes_back(session_history: RunHistory, monkeypatch) -> None:
    import time

    from openstackai_nb.store import _writer

    monkeypatch.setattr(_writer, "_WRITER_IDLE", 0.05)
    Runner.run_sync(Agent(name="A", model="scripted"), "one")
    assert session_history.flush()
    deadline = time.monotonic() + 30
    while session_history._store._writer is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert session_history._store._writer is None
    Runner.run_sync(Agent(name="A", model="scripted"), "two")
    assert [r.input for r in session_history] == ["one", "two"]


def test_json_cells_parse_in_bulk_and_fall_back_cell_by_cell() -> None:
    from openstackai_nb.store import frames

    assert frames._loads_all(['{"a": 1}', None, "[1, 2]", '"x"']) == [{"a": 1}, None, [1, 2], "x"]
    # A cell that is not one JSON value never shifts the others.
    assert frames._loads_all(['{"a": 1}', "1,2", "", "oops"]) == [{"a": 1}, "1,2", "", "oops"]


def test_a_folder_or_a_newer_schema_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(HistoryError, match="is a folder"):
        RunHistory(tmp_path)
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(HistoryError, match="newer openstackai-nb"):
        RunHistory(newer)


def test_the_wal_file_stays_bounded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A store written to without pause keeps its write-ahead log small (it once grew unbounded)."""
    h = RunHistory(tmp_path / "busy.sqlite")
    r = Runner.run_sync(Agent(name="W", model="scripted"), "say 200 words")
    for i in range(1500):
        r.run_id = f"run_{i:016x}"
        h.add(r, finished=False)
        h.add(r, finished=True)
    h.flush()
    wal = tmp_path / "busy.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size < 32 * 2**20
    assert len(h) == 1500
