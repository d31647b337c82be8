# pyright: strict
"""The run's event sink: its spans and events, told to the run's observers (`observers.RunHooks`).

One part of the run loop (`executor._Run`); the turn loop (`_turns.py`) and the tool executor
(`tool_calls.py`) report through it, so neither knows who watches. Spans are timed from the
run's start, their attributes and names scrubbed (they leave the process: trace, history, logs),
kept on `RunResult.trace` when `RunConfig.trace_enabled`, and logged when `RunConfig.verbose`.
Events (`StreamEvent`) are for the views; callers build one only when `listening`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub, scrub_data
from openstackai_nb.results import Span

if TYPE_CHECKING:
    from openstackai_nb.events import StreamEvent
    from openstackai_nb.results import Outcome, RunResult, SpanKind
    from openstackai_nb.runner.config import RunConfig
    from openstackai_nb.runner.observers import RunHooks

__all__ = ["RunEvents"]

logger = logging.getLogger("openstackai_nb")


class RunEvents:
    """Where the parts of one run report (a `tool_calls.SpanSink`).

    Args:
        hooks: the run's observers, by hook.
        result: the run's result (its trace, its id for the verbose log).
        config: the run's config (`trace_enabled`, `verbose`).
    """

    __slots__ = ("hooks", "listening", "result", "t0", "trace_enabled", "verbose")

    def __init__(self, hooks: RunHooks, result: RunResult, config: RunConfig) -> None:
        self.hooks = hooks
        self.result = result
        self.trace_enabled = config.trace_enabled
        self.verbose = config.verbose
        self.t0 = 0.0
        """When the run started (`time.monotonic()`): spans start and end in seconds from it."""
        self.listening = bool(hooks.on_event)
        """Whether an observer reads events (build a `StreamEvent` only then); a view joins the
        run's observers before it starts (`start` looks again)."""

    def start(self) -> float:
        """The run starts now (its observers are all there); returns that time (`time.monotonic()`)."""
        self.listening = bool(self.hooks.on_event)
        self.t0 = t0 = time.monotonic()
        return t0

    def send(self, event: StreamEvent) -> None:
        """Hand an event to the observers that read events."""
        self.hooks.call(self.hooks.on_event, event)

    def retry(self, reason: str, delay: float) -> None:
        """The model call in progress will be retried after `delay` seconds."""
        if self.hooks.on_model_retry:
            self.hooks.call(self.hooks.on_model_retry, reason, delay)

    def open(self, kind: SpanKind, name: str, turn: int, **attributes: Any) -> Span:
        """A span that starts now."""
        span = Span(
            kind=kind,
            name=name,
            turn=turn,
            start=time.monotonic() - self.t0,
            attributes=scrub_data(attributes) if attributes else {},
        )
        if self.hooks.on_span_started:
            self.hooks.call(self.hooks.on_span_started, span)
        return span

    def restart(self, span: Span) -> None:
        """`span` starts now (a tool call's own work starts once its approval wait is over)."""
        span.start = time.monotonic() - self.t0

    def close(self, span: Span, outcome: Outcome, **attributes: Any) -> None:
        """End `span` now with `outcome`; keep it on the trace and tell the observers."""
        span.duration = time.monotonic() - self.t0 - span.start
        span.outcome = outcome
        if attributes:
            # Span attributes leave the process (trace, history's turns, the verbose log): a tool
            # error or an endpoint's message may quote a key, and a failed call's tool name is
            # whatever the model asked for.
            span.attributes.update(scrub_data(attributes))
            span.name = scrub(span.name)
        if self.trace_enabled:
            self.result.trace.append(span)
        if self.hooks.on_span_ended:
            self.hooks.call(self.hooks.on_span_ended, span)
        if self.verbose:
            logger.info(
                "run %s %s %r turn=%d %s in %.3fs%s",
                self.result.run_id,
                span.kind,
                span.name,
                span.turn,
                outcome,
                span.duration,
                f" {span.attributes}" if span.attributes else "",
            )
