# pyright: strict
"""The turn loop: one model call per turn, then its tool calls, until a final answer.

One part of the run loop (`executor._Run`). Each turn runs under its deadline (`_limits.py`),
streams the model's answer (`Model.stream(messages, ModelRequestParameters)`), takes the answer
(the text, or for an agent with an `output_type` the typed answer: find, validate, send the
errors back: `output.py`) and hands the model's tool calls to the tool executor
(`tool_calls.py`). It reports its spans and events through the run's event sink (`_events.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import MaxTurnsExceeded, ModelError, OutputError, ToolError
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message, ModelDelta, ToolCallRequest
from openstackai_nb.models.base import ModelRequestParameters
from openstackai_nb.output import answers as typed
from openstackai_nb.results import RunStatus
from openstackai_nb.runner._limits import TurnTimeout

if TYPE_CHECKING:
    from openstackai_nb.messages import OutputSpec, ToolDefinition
    from openstackai_nb.models.base import Model
    from openstackai_nb.output.schema import OutputType
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner._events import RunEvents
    from openstackai_nb.runner._limits import RunLimits
    from openstackai_nb.runner.caching import RunCache
    from openstackai_nb.runner.tool_calls import ToolExecutor
    from openstackai_nb.tools import RunContext

__all__ = ["ModelRequest", "TurnLoop"]


@dataclass(slots=True)
class ModelRequest:
    """What every model call of a run asks besides the messages (its deadline is the turn's)."""

    model: Model
    """The run's model (wrapped by the cache and the observers)."""
    tools: tuple[ToolDefinition, ...]
    """The tools offered (an agent with MCP servers: listed when the run starts)."""
    settings: Any
    """The request settings (read-only mapping): the agent's, the run's over them."""
    spec: OutputSpec | None = None
    """The typed answer asked for, None for a text answer."""


class _ModelCall:
    """What one model call of a turn produced so far."""

    __slots__ = ("calls", "finish", "parts", "retries", "thoughts")

    def __init__(self, parts: list[str]) -> None:
        self.parts = parts
        self.thoughts: list[str] = []
        self.calls: list[ToolCallRequest] = []
        self.retries: list[str] = []
        self.finish: str | None = None


class TurnLoop:
    """Turns until a final answer (see the module's docstring).

    Args:
        request: the model and what each call asks for.
        output: the agent's typed answer (None: a text answer).
        messages: the conversation (the loop appends to it; it is the result's and the context's).
        result: the run's result (output, usage, finish reason, reasoning, warnings).
        context: the tools' `RunContext` (its `turn_count`).
        max_turns: model calls allowed.
        stop_on_tool_error: a tool's error ends the run (`ToolError`).
        cache: the run's use of the response cache (None: it uses none).
        events: where spans and events go.
        limits: the deadlines of the turns.
        tool_calls: runs the model's tool calls.
    """

    def __init__(
        self,
        request: ModelRequest,
        output: OutputType | None,
        messages: list[Message],
        result: RunResult,
        context: RunContext,
        *,
        max_turns: int,
        stop_on_tool_error: bool,
        cache: RunCache | None,
        events: RunEvents,
        limits: RunLimits,
        tool_calls: ToolExecutor,
    ) -> None:
        self.request = request
        self.output = output
        self.messages = messages
        self.result = result
        self.context = context
        self.max_turns = max_turns
        self.stop_on_tool_error = stop_on_tool_error
        self.cache = cache
        self.events = events
        self.limits = limits
        self.tool_calls = tool_calls
        self.turn_text: list[str] = []
        """The text of the model call in progress (a run cut off keeps it)."""
        self.turn_retries: list[str] = []
        """The retries of the model call in progress (a run cut off says why it was still waiting)."""
        self.last_text = ""
        """The last answer text the model gave (or a final-answer call's arguments)."""
        self.reasoning: list[str] = []
        """Each model call's reasoning text, joined into `result.reasoning`."""
        self.answer_error: str | None = None
        """Why the last typed answer did not validate."""

    def partial_output(self) -> str | None:
        """What the model said so far, for a run that ended before its final answer."""
        return "".join(self.turn_text) or self.last_text or None

    async def run(self) -> None:
        """Turn after turn until a final answer; MaxTurnsExceeded (or OutputError) when none comes."""
        result, context, events = self.result, self.context, self.events
        for turn in range(1, self.max_turns + 1):
            context.turn_count = result.turn_count = turn
            if events.listening:
                events.send(StreamEvent.turn_start(turn))
            if await self._limited_turn(turn):
                result.status = RunStatus.COMPLETED
                return
        if self.output is not None and self.answer_error is not None:
            raise OutputError(typed.never_valid(self.output, self.max_turns, self.answer_error))
        raise MaxTurnsExceeded(
            f"max_turns={self.max_turns} reached without a final answer: the model kept calling "
            f"tools (last: {self._last_tools()}). Raise RunConfig(max_turns=...) or check the tools' results"
        )

    async def _limited_turn(self, turn: int) -> bool:
        """One turn under its deadline (the nearer of timeout_per_turn and max_time); True when final."""
        limits, events = self.limits, self.events
        deadline, limit = limits.next_turn()
        span = events.open("turn", f"turn {turn}", turn)
        cm = asyncio.timeout_at(deadline)
        try:
            async with cm:
                limits.clock.turn(cm, deadline)  # waits for approval stop this timeout (approval.Clock)
                try:
                    final = await self._turn(turn, deadline)
                except BaseException:
                    # The turn's own timeout cancels it from inside: that is a timeout, not a cancellation.
                    events.close(span, "timeout" if cm.expired() else "cancelled")
                    raise
                finally:
                    limits.clock.turn(None, 0.0)
        except TimeoutError:
            if not cm.expired():
                raise
            span.outcome = "timeout"
            waiting = self.tool_calls.waiting_for() or self._model_waited()
            self.tool_calls.record_cut_off(f"within {limit}={limits.seconds(limit):g}s", "timeout")
            raise TurnTimeout(limit, waiting) from None
        events.close(span, "ok")
        return final

    def _model_waited(self) -> str:
        """What a turn cut off at its deadline was waiting for: the model, and its last retry's reason."""
        waited = f"the model ({self.request.model.name})"
        if not (retries := self.turn_retries):
            return waited
        n = len(retries)
        return f"{waited}, retried {n} time{'s' if n > 1 else ''} (last: {retries[-1]})"

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
            self.last_text = text
        self.messages.append(Message(role="assistant", content=text or None, tool_calls=tuple(call.calls)))
        calls = call.calls
        if self.output is not None:
            answer = typed.find_answer(self.output, text, calls)
            if answer is not None:
                if self._take_answer(self.output, answer, turn):
                    return True
                calls = answer.others
        elif not calls:
            self.result.final_output = self.result.output_text = text
            return True
        if not calls:
            return False
        failed = await self.tool_calls.run(turn, calls)
        if failed and self.stop_on_tool_error:
            raise ToolError(f"{failed[0]} (stop_on_tool_error=True ended the run)")
        return False

    def _take_answer(self, output: OutputType, answer: typed.Answer, turn: int) -> bool:
        """Take a typed answer: True when it validated (the run's output), else its errors go back to the model."""
        if answer.call is not None:  # a final-answer call: views see its arguments as the answer's text
            self.last_text = answer.text
            if self.events.listening:
                self.events.send(StreamEvent.text(answer.text, turn=turn))
        self.messages.extend(answer.replies(output))
        if not answer.valid:
            self.answer_error = answer.error
            return False
        self.result.final_output, self.result.output_text = answer.value, answer.text
        return True

    async def _call_model(self, turn: int, deadline: float) -> _ModelCall:
        """Stream one answer of the model; its span records retries, finish reason and reasoning."""
        request, result, events = self.request, self.result, self.events
        model = request.model
        self.turn_text = []
        call = _ModelCall(parts=self.turn_text)  # the same list: a run cut off keeps its partial text
        self.turn_retries = call.retries
        span = events.open("model", model.name, turn)
        try:
            params = ModelRequestParameters(request.tools, deadline, request.settings, request.spec)
            parts, take = call.parts, self._take
            # Every provider's stream is an async generator (aclose() ends it: its HTTP response too).
            stream: AsyncGenerator[ModelDelta, None] = model.stream(self.messages, params)  # pyright: ignore[reportAssignmentType]
            async with aclosing(stream) as deltas:
                async for d in deltas:
                    if d.kind == "text" and type(d.text) is str and not events.listening:
                        parts.append(d.text)  # the hot path, inline: text nobody watches arrive
                    else:
                        take(d, call, turn)
        except BaseException as exc:
            cancelled = isinstance(exc, asyncio.CancelledError)
            details: dict[str, Any] = {"retries": call.retries} if call.retries else {}
            details.update(self._model_facts(call.finish, call.thoughts))
            result.finish_reason = call.finish  # the last model call's, even when it broke off
            if not cancelled:
                details["error"] = str(exc)[:300]
            events.close(span, "cancelled" if cancelled else "error", **details)
            raise
        details = {"retries": call.retries} if call.retries else {}
        if self.cache is not None:  # marked on every model call of a run that uses the cache
            details["cache_hit"] = hit = self.cache.hit
            result.cached_calls += hit
        events.close(span, "ok", **details, **self._model_facts(call.finish, call.thoughts))
        result.finish_reason = call.finish
        return call

    def _take(self, d: ModelDelta, call: _ModelCall, turn: int) -> None:
        """Take one delta of the model's answer into `call`, emitting what views see."""
        kind = d.kind
        if kind == "text":
            if not isinstance(d.text, str):  # pyright: ignore[reportUnnecessaryIsInstance] - a provider's bug
                raise ModelError(_not_text(self.request.model.name, d.text))
            call.parts.append(d.text)
            if self.events.listening:
                self.events.send(StreamEvent("text", content=d.text, turn=turn))
        elif kind == "reasoning":
            if not isinstance(d.text, str):  # pyright: ignore[reportUnnecessaryIsInstance] - a provider's bug
                raise ModelError(_not_text(self.request.model.name, d.text, "reasoning"))
            call.thoughts.append(d.text)
            if self.events.listening:
                self.events.send(StreamEvent.reasoning(d.text, turn=turn))
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
            self.events.retry(d.text, d.delay)

    def _model_facts(self, finish: str | None, thoughts: list[str]) -> dict[str, Any]:
        """A model call's finish reason and reasoning, for its span; keeps the reasoning on the result."""
        facts: dict[str, Any] = {}
        if finish:
            facts["finish_reason"] = finish
        if thoughts:
            facts["reasoning"] = reasoning = "".join(thoughts)
            self.reasoning.append(reasoning)
            self.result.reasoning = "\n\n".join(self.reasoning)
        return facts


def _not_text(model: str, value: object, what: str = "text") -> str:
    return (
        f"model {model!r} produced a {what} delta that is a {type(value).__name__}, not a str: "
        f"{value!r:.120}; a provider must turn content parts into text before the run loop sees them"
    )
