"""Tools under misuse: hung sync tools, tools cut off by a limit, async tools that block the loop,
huge results and results with no text form. Each run goes through the real runner."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import date

import pytest
from pydantic import BaseModel

from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner, _tool_calls, store
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply, call
from openstackai_nb.runner import RunConfig
from openstackai_nb.store import RunHistory
from tests._aio import arun
from tests._server import OpenAIServer, text_stream, tool_stream


def calls_then_answer(*requests: object) -> FunctionModel:
    """A model that calls the given tools in its first turn, then answers with the last tool result."""

    def model(messages: list[Message], info: AgentInfo) -> Reply | str:
        if info.turn == 1:
            return Reply(tool_calls=list(requests))  # type: ignore[arg-type]
        return f"done: {str(messages[-1].content)[:40]}"

    return FunctionModel(model, name="caller")


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.fixture
def scratch_history(tmp_path) -> Iterator[RunHistory]:
    history = RunHistory(tmp_path / "history.sqlite")
    previous = store.set_history(history)
    yield history
    store.set_history(previous)


# -- hung sync tools ------------------------------------------------------------------------------


def test_hung_sync_tools_never_starve_later_tools() -> None:
    # More hung calls than the event loop's default executor has workers (min(32, cpus + 4)):
    # with asyncio.to_thread every later sync tool of the process queued behind them forever.
    release = threading.Event()

    def hang(i: int) -> str:
        """Wait for the test to end."""
        release.wait()
        return "released"

    baseline = _tool_calls.tool_threads.abandoned  # calls other tests may have left running
    hung = [call("hang", i=i) for i in range(40)]
    agent = Agent(name="Hung", tools=[hang], model=calls_then_answer(*hung))
    try:
        with pytest.raises(RunTimeoutError) as info:
            Runner.run_sync(agent, "go", config=RunConfig(timeout_per_turn=0.5))
        message = str(info.value)
        assert "timeout_per_turn=0.5s exceeded in turn 1 while waiting for tools 'hang' (call_" in message
        assert "or make the tool return sooner" in message
        res = info.value.result
        assert res is not None and res.status is RunStatus.FAILED
        assert sorted(c.call_id for c in res.tool_calls) == sorted(c.id for c in hung)  # every call recorded
        started = [c for c in res.tool_calls if "did not return" in (c.error or "")]
        queued = [c for c in res.tool_calls if "did not start" in (c.error or "")]
        assert started and len(started) + len(queued) == 40
        assert all("that thread may still be running" in (c.error or "") for c in started)
        assert all(c.result is None and c.elapsed_time > 0 for c in res.tool_calls)
        assert {s.outcome for s in res.trace if s.kind == "tool"} == {"timeout"}

        # A new run's sync tool still gets a thread, although every hung one is still blocked.
        again = Agent(name="After", tools=[add], model=calls_then_answer(call("add", a=2, b=3)))
        r = Runner.run_sync(again, "add", config=RunConfig(timeout_per_turn=30))
        assert r.status is RunStatus.COMPLETED and r.tool_calls[0].result == 5
        assert _tool_calls.tool_threads.abandoned - baseline == len(started)
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while _tool_calls.tool_threads.abandoned > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _tool_calls.tool_threads.abandoned <= baseline  # released threads return to the pool


def test_a_tool_running_at_the_timeout_is_recorded_and_named_in_the_stream() -> None:
    async def slow(x: int) -> str:
        """Take a long time."""
        await asyncio.sleep(30)
        return "late"

    request = call("slow", x=1)
    agent = Agent(name="Slow", tools=[slow, add], model=calls_then_answer(call("add", a=1, b=1), request))

    async def main() -> list[StreamEvent]:
        seen: list[StreamEvent] = []
        with pytest.raises(RunTimeoutError) as info:
            async for event in StreamingRunner(agent).run("go", config=RunConfig(timeout_per_turn=0.3)):
                seen.append(event)
        assert str(info.value).startswith(
            f"timeout_per_turn=0.3s exceeded in turn 1 while waiting for tool 'slow' ({request.id}): "
        )
        return seen

    events = arun(main())
    results = {e.tool_name: e for e in events if e.type == "tool_result"}
    assert results["add"].error is None and results["add"].result == 2
    assert results["slow"].error == "tool 'slow' did not return within timeout_per_turn=0.3s; it was cancelled"
    done = events[-1].run_result
    assert done is not None and [c.name for c in done.tool_calls] == ["add", "slow"]
    assert done.tool_calls[1].error == results["slow"].error and done.tool_calls[1].call_id == request.id
    # The model is told too, should the conversation be continued.
    assert done.messages[-1].role == "tool" and done.messages[-1].content == f"Error: {results['slow'].error}"


def test_a_model_timeout_names_the_model() -> None:
    async def slow_model(messages: list[Message], info: AgentInfo) -> str:
        await asyncio.sleep(30)
        return "late"

    agent = Agent(name="M", model=FunctionModel(slow_model, name="sleepy"))
    with pytest.raises(RunTimeoutError, match=r"while waiting for the model \(sleepy\): .* for slow models"):
        Runner.run_sync(agent, "hi", config=RunConfig(timeout_per_turn=0.2))


def test_a_timed_out_turn_is_logged_as_a_timeout_not_a_cancellation(caplog) -> None:
    async def slow_model(messages: list[Message], info: AgentInfo) -> str:
        await asyncio.sleep(30)
        return "late"

    agent = Agent(name="M", model=FunctionModel(slow_model, name="sleepy"))
    with caplog.at_level(logging.INFO, logger="openstackai_nb"), pytest.raises(RunTimeoutError):
        Runner.run_sync(agent, "hi", config=RunConfig(timeout_per_turn=0.2, verbose=True))
    turns = [r.getMessage() for r in caplog.records if " turn 'turn 1'" in r.getMessage()]
    assert turns and all(" timeout in " in m for m in turns), turns


def test_cancelling_a_run_records_the_tool_it_was_running(scratch_history) -> None:
    started = threading.Event()
    release = threading.Event()

    def wait_here() -> str:
        """Block until released."""
        started.set()
        release.wait()
        return "released"

    agent = Agent(name="C", tools=[wait_here], model=calls_then_answer(call("wait_here")))

    async def main() -> None:
        async def consume() -> None:
            async for _ in StreamingRunner(agent).run("go", config=RunConfig(run_id="run_cancelled_tool")):
                pass

        task = asyncio.ensure_future(consume())
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        arun(main())
    finally:
        release.set()
    r = scratch_history["run_cancelled_tool"]
    assert r.status is RunStatus.CANCELLED
    assert [(c.name, c.error) for c in r.tool_calls] == [
        (
            "wait_here",
            "tool 'wait_here' did not return before the run was cancelled; it runs in a thread, which Python "
            "cannot stop: that thread may still be running",
        )
    ]
    assert next(s for s in r.trace if s.kind == "tool").outcome == "cancelled"


# -- async tools that block the loop -------------------------------------------------------------


def test_an_async_tool_that_blocks_the_loop_is_reported_by_name(monkeypatch, caplog) -> None:
    monkeypatch.setattr(_tool_calls, "BLOCKED_LOOP_WARNING_S", 0.05)

    async def blocking() -> str:
        """Sleep the wrong way."""
        time.sleep(0.2)  # blocks the event loop
        return "woke"

    async def polite() -> str:
        """Sleep the right way."""
        await asyncio.sleep(0.2)
        return "woke"

    agent = Agent(name="B", tools=[blocking, polite], model=calls_then_answer(call("blocking"), call("polite")))
    with caplog.at_level(logging.WARNING, logger="openstackai_nb"):
        r = Runner.run_sync(agent, "go")
    assert r.status is RunStatus.COMPLETED and [c.result for c in r.tool_calls] == ["woke", "woke"]
    warned = [rec.getMessage() for rec in caplog.records if "blocked the event loop" in rec.getMessage()]
    assert len(warned) == 1 and "tool 'blocking' (an async def)" in warned[0]
    spans = {s.name: s for s in r.trace if s.kind == "tool"}
    assert spans["blocking"].attributes["blocked_loop_s"] >= 0.2  # at least the time.sleep
    assert "blocked_loop_s" not in spans["polite"].attributes


def test_a_blocking_async_tool_is_cut_off_once_it_awaits(monkeypatch) -> None:
    monkeypatch.setattr(_tool_calls, "BLOCKED_LOOP_WARNING_S", 0.05)

    async def stuck() -> str:
        """Block past the limit, then wait."""
        time.sleep(0.5)  # past timeout_per_turn: nothing can interrupt this
        await asyncio.sleep(30)  # the limit applies here
        return "late"

    agent = Agent(name="B", tools=[stuck], model=calls_then_answer(call("stuck")))
    with pytest.raises(RunTimeoutError, match="while waiting for tool 'stuck'") as info:
        Runner.run_sync(agent, "go", config=RunConfig(timeout_per_turn=0.2))
    res = info.value.result
    assert res is not None and res.tool_calls[0].error is not None and "did not return" in res.tool_calls[0].error
    assert next(s for s in res.trace if s.kind == "tool").attributes["blocked_loop_s"] >= 0.5


# -- big results and results with no text form ---------------------------------------------------


def test_a_huge_result_reaches_the_model_and_history_cut(openai_server: OpenAIServer, scratch_history) -> None:
    def dump() -> str:
        """Return far too much."""
        return "x" * 5_000_000

    openai_server.script(tool_stream([("c1", "dump", {})]), text_stream("Done."))
    r = Runner.run_sync(Agent(name="Big", tools=[dump], model="gpt-test"), "go")
    assert r.status is RunStatus.COMPLETED
    marker = "[... 4,900,000 more characters cut: the tool returned 5,000,000]"
    sent = openai_server.requests[1].messages[-1]["content"]
    assert sent == "x" * 100_000 + marker
    c = r.tool_calls[0]
    assert (c.result, c.result_chars) == (sent, 5_000_000)
    assert r.messages[-2].content == sent  # the conversation carries the cut text too
    # The store holds the cut text (three times: message, tool call, tool-calls table), not 5 MB.
    scratch_history.flush()
    stored = scratch_history[r.run_id]
    assert stored.tool_calls[0].result_chars == 5_000_000 and stored.tool_calls[0].result == sent
    size = sum(len(json.dumps(row)) for row in scratch_history._store.read("SELECT * FROM results"))
    size += sum(len(json.dumps(row)) for row in scratch_history._store.read("SELECT * FROM tool_calls"))
    assert size < 400_000


def test_max_tool_result_chars_cuts_json_results_and_errors() -> None:
    def rows() -> dict[str, list[int]]:
        """Many rows."""
        return {"rows": list(range(1000))}

    def loud() -> str:
        """Fail verbosely."""
        raise ValueError("e" * 500)

    agent = Agent(name="J", tools=[rows, loud], model=calls_then_answer(call("rows"), call("loud")))
    r = Runner.run_sync(agent, "go", config=RunConfig(max_tool_result_chars=50))
    by_name = {c.name: c for c in r.tool_calls}
    full = json.dumps({"rows": list(range(1000))})
    assert (
        by_name["rows"].result
        == full[:50] + f"[... {len(full) - 50:,} more characters cut: the tool returned {len(full):,}]"
    )
    assert by_name["rows"].result_chars == len(full)
    assert by_name["loud"].error is not None and by_name["loud"].error.startswith("tool 'loud' raised ValueError: eee")
    assert "more characters cut" in by_name["loud"].error and len(by_name["loud"].error) < 150
    small = Runner.run_sync(agent, "go")  # the default keeps them whole
    assert {c.name: c.result_chars for c in small.tool_calls} == {"rows": None, "loud": None}


def test_a_result_that_cannot_become_text_is_a_recorded_tool_error(scratch_history) -> None:
    class Opaque:
        def __str__(self) -> str:
            raise RuntimeError("no text for you")

    class Shy(Exception):
        def __str__(self) -> str:
            raise RuntimeError("nor for me")

    def opaque() -> Opaque:
        """Return something unprintable."""
        return Opaque()

    def shy() -> str:
        """Raise something unprintable."""
        raise Shy()

    agent = Agent(
        name="O", tools=[opaque, shy, add], model=calls_then_answer(call("opaque"), call("shy"), call("add", a=1, b=2))
    )
    r = Runner.run_sync(agent, "go")
    assert r.status is RunStatus.COMPLETED  # the model is told; the run goes on
    by_name = {c.name: c for c in r.tool_calls}
    assert by_name["opaque"].error == (
        "tool 'opaque' returned a Opaque that cannot be turned into text (RuntimeError: no text for you): "
        "return a str, or JSON-able data"
    )
    assert by_name["shy"].error == "tool 'shy' raised Shy: <Shy whose message cannot be shown>"
    assert by_name["add"].result == 3
    assert [c.name for c in scratch_history[r.run_id].tool_calls] == [c.name for c in r.tool_calls]


class Point(BaseModel):
    x: int
    y: int


def where(p: Point, day: date) -> str:
    """Place and day."""
    return f"{p.x},{p.y} on {day:%d %b}"


def test_arguments_of_any_validated_type_are_recorded_as_json() -> None:
    # A pydantic model or a date argument used to make the run FAILED (ToolCall.arguments got a str).
    agent = Agent(name="A", tools=[where], model=calls_then_answer(call("where", p={"x": 1, "y": 2}, day="2026-01-05")))
    r = Runner.run_sync(agent, "go")
    assert r.status is RunStatus.COMPLETED, r.error
    assert r.tool_calls[0].arguments == {"p": {"x": 1, "y": 2}, "day": "2026-01-05"}
    assert r.tool_calls[0].result == "1,2 on 05 Jan"


def test_hung_sync_model_functions_never_starve_later_runs() -> None:
    # A FunctionModel's sync function runs in the tool-thread pool too: 40 that hang past the
    # turn's limit (more than the loop's default executor has workers) leave later runs working.
    release = threading.Event()

    def hangs(messages, info):
        release.wait()
        return "late"

    baseline = _tool_calls.tool_threads.abandoned
    try:
        for _ in range(40):
            with pytest.raises(RunTimeoutError):
                Runner.run_sync(
                    Agent(name="H", model=FunctionModel(hangs)), "go", config=RunConfig(timeout_per_turn=0.05)
                )
        r = Runner.run_sync(Agent(name="Fine", model=FunctionModel(lambda m, i: "ok")), "go")
        assert r.status is RunStatus.COMPLETED and r.final_output == "ok"
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while _tool_calls.tool_threads.abandoned > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
