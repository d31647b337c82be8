"""The OpenTelemetry spans of one run (`RunSpans`), in the GenAI semantic conventions.

`tracing.TracingObserver` makes one per run while tracing is on (`tracing.start_run`) and
forwards the run loop's hooks to it; what the spans carry is described in `openstackai_nb.tracing`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from openstackai_nb._secrets import scrub, scrub_data

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.messages import Message
    from openstackai_nb.models.base import Model
    from openstackai_nb.results import RunResult, Span

__all__ = ["RunSpans"]

logger = logging.getLogger("openstackai_nb")

_OFFLINE_PROVIDER = "openstackai_nb"
"""gen_ai.provider.name of offline models (scripted, FunctionModel, replay)."""
_PROVIDER_NAMES = {"azure": "azure.ai.openai"}
"""RunResult.provider -> gen_ai.provider.name where the conventions name it differently."""


def _provider_name(result: RunResult) -> str:
    if result.provider:
        return _PROVIDER_NAMES.get(result.provider, result.provider)
    # An OpenAI-compatible endpoint of unknown make: the conventions' "best knowledge" is the
    # API it speaks (server.address says which server it was).
    return "openai" if result.endpoint else _OFFLINE_PROVIDER


def _server(endpoint: str | None) -> dict[str, Any]:
    if not endpoint:
        return {}
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname, "server.port": port}


def _json(data: Any) -> str:
    return json.dumps(scrub_data(data), ensure_ascii=False, default=str)


def _parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.role == "tool":
        return [{"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}]
    if message.content:
        parts.append({"type": "text", "content": message.content})
    for call in message.tool_calls:
        try:
            arguments: Any = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            arguments = call.arguments
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments})
    return parts


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    return [{"role": m.role, "parts": _parts(m)} for m in messages if m.role != "system"]


class _Open:
    """One OpenTelemetry span and what finishing it needs."""

    __slots__ = ("end_ns", "n_messages", "otel", "span", "task", "token", "usage")

    def __init__(self, otel: Any, span: Span, n_messages: int, usage: tuple[int, int]) -> None:
        self.otel = otel
        self.span = span
        self.n_messages = n_messages
        self.usage = usage
        self.token: Any = None
        self.task: Any = None
        self.end_ns = 0


class RunSpans:
    """The OpenTelemetry side of one run: the run loop calls it where it opens and closes its spans."""

    def __init__(self, provider: Any, agent: Agent, model: Model | None, result: RunResult, capture: bool) -> None:
        from opentelemetry import context, trace

        from openstackai_nb._version import __version__

        self._trace, self._context = trace, context
        self._tracer = provider.get_tracer("openstackai_nb", __version__)
        self._result = result
        self._capture = capture
        self._tools = {t.name: t.definition.description for t in agent.tools}
        self._common = {
            "gen_ai.provider.name": _provider_name(result),
            "gen_ai.request.model": result.model,
            **_server(result.endpoint),
        }
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": scrub(result.agent_name),
            **self._common,
            "openstackai_nb.run.id": result.run_id,
        }
        for key, value in scrub_data(result.metadata).items():
            plain = isinstance(value, str | bool | int | float)
            attributes[f"openstackai_nb.metadata.{key}"] = value if plain else _json(value)
        if capture:
            if agent.instructions:
                attributes["gen_ai.system_instructions"] = _json([{"type": "text", "content": agent.instructions}])
            attributes["gen_ai.input.messages"] = _json(_messages(result.messages))
        name = f"invoke_agent {attributes['gen_ai.agent.name']}".strip()
        self._run = self._tracer.start_span(name, kind=trace.SpanKind.INTERNAL, attributes=attributes)
        self._parent = trace.set_span_in_context(self._run)
        self._run_token = context.attach(self._parent)  # the run's span is current while it runs
        self._open: dict[int, _Open] = {}
        self._done: list[_Open] = []  # closed, ended once what they describe is known
        self._turn: Span | None = None
        self._attempts = 0
        self._broken = False

    # -- the run loop's hooks (never raise) --------------------------------------------------------
    def opened(self, span: Span) -> None:
        """The loop opened a span (turn, model call or tool call)."""
        if self._broken:
            return
        try:
            self._finish_done()
            if span.kind == "turn":
                self._turn = span
            elif span.kind in ("model", "tool"):
                self._start(span)
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks a run: any failure ends the spans
            self._give_up(exc)

    def closed(self, span: Span) -> None:
        """The loop closed a span: its duration, outcome and attributes are final."""
        if self._broken:
            return
        try:
            self._finish_done()
            opened = self._open.pop(id(span), None)
            if opened is None:
                return
            opened.end_ns = time.time_ns()
            if opened.token is not None and _current_task() is opened.task:
                self._context.detach(opened.token)
            self._done.append(opened)
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks a run: any failure ends the spans
            self._give_up(exc)

    def retry(self, reason: str | None, delay: float) -> None:
        """The model call in progress will be retried after `delay` seconds."""
        if self._broken:
            return
        try:
            self._attempts += 1
            for opened in self._open.values():
                if opened.span.kind == "model":
                    attributes = {"reason": scrub(reason or "retry"), "delay_s": delay, "attempt": self._attempts}
                    opened.otel.add_event("retry", attributes)
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks a run: any failure ends the spans
            self._give_up(exc)

    def ended(self, failure: BaseException | None) -> None:
        """The run ended (its status, usage and output are final): end every span."""
        result = self._result
        try:
            now = time.time_ns()
            for opened in list(self._open.values()):  # spans never closed (an error in a hook)
                opened.end_ns = now
                self._done.append(opened)
            self._open.clear()
            self._finish_done(final=True, failure=failure)
            self._end_run(failure)
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks a run: any failure ends the spans
            logger.warning("openstackai_nb: OpenTelemetry spans of run %s are incomplete: %s", result.run_id, exc)
            if self._run.is_recording():
                self._run.end()  # an unended span would never be exported
        finally:
            try:
                self._context.detach(self._run_token)
            except Exception:  # noqa: BLE001, S110 - the context was already reset elsewhere
                pass

    # -- spans -------------------------------------------------------------------------------------
    def _start(self, span: Span) -> None:
        name = scrub(span.name)
        attributes: dict[str, Any] = {"openstackai_nb.turn": span.turn}
        if span.kind == "model":
            attributes.update({"gen_ai.operation.name": "chat", **self._common})
            kind = self._trace.SpanKind.CLIENT
            self._attempts = 0
            if self._capture:
                attributes["gen_ai.input.messages"] = _json(_messages(self._result.messages))
        else:
            call_id = span.attributes.get("call_id")
            attributes.update({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name})
            attributes["gen_ai.tool.type"] = "function"
            if call_id:
                attributes["gen_ai.tool.call.id"] = scrub(str(call_id))
            if self._tools.get(span.name):
                attributes["gen_ai.tool.description"] = scrub(self._tools[span.name] or "")
            kind = self._trace.SpanKind.INTERNAL
        title = f"{attributes['gen_ai.operation.name']} {name}"
        otel = self._tracer.start_span(title, context=self._parent, kind=kind, attributes=attributes)
        usage = self._result.usage
        opened = _Open(otel, span, len(self._result.messages), (usage.prompt_tokens, usage.completion_tokens))
        # Current while it runs (a tool's own spans nest under it); detached where it closes,
        # when that is the same task (a call cut off is recorded by the run's task instead).
        opened.token = self._context.attach(self._trace.set_span_in_context(otel))
        opened.task = _current_task()
        self._open[id(span)] = opened

    def _finish_done(self, *, final: bool = False, failure: BaseException | None = None) -> None:
        """End the closed spans whose outcome is settled (all of them at the end of the run).

        A span is ended a little after it closed (with its own end time) so that what the loop
        records right after closing it (the answer's message, the tool's result) is on it; a
        model call cut off is "cancelled" until the run ends, when its cause is known.
        """
        keep: list[_Open] = []
        for opened in self._done:
            if not final and (opened.span.kind == "model" and opened.span.outcome in ("cancelled", "error")):
                keep.append(opened)
                continue
            self._end(opened, failure)
        self._done = keep

    def _end(self, opened: _Open, failure: BaseException | None) -> None:
        span, otel = opened.span, opened.otel
        outcome = span.outcome
        if (
            span.kind == "model"
            and outcome == "cancelled"
            and self._turn is not None
            and self._turn.outcome == "timeout"
        ):
            outcome = "timeout"  # cut off by a time limit, not by an interrupt
        attributes: dict[str, Any] = {"openstackai_nb.outcome": outcome}
        if span.kind == "model":
            usage = self._result.usage
            attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens - opened.usage[0]
            attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens - opened.usage[1]
            if span.attributes.get("finish_reason"):
                attributes["gen_ai.response.finish_reasons"] = [str(span.attributes["finish_reason"])]
            if self._capture:
                attributes.update(self._model_output(opened))
        elif self._capture:
            attributes.update(self._tool_content(span))
        otel.set_attributes(attributes)
        if outcome not in ("ok", "rejected"):  # a call rejected by its approver is a decision, not an error
            error = span.attributes.get("error")
            error_type = _error_type(outcome, span.kind, failure)
            otel.set_attribute("error.type", error_type)
            description = scrub(str(error)).splitlines()[0][:300] if error else error_type
            otel.set_status(self._trace.Status(self._trace.StatusCode.ERROR, description))
        otel.end(end_time=opened.end_ns or None)

    def _model_output(self, opened: _Open) -> dict[str, Any]:
        messages = self._result.messages
        if len(messages) <= opened.n_messages or messages[opened.n_messages].role != "assistant":
            return {}
        parts = _parts(messages[opened.n_messages])
        if opened.span.attributes.get("reasoning"):
            parts.insert(0, {"type": "reasoning", "content": opened.span.attributes["reasoning"]})
        message: dict[str, Any] = {"role": "assistant", "parts": parts}
        message["finish_reason"] = opened.span.attributes.get("finish_reason") or "stop"
        return {"gen_ai.output.messages": _json([message])}

    def _tool_content(self, span: Span) -> dict[str, Any]:
        call_id = span.attributes.get("call_id")
        call = next((c for c in reversed(self._result.tool_calls) if c.call_id == call_id), None)
        if call is None:
            return {}
        out = {"gen_ai.tool.call.arguments": _json(call.arguments)}
        if call.error is None:
            out["gen_ai.tool.call.result"] = call.result if isinstance(call.result, str) else _json(call.result)
            out["gen_ai.tool.call.result"] = scrub(out["gen_ai.tool.call.result"])
        return out

    def _end_run(self, failure: BaseException | None) -> None:
        result, otel = self._result, self._run
        status = result.status.value
        attributes: dict[str, Any] = {
            "openstackai_nb.run.status": status,
            "openstackai_nb.run.turns": result.turn_count,
            "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": result.usage.completion_tokens,
        }
        if result.finish_reason:
            attributes["gen_ai.response.finish_reasons"] = [result.finish_reason]
        if self._capture and result.final_output is not None:
            message = {"role": "assistant", "parts": [{"type": "text", "content": result.final_output}]}
            attributes["gen_ai.output.messages"] = _json([{**message, "finish_reason": result.finish_reason or "stop"}])
        otel.set_attributes(attributes)
        if status != "COMPLETED":
            timed_out = self._turn is not None and self._turn.outcome == "timeout"
            outcome = "timeout" if timed_out else "cancelled" if status == "CANCELLED" else "error"
            otel.set_attribute("openstackai_nb.outcome", outcome)
            otel.set_attribute("error.type", _error_type(outcome, "run", failure))
            description = scrub(result.error or status).splitlines()[0][:300]
            otel.set_status(self._trace.Status(self._trace.StatusCode.ERROR, description))
        else:
            otel.set_attribute("openstackai_nb.outcome", "ok")
        otel.end()

    def _give_up(self, exc: Exception) -> None:
        self._broken = True
        logger.warning("openstackai_nb: OpenTelemetry spans of run %s stop here: %s", self._result.run_id, exc)


def _error_type(outcome: str, kind: str, failure: BaseException | None) -> str:
    """error.type: timeout, cancelled, tool_error, an endpoint's HTTP status, or the exception's class."""
    if outcome in ("timeout", "cancelled"):
        return outcome
    if kind == "tool":
        return "tool_error"
    status = getattr(failure, "status_code", None)
    if isinstance(status, int):
        return str(status)
    return type(failure).__name__ if failure is not None else "_OTHER"


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
