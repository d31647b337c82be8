"""`ToolExecutor` on its own: no model, no Runner; real tools, a real Clock and approver.

It reports through the run's real event sink (`RunEvents`) to an observer that keeps the spans
and events it is told.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from openstackai_nb import tool
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message, ToolCallRequest
from openstackai_nb.results import RunResult, Span, ToolCall
from openstackai_nb.runner import RunConfig
from openstackai_nb.runner._events import RunEvents
from openstackai_nb.runner.approval import Clock, DeferredApprover
from openstackai_nb.runner.observers import RunHooks, RunObserver
from openstackai_nb.runner.tool_calls import ToolExecutor, ToolLimits
from openstackai_nb.tools import Decision, RunContext, Tool
from tests._aio import arun

_ids = itertools.count(1)


class Spans(RunObserver):
    """Keeps the spans it is told of."""

    def __init__(self) -> None:
        self.closed: list[Span] = []

    def span_ended(self, run: RunResult, span: Span) -> None:
        self.closed.append(span)


class Sink(Spans):
    """Keeps the spans and the events (a view of the run)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[StreamEvent] = []

    def event(self, run: RunResult, event: StreamEvent) -> None:
        self.events.append(event)


def executor(
    *tools: Tool, limits: ToolLimits | None = None, watch: Spans | None = None
) -> tuple[ToolExecutor, Any, list[ToolCall], list[Message]]:
    watch = watch if watch is not None else Sink()
    result = RunResult(run_id="run_x", started_at=datetime.now(UTC))
    events = RunEvents(RunHooks((watch,), result), result, RunConfig())
    events.start()
    messages: list[Message] = []
    part = ToolExecutor(
        {t.name: t for t in tools},
        lambda t: t.requires_approval is True,
        limits or ToolLimits(run_id="run_x", agent="A"),
        RunContext(run_id="run_x"),
        Clock(run_deadline=float("inf")),
        events,
        result.tool_calls,
        messages,
    )
    return part, watch, result.tool_calls, messages


def req(name: str, arguments: str = "{}") -> ToolCallRequest:
    return ToolCallRequest(id=f"call_{next(_ids)}", name=name, arguments=arguments)


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_a_call_is_run_recorded_and_answered() -> None:
    part, sink, records, messages = executor(add)
    call = req("add", '{"a": 1, "b": 2}')
    assert arun(part.run(1, [call])) == []
    (record,) = records
    assert (record.call_id, record.name, record.arguments, record.result, record.error) == (
        call.id,
        "add",
        {"a": 1, "b": 2},
        3,
        None,
    )
    assert [s.outcome for s in sink.closed] == ["ok"] and sink.closed[0].kind == "tool"
    assert [e.type for e in sink.events] == ["tool_call", "tool_result"]
    assert messages == [Message(role="tool", content="3", tool_call_id=call.id, name="add")]
    assert part.pending == [] and part.waiting_for() is None


def test_errors_go_to_the_model_and_back_to_the_loop() -> None:
    part, sink, records, messages = executor(add)
    errors = arun(part.run(1, [req("nope"), req("add", '{"a": "x"}')]))
    assert len(errors) == 2 and "unknown tool 'nope': this agent offers add" in errors[0]
    assert [r.status for r in records] == ["error", "error"]
    assert all((m.content or "").startswith("Error: ") for m in messages)
    assert [s.outcome for s in sink.closed] == ["error", "error"]


def test_a_long_result_is_cut_to_the_limit() -> None:
    @tool
    def long() -> str:
        """A long text."""
        return "x" * 500

    part, _, records, messages = executor(long, limits=ToolLimits(max_result_chars=100))
    arun(part.run(1, [req("long")]))
    assert records[0].result_chars == 500 and len(messages[0].content or "") < 200


def test_the_calls_of_a_turn_run_in_parallel() -> None:
    async def main() -> list[ToolCall]:
        both = asyncio.Barrier(2)  # each call waits for the other: only parallel calls get past it

        @tool
        async def meet(who: str) -> str:
            """Wait for the other call."""
            await both.wait()
            return who

        part, _, records, _ = executor(meet)
        async with asyncio.timeout(30):
            await part.run(1, [req("meet", '{"who": "a"}'), req("meet", '{"who": "b"}')])
        return records

    assert sorted(r.result for r in arun(main())) == ["a", "b"]


def test_a_call_cut_off_is_recorded_with_what_stopped_it() -> None:
    async def main() -> tuple[str | None, list[ToolCall], list[Span], list[Message]]:
        started = asyncio.Event()

        @tool
        async def hang() -> str:
            """Never returns."""
            started.set()
            await asyncio.Event().wait()
            return "never"

        part, sink, records, messages = executor(hang)
        task = asyncio.ensure_future(part.run(1, [req("hang")]))
        await started.wait()
        waiting = part.waiting_for()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert len(part.pending) == 1 and records == []  # still in flight: the loop decides what stopped it
        part.record_cut_off("before the run was cancelled", "cancelled")
        return waiting, records, sink.closed, messages

    waiting, records, spans, messages = arun(main())
    assert waiting is not None and waiting.startswith("tool 'hang' (call_")
    assert records[0].error == "tool 'hang' did not return before the run was cancelled; it was cancelled"
    assert [s.outcome for s in spans] == ["cancelled"] and messages[0].content == f"Error: {records[0].error}"


@tool(requires_approval=True)
def wipe(path: str) -> str:
    """Delete a folder."""
    return f"wiped {path}"


def test_a_call_waits_for_its_approval_then_runs() -> None:
    async def main() -> tuple[ToolExecutor, Sink, list[ToolCall]]:
        approver = DeferredApprover("clicks")
        part, sink, records, _ = executor(wipe, limits=ToolLimits(approver=approver, run_id="run_x", agent="A"))
        call = req("wipe", '{"path": "/tmp/x"}')
        task = asyncio.ensure_future(part.run(1, [call]))
        while call.id not in approver.waiting:
            await asyncio.sleep(0)
        assert [e.type for e in sink.events] == ["approval"] and sink.events[0].content == "approver clicks"
        assert part.pending[0].waiting and part.clock.paused == 0.0
        approver.decide(call.id, Decision.approve())
        async with asyncio.timeout(30):
            await task
        return part, sink, records

    part, sink, records = arun(main())
    assert records[0].result == "wiped /tmp/x" and records[0].approval is not None and records[0].approval.approved
    assert [e.type for e in sink.events] == ["approval", "tool_call", "tool_result"]
    # The span is the tool's own work: it starts at the decision, after the wait.
    assert sink.events[1].approval is not None and sink.closed[0].start >= records[0].approval.waited
    assert part.clock.paused > 0.0  # the clock stood still while the call waited


def test_a_rejected_call_is_recorded_and_is_no_error() -> None:
    async def reject(request: Any) -> Decision:
        return Decision.reject("not today")

    part, sink, records, messages = executor(wipe, limits=ToolLimits(approver=reject))
    assert arun(part.run(1, [req("wipe", '{"path": "/"}')])) == []
    assert records[0].status == "rejected" and messages[0].content == "the user rejected this call: not today"
    assert [s.outcome for s in sink.closed] == ["rejected"]


def test_a_call_cut_off_while_waiting_for_approval_never_ran() -> None:
    async def main() -> list[ToolCall]:
        approver = DeferredApprover()
        part, _, records, _ = executor(wipe, limits=ToolLimits(approver=approver))
        call = req("wipe", '{"path": "/"}')
        task = asyncio.ensure_future(part.run(1, [call]))
        while call.id not in approver.waiting:
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        part.record_cut_off("within timeout_per_turn=1s", "timeout")
        return records

    (record,) = arun(main())
    assert record.error == "tool 'wipe' was waiting for approval within timeout_per_turn=1s; it never ran"


def test_a_run_nobody_views_still_records_its_calls() -> None:
    part, watch, records, _ = executor(add, watch=Spans())  # no observer reads events
    assert not part.sink.listening
    arun(part.run(1, [req("add", '{"a": 2, "b": 2}')]))
    assert records[0].result == 4 and [s.outcome for s in watch.closed] == ["ok"]


def test_the_old_mixin_name_warns_and_names_the_executor() -> None:
    from openstackai_nb.runner import tool_calls

    with pytest.warns(DeprecationWarning, match="ToolExecutor"):
        assert tool_calls.ToolCalls is ToolExecutor  # pyright: ignore[reportAttributeAccessIssue]
