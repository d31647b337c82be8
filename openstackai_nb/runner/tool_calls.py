# pyright: strict
"""The tool half of a turn: `ToolExecutor` runs the model's tool calls, records each, and what was cut off.

A part of the run loop (`executor._Run`), not a mixin of it: it is given what it needs, and
nothing else: the tools, the limits (`ToolLimits`), the tools' `RunContext`, the run's
`approval.Clock`, where records go (`result.tool_calls`, the conversation) and a `SpanSink` for
its spans and events. So it runs on its own (tests/runner/test_tool_executor.py), no model and no
Runner. A call is recorded once, whether it returned, failed, or was still running when a limit
or a cancellation stopped the run (`record_cut_off`), so `result.tool_calls` always says what the
run was doing.

A call that needs approval (`runner/approval.py`) is validated, then announced with an "approval"
event and held until its approver decides (the run's clock stopped meanwhile): approved, it
runs ("tool_call" event, its time counted from then on); rejected, it is recorded with its
`Approval`, the model reads "the user rejected this call: <reason>", and the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from openstackai_nb._tool_calls import CallProgress
from openstackai_nb.errors import ToolArgumentsError
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message, ToolCallRequest
from openstackai_nb.results import Span, ToolCall, cut_text, jsonable, tool_text
from openstackai_nb.runner import approval
from openstackai_nb.tools import ApprovalRequest

if TYPE_CHECKING:
    from openstackai_nb.results import Approval, SpanKind
    from openstackai_nb.results import Outcome as SpanOutcome
    from openstackai_nb.tools import Approver, RunContext, Tool

__all__ = ["SpanSink", "ToolExecutor", "ToolLimits"]


class SpanSink(Protocol):
    """Where a part of the run loop reports: spans opened and closed, events for the views."""

    @property
    def listening(self) -> bool:
        """Whether anyone reads events (build a `StreamEvent` only then)."""
        ...

    def open(self, kind: SpanKind, name: str, turn: int, **attributes: Any) -> Span:
        """A span that starts now."""
        ...

    def close(self, span: Span, outcome: SpanOutcome, **attributes: Any) -> None:
        """End `span` now with `outcome` (its attributes scrubbed), and record it."""
        ...

    def restart(self, span: Span) -> None:
        """`span` starts now (a tool call's own work starts once its approval wait is over)."""
        ...

    def send(self, event: StreamEvent) -> None:
        """Hand an event to the views (only called when `listening`)."""
        ...


@dataclass(frozen=True, slots=True)
class ToolLimits:
    """What a run's tool calls are held to (from `RunConfig`), and who approves them."""

    max_result_chars: int = 100_000
    """Longest result (and error) text kept and sent to the model."""
    approver: Approver | None = None
    """Decides about calls that need approval (None: they are rejected, `approval.NO_APPROVER`)."""
    approval_timeout: float | None = None
    """Seconds a call may wait for its decision (None: as long as it takes)."""
    run_id: str = ""
    """The run's id, as approval requests tell it."""
    agent: str = ""
    """The agent's name, as approval requests tell it."""


class ToolExecutor:
    """Runs one run's tool calls and records them (see the module's docstring).

    Args:
        tools: the tools the model may call, by name (`tools` may be replaced later: an MCP
            server's tools are listed when the run starts).
        needs_approval: whether a call of this tool waits for a decision.
        limits: result size, approver and its timeout.
        context: the `RunContext` tools receive.
        clock: the run's clock (stopped while a call waits for approval).
        sink: where spans and events go.
        records: where each finished call's `ToolCall` is appended (`result.tool_calls`).
        messages: the conversation, where each call's tool message is appended.
    """

    def __init__(
        self,
        tools: dict[str, Tool],
        needs_approval: Callable[[Tool], bool],
        limits: ToolLimits,
        context: RunContext,
        clock: approval.Clock,
        sink: SpanSink,
        records: list[ToolCall],
        messages: list[Message],
    ) -> None:
        self.tools = tools
        self.needs_approval = needs_approval
        self.limits = limits
        self.context = context
        self.clock = clock
        self.sink = sink
        self.records = records
        self.messages = messages
        self.pending: list[_PendingCall] = []
        """The calls in flight (a limit or a cancellation leaves them here: `record_cut_off`)."""

    async def run(self, turn: int, calls: Sequence[ToolCallRequest]) -> list[str]:
        """Run the calls of one turn (in parallel when there are several); return their errors."""
        if len(calls) == 1:
            error = await self.call(turn, calls[0])
            return [error] if error else []
        errors = await asyncio.gather(*(self.call(turn, c) for c in calls))
        return [e for e in errors if e]

    async def call(self, turn: int, req: ToolCallRequest) -> str | None:
        """Run one tool call; record it; append the tool message. Returns the error, if any.

        A call cut off by a time limit or a cancellation stays in `pending`; the loop records it
        (`record_cut_off`) with what the run was waiting for.
        """
        tool = self.tools.get(req.name)
        sink = self.sink
        call = _PendingCall(req, turn, sink.open("tool", req.name, turn, call_id=req.id))
        self.pending.append(call)
        gated = tool is not None and self.needs_approval(tool)
        if not gated and sink.listening:
            sink.send(
                StreamEvent(
                    "tool_call",
                    tool_name=req.name,
                    arguments=call.arguments,
                    call_id=req.id,
                    turn=turn,
                    parsed_from_text=req.parsed_from_text,
                )
            )
        value: Any = None
        error: str | None = None
        try:
            if tool is None:
                known = ", ".join(sorted(self.tools)) or "none"
                raise ToolArgumentsError(f"unknown tool {req.name!r}: this agent offers {known}")
            call.arguments = tool.validate(req.arguments)
            if gated and not await self._approved(call):
                self.pending.remove(call)
                self._record(call, None, None, "rejected")
                return None  # a rejection is not a tool error: the run goes on, whatever stop_on_tool_error says
            value = await tool.invoke(call.arguments, self.context, call.progress)
        except ToolArgumentsError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a tool's failure is reported to the model
            error = f"tool {req.name!r} raised {type(exc).__name__}: {_text_of(exc)}"
        # CancelledError (a limit or an interrupt) passes through: the call stays pending.
        self.pending.remove(call)
        self._record(call, value, error)
        return error

    async def _approved(self, call: _PendingCall) -> bool:
        """Ask the run's approver about `call` (an "approval" event first); True when it may run."""
        req, limits, sink = call.req, self.limits, self.sink
        approver = limits.approver
        if sink.listening:
            asked = "approver " + approval.name_of(approver) if approver is not None else "nobody (no approver)"
            sink.send(
                StreamEvent(
                    "approval",
                    content=asked,
                    tool_name=req.name,
                    arguments=call.arguments,
                    call_id=req.id,
                    turn=call.turn,
                )
            )
        call.waiting = True
        request = ApprovalRequest(
            call_id=req.id,
            name=req.name,
            arguments=dict(call.arguments),
            turn=call.turn,
            run_id=limits.run_id,
            agent=limits.agent,
        )
        decision = await approval.ask_approver(approver, request, timeout=limits.approval_timeout, clock=self.clock)
        call.waiting, call.approval = False, decision
        call.span.attributes["approval"] = decision.describe()
        call.span.attributes["approval_wait"] = round(decision.waited, 3)
        # The span is the tool's own work, from the decision on (the wait is its `approval_wait`).
        sink.restart(call.span)
        if not decision.approved:
            return False
        # Its time (elapsed_time, started_at) counts from now: the wait is in `approval.waited`.
        call.t0 = time.monotonic()
        call.started_at = datetime.now(UTC)
        if sink.listening:
            sink.send(
                StreamEvent(
                    "tool_call",
                    tool_name=req.name,
                    arguments=call.arguments,
                    call_id=req.id,
                    turn=call.turn,
                    approval=decision,
                    parsed_from_text=req.parsed_from_text,
                )
            )
        return True

    def _record(self, call: _PendingCall, value: Any, error: str | None, outcome: SpanOutcome | None = None) -> None:
        """Record a finished (or cut-off, or rejected) call: ToolCall, span, "tool_result" event, tool message."""
        req, limit = call.req, self.limits.max_result_chars
        rejected = outcome == "rejected"
        elapsed = 0.0 if rejected else time.monotonic() - call.t0
        text, result_chars = "", None
        if rejected and call.approval is not None:
            error = approval.rejection_text(call.approval)
        if error is None:
            try:
                value, text = tool_text(value)
            except Exception as exc:  # noqa: BLE001 - a result with no text form is the tool's error
                error = (
                    f"tool {req.name!r} returned a {type(value).__name__} that cannot be turned into text "
                    f"({type(exc).__name__}: {_text_of(exc)}): return a str, or JSON-able data"
                )
        if error is None:
            text, result_chars = cut_text(text, limit)
            if result_chars is not None:
                value = text
        else:
            value, error = None, cut_text(error, limit)[0]
        attributes: dict[str, Any] = {"error": error} if error else {}
        if result_chars is not None:
            attributes["result_chars"] = result_chars
        blocked = round(call.progress.blocked_loop_s, 3) if call.progress.blocked_loop_s else None
        if blocked is not None:
            attributes["blocked_loop_s"] = blocked
        self.sink.close(call.span, outcome or ("error" if error else "ok"), **attributes)
        self.records.append(
            ToolCall(
                call_id=req.id,
                name=req.name,
                arguments=_recorded_arguments(call),
                result=value,
                result_chars=result_chars,
                error=error,
                started_at=call.started_at,
                elapsed_time=elapsed,
                turn=call.turn,
                approval=call.approval,
                parsed_from_text=req.parsed_from_text,
            )
        )
        if self.sink.listening:
            self.sink.send(
                StreamEvent(
                    "tool_result",
                    tool_name=req.name,
                    arguments=call.arguments,
                    result=value,
                    call_id=req.id,
                    turn=call.turn,
                    error=error,
                    duration=elapsed,
                    blocked_loop_s=blocked,
                    approval=call.approval,
                    parsed_from_text=req.parsed_from_text,
                )
            )
        content = error if rejected else f"Error: {error}" if error else text
        self.messages.append(Message(role="tool", content=content, tool_call_id=req.id, name=req.name))

    def record_cut_off(self, why: str, outcome: SpanOutcome) -> None:
        """Record the tool calls still running when the run stopped waiting (limit or cancel)."""
        for call in self.pending:
            name = call.req.name
            if call.waiting:
                error = f"tool {name!r} was waiting for approval {why}; it never ran"
            elif call.progress.in_thread and not call.progress.started:
                error = f"tool {name!r} did not start {why}: every tool thread was busy with other calls"
            elif call.progress.in_thread:
                error = (
                    f"tool {name!r} did not return {why}; it runs in a thread, which Python cannot stop: "
                    "that thread may still be running"
                )
            else:
                error = f"tool {name!r} did not return {why}; it was cancelled"
            self._record(call, None, error, outcome)
        self.pending.clear()

    def waiting_for(self) -> str | None:
        """The calls the run is waiting for ("tool 'x' (call_1)"), None when none is in flight."""
        pending = self.pending
        if not pending:
            return None
        names = ", ".join(f"{c.req.name!r} ({c.req.id})" for c in pending[:3])
        more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
        return f"tool{'s' if len(pending) > 1 else ''} {names}{more}"


def __getattr__(name: str) -> Any:
    if name == "ToolCalls":  # the run loop's mixin before the loop was made of parts
        from openstackai_nb._warnings import warn

        warn(
            "runner.tool_calls.ToolCalls (the run loop's mixin) is gone: the tool half of a turn is "
            "runner.tool_calls.ToolExecutor, a part given what it needs",
            DeprecationWarning,
        )
        return ToolExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _PendingCall:
    """A tool call in flight: what it needs to be recorded, finished or cut off."""

    __slots__ = ("approval", "arguments", "progress", "req", "span", "started_at", "t0", "turn", "waiting")

    def __init__(self, req: ToolCallRequest, turn: int, span: Span) -> None:
        self.req = req
        self.turn = turn
        self.span = span
        self.arguments: dict[str, Any] = _loose_arguments(req.arguments)
        self.progress = CallProgress()
        self.started_at = datetime.now(UTC)
        self.t0 = time.monotonic()
        self.waiting = False
        """Waiting for an approver's decision."""
        self.approval: Approval | None = None
        """The decision, once taken (calls that need approval)."""


def _recorded_arguments(call: _PendingCall) -> dict[str, Any]:
    try:
        data = jsonable(call.arguments)
    except Exception:  # noqa: BLE001 - an argument with no text form: keep what the model sent
        data = None
    return cast("dict[str, Any]", data) if isinstance(data, dict) else _loose_arguments(call.req.arguments)


def _text_of(exc: BaseException) -> str:
    """str(exc), even when the exception's own __str__ raises."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ of any kind must not hide the error itself
        return f"<{type(exc).__name__} whose message cannot be shown>"


def _loose_arguments(raw: str) -> dict[str, Any]:
    try:
        data: Any = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"_raw": raw[:500]}
    return cast("dict[str, Any]", data) if isinstance(data, dict) else {"_raw": data}
