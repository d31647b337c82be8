"""A tool call that waited for approval in OpenTelemetry: its span is the tool's own work, a rejection
is a decision (outcome "rejected", status not ERROR), and the trace keeps the wait as an attribute."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from openstackai_nb import Agent, Decision, Runner, tool, tracing
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import Reply, call
from openstackai_nb.runner import RunConfig


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(provider)
    yield exporter
    tracing.instrument()
    provider.shutdown()


@tool(requires_approval=True)
def pay(amount: float) -> str:
    """Pay."""
    return f"paid {amount}"


def test_rejected_and_approved_calls_in_the_trace(spans: InMemorySpanExporter) -> None:
    async def approve(request):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)
        return Decision(request.arguments["amount"] < 10, "policy")

    def model(messages, info):  # type: ignore[no-untyped-def]
        if info.turn == 1:
            return Reply(tool_calls=[call("pay", amount=5), call("pay", amount=500)])
        return "done"

    result = Runner.run_sync(
        Agent(name="A", tools=[pay], model=FunctionModel(model)), "pay", config=RunConfig(approver=approve)
    )

    tool_spans = [s for s in result.trace if s.kind == "tool"]
    assert sorted(s.outcome for s in tool_spans) == ["ok", "rejected"]
    for span in tool_spans:
        assert span.attributes["approval_wait"] >= 0.3
        assert span.duration < span.attributes["approval_wait"]  # the tool's own work, not the wait
    exported = {s.attributes["openstackai_nb.outcome"]: s for s in spans.get_finished_spans() if "pay" in s.name}
    assert set(exported) == {"ok", "rejected"}
    assert exported["rejected"].status.status_code is not StatusCode.ERROR
    assert "error.type" not in (exported["rejected"].attributes or {})
