"""The one async run loop, and `Runner`, whose entry points are thin views of it.

`_Run.execute()` is the only place that decides turns, tool calls, limits and status. It
emits `StreamEvent`s to an optional sink (a callable); `run_async` passes none and returns the
result, `StreamingRunner` passes a queue, `run_sync` runs `run_async` on the private loop
thread (`_sync.py`). Views subscribe through the sink; the loop never imports them.

Limits: `max_time` and `timeout_per_turn` become one deadline per turn, enforced with
`asyncio.timeout_at` around everything the turn awaits (HTTP reads, tools), so a slow server
is cut off at the limit. On timeout the loop raises `errors.TimeoutError` carrying the
partial result; on cancellation it ends CANCELLED, emits "done", and re-raises CancelledError.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from openstackai_nb._tool_calls import CallProgress
from openstackai_nb.errors import (
    AgentError,
    ConfigError,
    MaxTurnsExceeded,
    ModelError,
    ToolArgumentsError,
    ToolError,
    _with_result,
)
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.messages import Message, ModelDelta, StreamEvent, ToolCallRequest
from openstackai_nb.results import RunResult, RunStatus, Span, ToolCall, cut_text, jsonable, tool_text
from openstackai_nb.runner import recorder
from openstackai_nb.runner.config import RunConfig
from openstackai_nb.tools import RunContext

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.models.base import Model
    from openstackai_nb.tools import Tool

__all__ = ["HistoryInput", "Runner", "Sink"]

logger = logging.getLogger("openstackai_nb")
Sink = Callable[[StreamEvent], None]
HistoryInput = Sequence[Message | dict[str, Any]]


@dataclass(slots=True)
class _ModelCall:
    """What one model call of a turn produced so far."""

    parts: list[str]
    thoughts: list[str] = field(default_factory=list)
    calls: list[ToolCallRequest] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    finish: str | None = None


class _TurnTimeout(Exception):
    def __init__(self, limit: str, waiting: str) -> None:
        self.limit = limit
        self.waiting = waiting  # "the model (name)" or "tool 'x' (call id)"


def _coerce_history(history: HistoryInput | None) -> list[Message]:
    out: list[Message] = []
    for i, item in enumerate(history or ()):
        if isinstance(item, Message):
            msg = item
        elif isinstance(item, dict):
            try:
                msg = Message.model_validate(item)
            except Exception as exc:
                raise ConfigError(
                    f"history[{i}] is not a chat message ({exc.__class__.__name__}): {item!r:.80}"
                ) from None
        else:
            raise ConfigError(f"history[{i}] must be a Message or a dict with role/content, got {type(item).__name__}")
        if msg.role != "system":
            out.append(msg)
    return out


class _Run:
    """One run: everything checked before it starts, state while it runs."""

    def __init__(
        self,
        agent: Agent,
        user_input: str,
        config: RunConfig | None,
        context: RunContext | None,
        history: HistoryInput | None,
    ) -> None:
        from openstackai_nb.agent import Agent

        if not isinstance(agent, Agent):
            raise ConfigError(f"the first argument must be an Agent, got {type(agent).__name__}")
        if not isinstance(user_input, str):
            raise ConfigError(f"input must be a string, got {type(user_input).__name__}")
        if config is None:
            config = RunConfig()
        elif not isinstance(config, RunConfig):
            raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
        self.agent = agent
        self.model: Model = agent.get_model()
        self.config = config
        self.tools: dict[str, Tool] = {t.name: t for t in agent.tools}
        self.tool_defs = agent.tool_definitions()
        self.context = context if context is not None else RunContext()
        if not self.context.run_id:
            self.context.run_id = config.run_id
        msgs = [Message(role="system", content=agent.instructions)] if agent.instructions else []
        msgs.extend(_coerce_history(history if history is not None else self.context.history))
        msgs.append(Message(role="user", content=user_input))
        self.messages = msgs
        self.context.history = msgs
        self.result = RunResult(
            run_id=self.context.run_id,
            status=RunStatus.QUEUED,
            agent_name=agent.name,
            model=self.model.name,
            input=user_input,
            started_at=datetime.now(UTC),
            metadata=dict(config.metadata),
        )
        self.result.messages = msgs  # the same list: the loop appends, the result sees it
        self._emit: Sink | None = None
        self._t0 = 0.0
        self._turn_text: list[str] = []
        self._last_text = ""
        self._reasoning: list[str] = []  # each turn's reasoning text, joined into result.reasoning
        self.failure: Exception | None = None
        """The exception that ended the run FAILED (run_stream raises a copy carrying the result)."""

    # -- helpers -----------------------------------------------------------------------------
    def _send(self, event: StreamEvent) -> None:
        if self._emit is not None:
            self._emit(event)

    def _open(self, kind: Any, name: str, turn: int) -> Span:
        return Span(kind=kind, name=name, turn=turn, start=time.monotonic() - self._t0)

    def _close(self, span: Span, outcome: Any, **attributes: Any) -> None:
        span.duration = time.monotonic() - self._t0 - span.start
        span.outcome = outcome
        if attributes:
            # Span attributes leave the process (trace, history's turns, the verbose log): a tool
            # error or an endpoint's message may quote a key, and a failed call's tool name is
            # whatever the model asked for.
            from openstackai_nb._secrets import scrub, scrub_data

            span.attributes.update(scrub_data(attributes))
            span.name = scrub(span.name)
        if self.config.trace_enabled:
            self.result.trace.append(span)
        if self.config.verbose:
            logger.info(
                "run %s %s %r turn=%d %s in %.3fs%s",
                self.result.run_id, span.kind, span.name, span.turn, outcome, span.duration,
                f" {span.attributes}" if span.attributes else "",
            )  # fmt: skip

    # -- the loop ----------------------------------------------------------------------------
    async def execute(self, emit: Sink | None = None) -> RunResult:
        """Run to the end; return the result (raise TimeoutError / CancelledError as documented)."""
        self._emit = emit
        self._pending: list[_PendingCall] = []  # tool calls in flight (see _call_tool)
        result = self.result
        loop = asyncio.get_running_loop()
        self._t0 = time.monotonic()
        self.context._start = self._t0
        result.status = RunStatus.RUNNING
        # Short runs are written once, when they end; a run still going after a quarter second
        # is written as RUNNING then (so a crash mid-run stays visible) at no cost to fast runs.
        started = loop.call_later(recorder.RUNNING_RECORD_DELAY, recorder.record_started, result)
        raised: BaseException | None = None
        try:
            await self._turns(loop.time() + self.config.max_time)
        except (_TurnTimeout, asyncio.CancelledError, Exception) as exc:  # noqa: BLE001 - every end is a status
            raised = self._end_early(exc)
        finally:
            started.cancel()
            result.elapsed_time = time.monotonic() - self._t0
            if result.status is not RunStatus.COMPLETED:
                result.final_output = "".join(self._turn_text) or self._last_text or None
            durable = recorder.record_finished(result)
        # "done" goes out once the run is committed to the history file (group commit on the
        # store's writer thread): a kernel killed after a run returned has not lost it. Inside
        # `commits_deferred()` (compare) the wait moves to the end of the whole batch of runs.
        try:
            await recorder.until_durable(durable, result.run_id)
        finally:
            self._send(StreamEvent.done(result))
        if raised is not None:
            raise raised
        return result

    async def _turns(self, run_deadline: float) -> None:
        """Turn after turn until a final answer; MaxTurnsExceeded when none comes."""
        config, result = self.config, self.result
        for turn in range(1, config.max_turns + 1):
            self.context.turn_count = result.turn_count = turn
            self._send(StreamEvent.turn_start(turn))
            if await self._limited_turn(turn, run_deadline):
                result.status = RunStatus.COMPLETED
                return
        raise MaxTurnsExceeded(
            f"max_turns={config.max_turns} reached without a final answer: the model kept calling "
            f"tools (last: {self._last_tools()}). Raise RunConfig(max_turns=...) or check the tools' results"
        )

    async def _limited_turn(self, turn: int, run_deadline: float) -> bool:
        """One turn under its deadline (the nearer of timeout_per_turn and max_time); True when final."""
        config = self.config
        per_turn = asyncio.get_running_loop().time() + config.timeout_per_turn
        deadline = min(per_turn, run_deadline)
        limit = "max_time" if run_deadline <= per_turn else "timeout_per_turn"
        span = self._open("turn", f"turn {turn}", turn)
        cm = asyncio.timeout_at(deadline)
        try:
            async with cm:
                try:
                    final = await self._turn(turn, deadline)
                except BaseException:
                    self._close(span, "cancelled")
                    raise
        except TimeoutError:
            if not cm.expired():
                raise
            span.outcome = "timeout"
            waiting = self._waiting_for()
            seconds = config.max_time if limit == "max_time" else config.timeout_per_turn
            self._record_cut_off(f"within {limit}={seconds:g}s", "timeout")
            raise _TurnTimeout(limit, waiting) from None
        self._close(span, "ok")
        return final

    def _end_early(self, exc: BaseException) -> BaseException | None:
        """Set the status a run ends with when its turns did not finish; return what to raise after "done"."""
        result = self.result
        if isinstance(exc, _TurnTimeout):
            seconds = self.config.max_time if exc.limit == "max_time" else self.config.timeout_per_turn
            advice = "for slow models" if exc.waiting.startswith("the model") else "or make the tool return sooner"
            msg = (
                f"{exc.limit}={seconds:g}s exceeded in turn {result.turn_count} while waiting for {exc.waiting}: "
                f"the {'run' if exc.limit == 'max_time' else 'turn'} was stopped at the limit"
                f"; raise RunConfig({exc.limit}=...) {advice}"
            )
            self._fail(msg)
            return RunTimeoutError(msg, result=result)
        if isinstance(exc, asyncio.CancelledError):
            self._record_cut_off("before the run was cancelled", "cancelled")
            result.status = RunStatus.CANCELLED
            result.error = "cancelled (interrupted before the run finished)"
            self._send(StreamEvent("error", content="cancelled", error=result.error, turn=result.turn_count))
            return asyncio.CancelledError()
        self.failure = exc if isinstance(exc, Exception) else None  # e.g. a FunctionModel bug: FAILED
        self._fail(str(exc) if isinstance(exc, AgentError) else f"{type(exc).__name__}: {exc}")
        return None

    def _fail(self, message: str) -> None:
        from openstackai_nb._secrets import scrub

        message = scrub(message)
        self.result.status = RunStatus.FAILED
        self.result.error = message
        self._send(StreamEvent("error", content=message.splitlines()[0], error=message, turn=self.result.turn_count))

    def _last_tools(self) -> str:
        for m in reversed(self.messages):
            if m.tool_calls:
                return ", ".join(c.name for c in m.tool_calls)
        return "none"

    async def _turn(self, turn: int, deadline: float) -> bool:
        """One model call and its tools; True when the answer is final."""
        call = await self._call_model(turn, deadline)
        text = "".join(call.parts)
        if text:
            self._last_text = text
        self.messages.append(Message(role="assistant", content=text or None, tool_calls=tuple(call.calls)))
        if not call.calls:
            self.result.final_output = text
            return True
        if len(call.calls) == 1:
            errors = [await self._call_tool(turn, call.calls[0])]
        else:
            errors = await asyncio.gather(*(self._call_tool(turn, c) for c in call.calls))
        failed = [e for e in errors if e]
        if failed and self.config.stop_on_tool_error:
            raise ToolError(f"{failed[0]} (stop_on_tool_error=True ended the run)")
        return False

    async def _call_model(self, turn: int, deadline: float) -> _ModelCall:
        """Stream one answer of the model; its span records retries, finish reason and reasoning."""
        self._turn_text = []
        call = _ModelCall(parts=self._turn_text)  # the same list: a run cut off keeps its partial text
        span = self._open("model", self.model.name, turn)
        try:
            stream = self.model.stream(
                self.messages, self.tool_defs, deadline=deadline, settings=self.agent.model_settings
            )
            async with aclosing(stream) as deltas:  # type: ignore[type-var]
                async for d in deltas:
                    self._take(d, call, turn)
        except BaseException as exc:
            cancelled = isinstance(exc, asyncio.CancelledError)
            details: dict[str, Any] = {"retries": call.retries} if call.retries else {}
            details.update(self._model_facts(call.finish, call.thoughts))
            self.result.finish_reason = call.finish  # the last model call's, even when it broke off
            if not cancelled:
                details["error"] = str(exc)[:300]
            self._close(span, "cancelled" if cancelled else "error", **details)
            raise
        details = {"retries": call.retries} if call.retries else {}
        self._close(span, "ok", **details, **self._model_facts(call.finish, call.thoughts))
        self.result.finish_reason = call.finish
        return call

    def _take(self, d: ModelDelta, call: _ModelCall, turn: int) -> None:
        """Take one delta of the model's answer into `call`, emitting what views see."""
        kind = d.kind
        if kind == "text":
            if not isinstance(d.text, str):  # only text ever reaches the answer and its events
                raise ModelError(_not_text(self.model.name, d.text))
            call.parts.append(d.text)
            if self._emit is not None:
                self._emit(StreamEvent("text", content=d.text, turn=turn))
        elif kind == "reasoning":
            if not isinstance(d.text, str):
                raise ModelError(_not_text(self.model.name, d.text, "reasoning"))
            call.thoughts.append(d.text)
            if self._emit is not None:
                self._emit(StreamEvent.reasoning(d.text, turn=turn))
        elif kind == "tool_call" and d.tool_call is not None:
            call.calls.append(d.tool_call)
        elif kind == "finish":
            call.finish = d.text or None
        elif kind == "usage" and d.usage is not None:
            self.result.usage.add(d.usage)
        elif kind == "retry":
            call.retries.append(f"{d.text}; waited {d.delay:.2f}s")

    def _model_facts(self, finish: str | None, thoughts: list[str]) -> dict[str, Any]:
        """A model call's finish reason and reasoning, for its span; keeps the reasoning on the result."""
        facts: dict[str, Any] = {}
        if finish:
            facts["finish_reason"] = finish
        if thoughts:
            facts["reasoning"] = reasoning = "".join(thoughts)
            self._reasoning.append(reasoning)
            self.result.reasoning = "\n\n".join(self._reasoning)
        return facts

    async def _call_tool(self, turn: int, req: ToolCallRequest) -> str | None:
        """Run one tool call; record it; append the tool message. Returns the error, if any.

        A call cut off by a time limit or a cancellation stays in `self._pending`; `execute`
        records it (`_record_cut_off`) with what the run was waiting for.
        """
        tool = self.tools.get(req.name)
        call = _PendingCall(req, turn, self._open("tool", req.name, turn))
        self._pending.append(call)
        self._send(StreamEvent("tool_call", tool_name=req.name, arguments=call.arguments, call_id=req.id, turn=turn))
        value: Any = None
        error: str | None = None
        try:
            if tool is None:
                known = ", ".join(sorted(self.tools)) or "none"
                raise ToolArgumentsError(f"unknown tool {req.name!r}: this agent offers {known}")
            call.arguments = tool.validate(req.arguments)
            value = await tool.invoke(call.arguments, self.context, call.progress)
        except ToolArgumentsError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a tool's failure is reported to the model
            error = f"tool {req.name!r} raised {type(exc).__name__}: {_text_of(exc)}"
        # CancelledError (a limit or an interrupt) passes through: the call stays pending.
        self._pending.remove(call)
        self._record_call(call, value, error)
        return error

    def _record_call(self, call: _PendingCall, value: Any, error: str | None, outcome: Any = None) -> None:
        """Record a finished (or cut-off) call: ToolCall, span, "tool_result" event, tool message."""
        req, limit = call.req, self.config.max_tool_result_chars
        elapsed = time.monotonic() - call.t0
        text, result_chars = "", None
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
                turn=call.turn,
            )
        )  # fmt: skip
        self._send(
            StreamEvent(
                "tool_result", tool_name=req.name, arguments=call.arguments, result=value, call_id=req.id,
                turn=call.turn, error=error, duration=elapsed, blocked_loop_s=attributes.get("blocked_loop_s"),
            )
        )  # fmt: skip
        content = f"Error: {error}" if error else text
        self.messages.append(Message(role="tool", content=content, tool_call_id=req.id, name=req.name))

    def _record_cut_off(self, why: str, outcome: Any) -> None:
        """Record the tool calls still running when the run stopped waiting (limit or cancel)."""
        for call in self._pending:
            name = call.req.name
            if call.progress.in_thread and not call.progress.started:
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

    __slots__ = ("arguments", "progress", "req", "span", "started_at", "t0", "turn")

    def __init__(self, req: ToolCallRequest, turn: int, span: Span) -> None:
        self.req = req
        self.turn = turn
        self.span = span
        self.arguments: dict[str, Any] = _loose_arguments(req.arguments)
        self.progress = CallProgress()
        self.started_at = datetime.now(UTC)
        self.t0 = time.monotonic()


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


def _not_text(model: str, value: object, what: str = "text") -> str:
    return (
        f"model {model!r} produced a {what} delta that is a {type(value).__name__}, not a str: "
        f"{value!r:.120}; a provider must turn content parts into text before the run loop sees them"
    )


def _loose_arguments(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"_raw": raw[:500]}
    return data if isinstance(data, dict) else {"_raw": data}


def _stream_failure(run: _Run) -> AgentError:
    """The error run_stream raises for a run that ended FAILED: the run's own, carrying its result."""
    result = run.result
    message = result.error or f"the run ended {result.status.value}"
    if isinstance(run.failure, AgentError):
        return _with_result(run.failure, result, message)
    return _with_result(ModelError(message), result)


class Runner:
    """Entry points to run an agent. All of them are thin views of one async loop.

    Example:
        >>> from openstackai_nb import Agent, Runner
        >>> result = Runner.run_sync(Agent(name="A", model="scripted"), "Hello!")
        >>> result.status
        <RunStatus.COMPLETED: 'COMPLETED'>
    """

    @staticmethod
    async def run_async(
        agent: Agent,
        input: str,  # noqa: A002 - the documented name
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> RunResult:
        """Run the agent on `input` and return its RunResult.

        A failure inside the run ends it FAILED and is returned (see `result.error`).

        Raises:
            ConfigError: bad arguments, before anything runs.
            openstackai_nb.errors.TimeoutError: max_time or timeout_per_turn ran out (`.result`).
            asyncio.CancelledError: the task was cancelled (the run is recorded CANCELLED).
        """
        return await _Run(agent, input, config, context, history).execute()

    @staticmethod
    def run_sync(
        agent: Agent,
        input: str,  # noqa: A002
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> RunResult:
        """Run the agent and block until it ends; works in scripts and inside Jupyter.

        On KeyboardInterrupt (a kernel interrupt) the run is cancelled and recorded CANCELLED
        before the interrupt propagates.
        """
        from openstackai_nb.runner import _sync

        run = _Run(agent, input, config, context, history)
        return _sync.run_blocking(run.execute())

    @staticmethod
    async def run_stream(
        agent: Agent,
        input: str,  # noqa: A002
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the answer's text deltas as they arrive; raise once they stop if the run did not complete.

        A stream never ends silently on a truncated answer: after yielding what arrived, a run
        that did not end COMPLETED raises. Text already yielded is never taken back; a provider
        may retry a stream that broke before any text reached you (the caller sees one answer).
        Reasoning ("thinking") text is not yielded: use StreamingRunner for "reasoning" events.

        Raises:
            ConfigError: bad arguments, before anything runs.
            openstackai_nb.errors.TimeoutError: max_time or timeout_per_turn ran out (`.result`).
            AgentError: the run ended FAILED: the run's own error (`ModelError`, `ModelHTTPError`,
                `ToolError`, `MaxTurnsExceeded`...; a `ModelError` for a model function's bug),
                with `.result` the FAILED RunResult (error, partial output).
            asyncio.CancelledError: the task was cancelled (the run is recorded CANCELLED).
        """
        from openstackai_nb.runner.streaming import _events

        run = _Run(agent, input, config, context, history)
        async with aclosing(_events(run)) as stream:
            async for event in stream:
                if event.type == "text":
                    yield event.content
        if run.result.status is not RunStatus.COMPLETED:
            raise _stream_failure(run) from (None if isinstance(run.failure, AgentError) else run.failure)
