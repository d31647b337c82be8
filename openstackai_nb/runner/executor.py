"""The one async run loop (`_Run`), and the observers it tells what happens (`observers.py`).

`_Run.execute()` is the only place that decides turns, tool calls, limits and status. It tells
the run's observers (`RunConfig.observers`, else the session's: history, OpenTelemetry, cassettes)
through `observers.RunHooks`. The event pump is an observer too (`EventPump`: an asyncio queue in
`streaming.events`, a thread-safe one in `RunHandle`); events are built only when an observer
overrides `event` (`run_async` builds none). The entry points are in `api.py`; the tool half of a turn
in `tool_calls.py`; the typed answer of an agent with an `output_type` (find, validate, send the
errors back) in `openstackai_nb.output.answers`. Views subscribe; the loop never imports them.

Limits: `max_time` and `timeout_per_turn` become one deadline per turn, enforced with
`asyncio.timeout_at` around everything the turn awaits (HTTP reads, tools), so a slow server
is cut off at the limit. On timeout the loop raises `errors.TimeoutError` carrying the
partial result; on cancellation it ends CANCELLED, emits "done", and re-raises CancelledError.
The deadlines live on an `approval.Clock`, which stops while a tool call waits for approval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub_data
from openstackai_nb.errors import (
    AgentError,
    ConfigError,
    MaxTurnsExceeded,
    ModelError,
    OutputError,
    ToolError,
)
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message, ModelDelta, ToolCallRequest
from openstackai_nb.output import answers as typed
from openstackai_nb.results import RunResult, RunStatus, Span
from openstackai_nb.runner import caching, observers
from openstackai_nb.runner.approval import Clock
from openstackai_nb.runner.config import RunConfig
from openstackai_nb.runner.tool_calls import ToolCalls
from openstackai_nb.tools import RunContext

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.models.base import Model
    from openstackai_nb.tools import Tool

__all__ = ["HistoryInput"]

logger = logging.getLogger("openstackai_nb")
HistoryInput = Sequence[Message | dict[str, Any]]
"""A prior conversation to continue: Messages or dicts with role and content."""


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


class _Run(ToolCalls):
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
        self.cache = caching.for_run(config)  # the response cache, when the run uses it
        self.model: Model = agent.get_model(cache=self.cache.wrap if self.cache is not None else None)
        self.config = config
        self.tools: dict[str, Tool] = {t.name: t for t in agent.tools}
        self.tool_defs = agent.tool_definitions()
        self.output = agent.output
        # The run's own settings (RunConfig.model_settings, e.g. compare's seed) over the agent's.
        self.settings = {**agent.model_settings, **config.model_settings}
        self._asked: dict[str, Any] = {}  # what the model is told of a typed answer (nothing for a text one)
        if self.output is not None:
            self._asked["output"] = self.output.spec  # builds the TypeAdapter: ConfigError before the run
        self._answer_error: str | None = None  # why the last typed answer did not validate
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
            provider=getattr(self.model, "provider", None),
            endpoint=self.model.endpoint,
            input=user_input,
            started_at=datetime.now(UTC),
            metadata=dict(config.metadata),
            output_schema=self.output.schema if self.output is not None else None,
        )
        self.result.messages = msgs  # the same list: the loop appends, the result sees it
        self.hooks = observers.RunHooks(observers.for_run(config.observers), self.result)
        self._t0 = 0.0
        self._turn_text: list[str] = []
        self._last_text = ""
        self._reasoning: list[str] = []  # each turn's reasoning text, joined into result.reasoning
        self.failure: Exception | None = None
        """The exception that ended the run FAILED (run_stream raises a copy carrying the result)."""

    # -- helpers -----------------------------------------------------------------------------
    def _send(self, event: StreamEvent) -> None:
        """Hand an event to the observers (callers build it only when `hooks.on_event`)."""
        self.hooks.call(self.hooks.on_event, event)

    def _open(self, kind: Any, name: str, turn: int, **attributes: Any) -> Span:
        start = time.monotonic() - self._t0
        span = Span(
            kind=kind, name=name, turn=turn, start=start, attributes=scrub_data(attributes) if attributes else {}
        )
        if self.hooks.on_span_started:
            self.hooks.call(self.hooks.on_span_started, span)
        return span

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
        if self.hooks.on_span_ended:
            self.hooks.call(self.hooks.on_span_ended, span)
        if self.config.verbose:
            logger.info(
                "run %s %s %r turn=%d %s in %.3fs%s",
                self.result.run_id, span.kind, span.name, span.turn, outcome, span.duration,
                f" {span.attributes}" if span.attributes else "",
            )  # fmt: skip

    # -- the loop ----------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        """Run to the end; return the result (raise TimeoutError / CancelledError as documented)."""
        self._pending = []  # tool calls in flight (see tool_calls.py)
        result, hooks = self.result, self.hooks
        loop = asyncio.get_running_loop()
        self._t0 = time.monotonic()
        self.context._start = self._t0
        result.status = RunStatus.RUNNING
        if hooks.on_run_started:
            hooks.call(hooks.on_run_started, self.agent)
        if hooks.on_wrap_model:  # e.g. the cassette's RecordingModel, while recording
            self.model = hooks.wrap_model(self.model)
        # Short runs are written once, when they end; a run still going after a quarter second
        # is written as RUNNING then (so a crash mid-run stays visible) at no cost to fast runs.
        started = hooks.still_running_later(loop)
        raised: BaseException | None = None
        try:
            if self.agent.mcp_servers:  # their tools: listed once per event loop (openstackai_nb.mcp)
                self.tools = {t.name: t for t in await self.agent.resolve_tools()}
                self.tool_defs = [t.definition for t in self.tools.values()]
            self.clock = Clock(loop.time() + self.config.max_time)
            await self._turns()
        except (_TurnTimeout, asyncio.CancelledError, Exception) as exc:  # noqa: BLE001 - every end is a status
            raised = self._end_early(exc)
        finally:
            if started is not None:
                started.cancel()
            result.elapsed_time = time.monotonic() - self._t0
            if result.status is not RunStatus.COMPLETED:
                result.final_output = result.output_text = "".join(self._turn_text) or self._last_text or None
            ended = hooks.run_ended(self.failure) if hooks.on_run_ended else None
        # "done" goes out once what the observers' run_ended returned is awaited (the history's
        # group commit): a kernel killed after a run returned has not lost it. Inside
        # `observers.batch()` (compare) the wait moves to the end of the whole batch of runs.
        try:
            if ended:
                await observers.settle_all(ended, result.run_id)
        finally:
            if hooks.on_event:
                self._send(StreamEvent.done(result))
        if raised is not None:
            raise raised
        return result

    async def _turns(self) -> None:
        """Turn after turn until a final answer; MaxTurnsExceeded when none comes."""
        config, result = self.config, self.result
        for turn in range(1, config.max_turns + 1):
            self.context.turn_count = result.turn_count = turn
            if self.hooks.on_event:
                self._send(StreamEvent.turn_start(turn))
            if await self._limited_turn(turn):
                result.status = RunStatus.COMPLETED
                return
        if self.output is not None and self._answer_error is not None:
            raise OutputError(typed.never_valid(self.output, config.max_turns, self._answer_error))
        raise MaxTurnsExceeded(
            f"max_turns={config.max_turns} reached without a final answer: the model kept calling "
            f"tools (last: {self._last_tools()}). Raise RunConfig(max_turns=...) or check the tools' results"
        )

    async def _limited_turn(self, turn: int) -> bool:
        """One turn under its deadline (the nearer of timeout_per_turn and max_time); True when final."""
        config, run_deadline = self.config, self.clock.run_deadline
        per_turn = asyncio.get_running_loop().time() + config.timeout_per_turn
        deadline = min(per_turn, run_deadline)
        limit = "max_time" if run_deadline <= per_turn else "timeout_per_turn"
        span = self._open("turn", f"turn {turn}", turn)
        cm = asyncio.timeout_at(deadline)
        try:
            async with cm:
                self.clock.turn(cm, deadline)  # waits for approval stop this timeout (approval.Clock)
                try:
                    final = await self._turn(turn, deadline)
                except BaseException:
                    # The turn's own timeout cancels it from inside: that is a timeout, not a cancellation.
                    self._close(span, "timeout" if cm.expired() else "cancelled")
                    raise
                finally:
                    self.clock.turn(None, 0.0)
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
            if self.hooks.on_event:
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
        if self.hooks.on_event:
            first = message.splitlines()[0]
            self._send(StreamEvent("error", content=first, error=message, turn=self.result.turn_count))

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
        calls = call.calls
        if self.output is not None:
            answer = typed.find_answer(self.output, text, calls)
            if answer is not None:
                if self._take_answer(answer, turn):
                    return True
                calls = answer.others
        elif not calls:
            self.result.final_output = self.result.output_text = text
            return True
        if not calls:
            return False
        if len(calls) == 1:
            errors = [await self._call_tool(turn, calls[0])]
        else:
            errors = await asyncio.gather(*(self._call_tool(turn, c) for c in calls))
        failed = [e for e in errors if e]
        if failed and self.config.stop_on_tool_error:
            raise ToolError(f"{failed[0]} (stop_on_tool_error=True ended the run)")
        return False

    def _take_answer(self, answer: typed.Answer, turn: int) -> bool:
        """Take a typed answer: True when it validated (the run's output), else its errors go back to the model."""
        assert self.output is not None
        if answer.call is not None:  # a final-answer call: views see its arguments as the answer's text
            self._last_text = answer.text
            if self.hooks.on_event:
                self._send(StreamEvent.text(answer.text, turn=turn))
        self.messages.extend(answer.replies(self.output))
        if not answer.valid:
            self._answer_error = answer.error
            return False
        self.result.final_output, self.result.output_text = answer.value, answer.text
        return True

    async def _call_model(self, turn: int, deadline: float) -> _ModelCall:
        """Stream one answer of the model; its span records retries, finish reason and reasoning."""
        self._turn_text = []
        call = _ModelCall(parts=self._turn_text)  # the same list: a run cut off keeps its partial text
        span = self._open("model", self.model.name, turn)
        try:
            stream = self.model.stream(
                self.messages, self.tool_defs, deadline=deadline, settings=self.settings, **self._asked
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
        if self.cache is not None:  # marked on every model call of a run that uses the cache
            details["cache_hit"] = hit = self.cache.hit
            self.result.cached_calls += hit
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
            if self.hooks.on_event:
                self._send(StreamEvent("text", content=d.text, turn=turn))
        elif kind == "reasoning":
            if not isinstance(d.text, str):
                raise ModelError(_not_text(self.model.name, d.text, "reasoning"))
            call.thoughts.append(d.text)
            if self.hooks.on_event:
                self._send(StreamEvent.reasoning(d.text, turn=turn))
        elif kind == "tool_call" and d.tool_call is not None:
            call.calls.append(d.tool_call)
        elif kind == "finish":
            call.finish = d.text or None
        elif kind == "usage" and d.usage is not None:
            if self.cache is None:
                self.result.usage.add(d.usage)
            else:
                self.cache.take_usage(self.result, d.usage)
        elif kind == "warning":
            # e.g. a prompt the server cut (models/_diagnose.py): once a run, however many turns say it
            said = {w.partition(":")[0] for w in self.result.warnings}
            if d.text.partition(":")[0] not in said:
                self.result.warnings.append(d.text)
        elif kind == "retry":
            call.retries.append(f"{d.text}; waited {d.delay:.2f}s")
            if self.hooks.on_model_retry:
                self.hooks.call(self.hooks.on_model_retry, d.text, d.delay)

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


def _not_text(model: str, value: object, what: str = "text") -> str:
    return (
        f"model {model!r} produced a {what} delta that is a {type(value).__name__}, not a str: "
        f"{value!r:.120}; a provider must turn content parts into text before the run loop sees them"
    )
