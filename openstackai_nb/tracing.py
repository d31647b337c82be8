"""OpenTelemetry spans of every run, following the GenAI semantic conventions.

One source, two outputs: the run loop opens and closes one `Span` per turn, model call and tool
call (`RunResult.trace`); when an OpenTelemetry tracer provider is configured, the same open and
close points also emit OpenTelemetry spans (`TracingObserver`, a default observer of runs, keeps
one `RunSpans` per run):

- ``invoke_agent {agent}`` (INTERNAL) for the run: gen_ai.operation.name, gen_ai.agent.name,
  gen_ai.provider.name, gen_ai.request.model, server.address/port, the token totals,
  gen_ai.response.finish_reasons, ``openstackai_nb.run.id``, ``openstackai_nb.run.status`` and
  ``openstackai_nb.metadata.<key>`` for each `RunConfig.metadata` item;
- ``chat {model}`` (CLIENT) for each model call, a child of the run's span: gen_ai.request.model,
  gen_ai.provider.name, gen_ai.response.finish_reasons, gen_ai.usage.input_tokens/output_tokens
  (that call's), server.address/port, ``openstackai_nb.turn``; each retry is a ``retry`` event
  (reason, delay_s, attempt) at the moment it was decided;
- ``execute_tool {name}`` (INTERNAL) for each tool call, a child of the run's span (parallel
  calls are siblings that overlap in time): gen_ai.tool.name, gen_ai.tool.call.id,
  gen_ai.tool.type, gen_ai.tool.description, ``openstackai_nb.turn``. While the tool runs its
  span is the current one, so spans the tool makes itself are its children.

Every span carries ``openstackai_nb.outcome`` (ok, error, timeout, cancelled, rejected: a tool
call its approver did not approve, which is a decision and keeps status UNSET); one that did not
end ok or rejected has status ERROR and ``error.type``: ``timeout`` (a time limit cut it), ``cancelled`` (an
interrupt), ``tool_error`` (a tool raised or got bad arguments), the HTTP status of a model
endpoint's error (``429``, ``500``...) or the exception's class (``MaxTurnsExceeded``, ``ModelError``...).

Content (prompts, answers, tool arguments and results) is recorded only when you opt in:
``instrument(capture_content=True)`` or ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
It then goes into gen_ai.system_instructions, gen_ai.input.messages, gen_ai.output.messages,
gen_ai.tool.call.arguments and gen_ai.tool.call.result (JSON text in the conventions' message
format), scrubbed of secrets like everything else that leaves the process.

Cost when nothing is configured: none. `import openstackai_nb` never imports opentelemetry; a run
checks once whether ``opentelemetry.trace`` was imported and, if so, whether its global provider
is a real one (not the API's default proxy). Only then does it import anything.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from openstackai_nb._run_spans import RunSpans
from openstackai_nb.runner.observers import RunObserver

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.models.base import Model
    from openstackai_nb.results import RunResult, Span

__all__ = ["CAPTURE_CONTENT_ENV", "RunSpans", "TracingObserver", "instrument", "start_run", "uninstrument"]

logger = logging.getLogger("openstackai_nb")

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The environment variable (shared with OpenTelemetry's own GenAI instrumentations) that opts in to content."""


class _Settings:
    enabled = True
    tracer_provider: Any = None
    capture_content: bool | None = None


_settings = _Settings()


def instrument(tracer_provider: Any = None, *, capture_content: bool | None = None) -> None:
    """Emit OpenTelemetry spans of every run (the default once a global tracer provider is set).

    Without arguments it only switches spans back on after `uninstrument()`: runs already use
    the global provider (`opentelemetry.trace.set_tracer_provider`) as soon as there is one.

    Args:
        tracer_provider: send the spans to this provider instead of the global one.
        capture_content: record prompts, answers, tool arguments and results (scrubbed) on the
            spans; None (default) follows `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.

    Raises:
        ImportError: a tracer provider was given but opentelemetry-api is not installed.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider       # doctest: +SKIP
        >>> instrument(TracerProvider(), capture_content=True)        # doctest: +SKIP
    """
    if tracer_provider is not None:
        from openstackai_nb._extras import require

        require("opentelemetry.trace", "otel", "instrument(tracer_provider=...)")
    _settings.enabled = True
    _settings.tracer_provider = tracer_provider
    _settings.capture_content = capture_content


def uninstrument() -> None:
    """Emit no spans any more, even with a global tracer provider (`instrument()` undoes it)."""
    _settings.enabled = False
    _settings.tracer_provider = None
    _settings.capture_content = None


def start_run(agent: Agent, model: Model | None, result: RunResult) -> RunSpans | None:
    """The run's observer when spans are to be emitted, else None (the common case: no cost).

    Called by the run loop once per run, as the run starts.
    """
    if not _settings.enabled:
        return None
    provider = _settings.tracer_provider
    if provider is None:
        trace = sys.modules.get("opentelemetry.trace")
        if trace is None:  # nobody imported OpenTelemetry: nothing can be configured
            return None
        provider = trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
            return None
    try:
        return RunSpans(provider, agent, model, result, _capture_content())
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks a run
        logger.warning("openstackai_nb: no OpenTelemetry spans for run %s: %s", result.run_id, exc)
        return None


class TracingObserver(RunObserver):
    """The runs' OpenTelemetry spans: a `RunSpans` per run, while tracing is on (`start_run`).

    A run without spans (no provider, `uninstrument()`) costs a dictionary lookup per hook.
    """

    def __init__(self) -> None:
        self._runs: dict[int, RunSpans] = {}  # per run (its RunResult's id), from its start to its end

    def run_started(self, run: RunResult, agent: Agent) -> None:
        """Start the run's spans when tracing is on."""
        spans = start_run(agent, None, run)
        if spans is not None:
            self._runs[id(run)] = spans

    def span_started(self, run: RunResult, span: Span) -> None:
        """Start a model call's or tool call's span."""
        spans = self._runs.get(id(run))
        if spans is not None:
            spans.opened(span)

    def span_ended(self, run: RunResult, span: Span) -> None:
        """Close it (ended once what it describes is known)."""
        spans = self._runs.get(id(run))
        if spans is not None:
            spans.closed(span)

    def model_retry(self, run: RunResult, reason: str, delay: float) -> None:
        """A retry event on the model call's span."""
        spans = self._runs.get(id(run))
        if spans is not None:
            spans.retry(reason, delay)

    def run_ended(self, run: RunResult, failure: BaseException | None) -> None:
        """End every span of the run."""
        spans = self._runs.pop(id(run), None)
        if spans is not None:
            spans.ended(failure)


def _capture_content() -> bool:
    if _settings.capture_content is not None:
        return _settings.capture_content
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in ("1", "true", "yes", "on")
