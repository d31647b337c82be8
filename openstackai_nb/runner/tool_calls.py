"""The tool half of a turn: run the model's tool calls, record each, and what was cut off.

`ToolCalls` is a mixin of the run loop (`executor._Run`): it reads the run's state (its tools,
config, result, messages) and uses its span and event helpers. A call is recorded once, whether
it returned, failed, or was still running when a limit or a cancellation stopped the run
(`record_cut_off`), so `result.tool_calls` always says what the run was doing.

A call that needs approval (`runner/approval.py`) is validated, then announced with an "approval"
event and held until its approver decides (the run's clock stopped meanwhile): approved, it
runs ("tool_call" event, its time counted from then on); rejected, it is recorded with its
`Approval`, the model reads "the user rejected this call: <reason>", and the run goes on.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from openstackai_nb._tool_calls import CallProgress
from openstackai_nb.errors import ToolArgumentsError
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message, ToolCallRequest
from openstackai_nb.results import Span, ToolCall, cut_text, jsonable, tool_text
from openstackai_nb.runner import approval
from openstackai_nb.tools import ApprovalRequest

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.models.base import Model
    from openstackai_nb.results import Approval, RunResult
    from openstackai_nb.runner.config import RunConfig
    from openstackai_nb.runner.observers import RunHooks
    from openstackai_nb.tools import RunContext, Tool

__all__ = ["ToolCalls"]


class ToolCalls:
    """Running and recording a run's tool calls (mixed into the run loop)."""

    # The run's state, set by the run loop.
    tools: dict[str, Tool]
    config: RunConfig
    result: RunResult
    messages: list[Message]
    context: RunContext
    model: Model
    agent: Agent
    clock: approval.Clock
    hooks: RunHooks
    _pending: list[_PendingCall]
    _t0: float

    def _open(self, kind: Any, name: str, turn: int, **attributes: Any) -> Span:
        raise NotImplementedError

    def _close(self, span: Span, outcome: Any, **attributes: Any) -> None:
        raise NotImplementedError

    def _send(self, event: StreamEvent) -> None:
        raise NotImplementedError

    async def _call_tool(self, turn: int, req: ToolCallRequest) -> str | None:
        """Run one tool call; record it; append the tool message. Returns the error, if any.

        A call cut off by a time limit or a cancellation stays in `self._pending`; `execute`
        records it (`_record_cut_off`) with what the run was waiting for.
        """
        tool = self.tools.get(req.name)
        call = _PendingCall(req, turn, self._open("tool", req.name, turn, call_id=req.id))
        self._pending.append(call)
        gated = tool is not None and self.agent.requires_approval(tool)
        if not gated and self.hooks.on_event:
            self._send(
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
                self._pending.remove(call)
                self._record_call(call, None, None, "rejected")
                return None  # a rejection is not a tool error: the run goes on, whatever stop_on_tool_error says
            value = await tool.invoke(call.arguments, self.context, call.progress)
        except ToolArgumentsError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a tool's failure is reported to the model
            error = f"tool {req.name!r} raised {type(exc).__name__}: {_text_of(exc)}"
        # CancelledError (a limit or an interrupt) passes through: the call stays pending.
        self._pending.remove(call)
        self._record_call(call, value, error)
        return error

    async def _approved(self, call: _PendingCall) -> bool:
        """Ask the run's approver about `call` (an "approval" event first); True when it may run."""
        req, config = call.req, self.config
        approver = config.approve if config.approve is not None else self.agent.approver
        asked = "approver " + approval.name_of(approver) if approver is not None else "nobody (no approver)"
        if self.hooks.on_event:
            self._send(
                StreamEvent("approval", content=asked, tool_name=req.name, arguments=call.arguments, call_id=req.id,
                            turn=call.turn)
            )  # fmt: skip
        call.waiting = True
        request = ApprovalRequest(
            call_id=req.id, name=req.name, arguments=dict(call.arguments), turn=call.turn,
            run_id=self.result.run_id, agent=self.agent.name,
        )  # fmt: skip
        decision = await approval.decide(approver, request, timeout=config.approval_timeout, clock=self.clock)
        call.waiting, call.approval = False, decision
        call.span.attributes["approval"] = decision.describe()
        call.span.attributes["approval_wait"] = round(decision.waited, 3)
        # The span is the tool's own work, from the decision on (the wait is its `approval_wait`).
        call.span.start = time.monotonic() - self._t0
        if not decision.approved:
            return False
        # Its time (elapsed_time, started_at) counts from now: the wait is in `approval.waited`.
        call.t0 = time.monotonic()
        call.started_at = datetime.now(UTC)
        if self.hooks.on_event:
            self._send(
                StreamEvent("tool_call", tool_name=req.name, arguments=call.arguments, call_id=req.id, turn=call.turn,
                            approval=decision, parsed_from_text=req.parsed_from_text)
            )  # fmt: skip
        return True

    def _record_call(self, call: _PendingCall, value: Any, error: str | None, outcome: Any = None) -> None:
        """Record a finished (or cut-off, or rejected) call: ToolCall, span, "tool_result" event, tool message."""
        req, limit = call.req, self.config.max_tool_result_chars
        elapsed = time.monotonic() - call.t0 if outcome != "rejected" else 0.0
        text, result_chars = "", None
        if outcome == "rejected" and call.approval is not None:
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
        if call.progress.blocked_loop_s:
            attributes["blocked_loop_s"] = round(call.progress.blocked_loop_s, 3)
        self._close(call.span, outcome or ("error" if error else "ok"), **attributes)
        self.result.tool_calls.append(
            ToolCall(
                call_id=req.id, name=req.name, arguments=_recorded_arguments(call), result=value,
                result_chars=result_chars, error=error, started_at=call.started_at, elapsed_time=elapsed,
                turn=call.turn, approval=call.approval, parsed_from_text=req.parsed_from_text,
            )
        )  # fmt: skip
        if self.hooks.on_event:
            self._send(
                StreamEvent(
                    "tool_result", tool_name=req.name, arguments=call.arguments, result=value, call_id=req.id,
                    turn=call.turn, error=error, duration=elapsed, blocked_loop_s=attributes.get("blocked_loop_s"),
                    approval=call.approval, parsed_from_text=req.parsed_from_text,
                )
            )  # fmt: skip
        rejected = outcome == "rejected"
        content = error if rejected else f"Error: {error}" if error else text
        self.messages.append(Message(role="tool", content=content, tool_call_id=req.id, name=req.name))

    def _record_cut_off(self, why: str, outcome: Any) -> None:
        """Record the tool calls still running when the run stopped waiting (limit or cancel)."""
        for call in self._pending:
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
            self._record_call(call, None, error, outcome)
        self._pending.clear()

    def _waiting_for(self) -> str:
        """What the run was waiting for: "tool 'x' (call_1)" or "the model (name)"."""
        if not self._pending:
            return f"the model ({self.model.name})"
        names = ", ".join(f"{c.req.name!r} ({c.req.id})" for c in self._pending[:3])
        more = f" and {len(self._pending) - 3} more" if len(self._pending) > 3 else ""
        return f"tool{'s' if len(self._pending) > 1 else ''} {names}{more}"


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
    return data if isinstance(data, dict) else _loose_arguments(call.req.arguments)


def _text_of(exc: BaseException) -> str:
    """str(exc), even when the exception's own __str__ raises."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return f"<{type(exc).__name__} whose message cannot be shown>"


def _loose_arguments(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"_raw": raw[:500]}
    return data if isinstance(data, dict) else {"_raw": data}
