"""OpenTelemetry GenAI spans of real runs, read back with the SDK's in-memory exporter (tests only)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from openstackai_nb import Agent, RunConfig, Runner, tracing
from openstackai_nb._secrets import register_secret
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.messages import Message
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply, call
from tests._aio import arun
from tests._server import OpenAIServer, error, text_stream, tool_stream
from tests._server import Reply as HTTPReply

SECRET = "sk-otel-SECRET-0123456789abcdefXYZ"


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    provider = TracerProvider()
    yield provider
    provider.shutdown()


@pytest.fixture
def spans(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    """Runs emit to an SDK provider with an in-memory exporter (no global provider is set)."""
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(provider)
    yield exporter
    tracing.instrument()  # back to the default: the global provider, when there is one


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        out.setdefault(span.name, []).append(span)
    return out


def the_run(exporter: InMemorySpanExporter) -> ReadableSpan:
    (run,) = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")]
    return run


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    return sorted(
        (
            s
            for s in exporter.get_finished_spans()
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        ),
        key=lambda s: s.start_time or 0,
    )


def lookup(city: str) -> str:
    """Look up the weather of a city."""
    return f"sunny in {city}"


def test_a_run_with_retries_and_parallel_tools(openai_server: OpenAIServer, spans: InMemorySpanExporter) -> None:
    both_started = threading.Barrier(2, timeout=10)  # each call waits for the other: they surely overlap

    def weather(city: str) -> str:
        """The weather in a city."""
        both_started.wait()
        return f"sunny in {city}"

    openai_server.script(
        error(429, "slow down", retry_after="0"),
        tool_stream([("call_a", "weather", {"city": "Paris"}), ("call_b", "weather", {"city": "Oslo"})]),
        text_stream("Sunny in both.", usage=(40, 6)),
    )
    agent = Agent(name="Forecaster", instructions="Be brief.", tools=[weather], model="gpt-4o-mini")
    config = RunConfig(run_id="run_otel_parallel", metadata={"team": "blue", "n": 3, "tags": ["a", "b"]})
    result = Runner.run_sync(agent, "Weather in Paris and Oslo?", config=config)
    assert result.status == "COMPLETED"

    run = the_run(spans)
    assert run.name == "invoke_agent Forecaster" and run.kind is trace.SpanKind.INTERNAL
    attrs = dict(run.attributes or {})
    assert attrs["gen_ai.operation.name"] == "invoke_agent" and attrs["gen_ai.agent.name"] == "Forecaster"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini" and attrs["gen_ai.provider.name"] == "openai"
    assert attrs["server.address"] == "127.0.0.1" and isinstance(attrs["server.port"], int)
    assert attrs["openstackai_nb.run.id"] == "run_otel_parallel" and attrs["openstackai_nb.run.status"] == "COMPLETED"
    assert attrs["openstackai_nb.metadata.team"] == "blue" and attrs["openstackai_nb.metadata.n"] == 3
    assert json.loads(str(attrs["openstackai_nb.metadata.tags"])) == ["a", "b"]
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (60, 16)
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",) and attrs["openstackai_nb.outcome"] == "ok"
    assert run.parent is None and run.status.status_code is trace.StatusCode.UNSET

    first_chat, tool_a, tool_b, second_chat = children(spans, run)
    assert [s.name for s in (first_chat, second_chat)] == ["chat gpt-4o-mini"] * 2
    assert first_chat.kind is trace.SpanKind.CLIENT and {s.context.trace_id for s in spans.get_finished_spans()} == {
        run.context.trace_id
    }
    chat = dict(first_chat.attributes or {})
    assert chat["gen_ai.operation.name"] == "chat" and chat["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat["gen_ai.response.finish_reasons"] == ("tool_calls",) and chat["openstackai_nb.turn"] == 1
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.output_tokens"]) == (20, 10)
    (retry,) = first_chat.events
    assert retry.name == "retry" and retry.attributes is not None and retry.attributes["reason"] == "HTTP 429"
    assert retry.attributes["attempt"] == 1 and first_chat.start_time <= retry.timestamp <= first_chat.end_time
    assert dict(second_chat.attributes or {})["gen_ai.usage.input_tokens"] == 40 and not second_chat.events

    tools = sorted([tool_a, tool_b], key=lambda s: str((s.attributes or {})["gen_ai.tool.call.id"]))
    assert [s.name for s in tools] == ["execute_tool weather"] * 2 and tools[0].kind is trace.SpanKind.INTERNAL
    assert [(s.attributes or {})["gen_ai.tool.call.id"] for s in tools] == ["call_a", "call_b"]
    for span in tools:
        tool_attrs = dict(span.attributes or {})
        assert tool_attrs["gen_ai.tool.name"] == "weather" and tool_attrs["gen_ai.tool.type"] == "function"
        assert tool_attrs["gen_ai.tool.description"] == "The weather in a city."
        assert tool_attrs["openstackai_nb.outcome"] == "ok" and "gen_ai.tool.call.arguments" not in tool_attrs
    a, b = tools  # side by side: each started before the other ended
    assert a.start_time < b.end_time and b.start_time < a.end_time  # type: ignore[operator]
    # One source, two outputs: the result's trace has the same model and tool spans.
    assert sorted(s.name for s in result.trace if s.kind != "turn") == sorted(["gpt-4o-mini"] * 2 + ["weather"] * 2)
    assert not any(k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system")) for k in attrs)  # no content


def test_a_tool_timeout_is_an_error_of_type_timeout(spans: InMemorySpanExporter) -> None:
    async def hang(x: int) -> str:
        """Never return."""
        await asyncio.sleep(30)
        return "late"

    def model(messages: list[Message], info: AgentInfo) -> Reply:
        return Reply(tool_calls=[call("hang", x=1)])

    agent = Agent(name="Slow", tools=[hang], model=FunctionModel(model, name="caller"))
    with pytest.raises(RunTimeoutError):
        Runner.run_sync(agent, "go", config=RunConfig(timeout_per_turn=0.3))
    run = the_run(spans)
    assert run.status.status_code is trace.StatusCode.ERROR and "timeout_per_turn=0.3s exceeded" in str(
        run.status.description
    )
    assert (run.attributes or {})["error.type"] == "timeout" and (run.attributes or {})[
        "openstackai_nb.outcome"
    ] == "timeout"
    assert (run.attributes or {})["gen_ai.provider.name"] == "openstackai_nb"  # an offline model
    chat, tool = children(spans, run)
    assert chat.name == "chat caller" and chat.status.status_code is trace.StatusCode.UNSET
    assert tool.name == "execute_tool hang" and tool.status.status_code is trace.StatusCode.ERROR
    assert (tool.attributes or {})["error.type"] == "timeout" and (tool.attributes or {})[
        "openstackai_nb.outcome"
    ] == "timeout"
    assert "did not return within timeout_per_turn" in str(tool.status.description)


def test_a_model_cut_off_by_the_time_limit_is_a_timeout_not_a_cancellation(
    openai_server: OpenAIServer, spans: InMemorySpanExporter
) -> None:
    stalled = text_stream("one two three four")
    openai_server.script(HTTPReply(headers=stalled.headers, chunks=stalled.chunks, end="stall", end_after=2))
    with pytest.raises(RunTimeoutError):
        Runner.run_sync(Agent(name="M", model="gpt-4o-mini"), "hi", config=RunConfig(timeout_per_turn=0.5))
    run = the_run(spans)
    (chat,) = children(spans, run)
    assert (chat.attributes or {})["error.type"] == "timeout" and chat.status.status_code is trace.StatusCode.ERROR
    assert (run.attributes or {})["error.type"] == "timeout"


def test_a_model_error_carries_its_http_status(openai_server: OpenAIServer, spans: InMemorySpanExporter) -> None:
    openai_server.script(error(400, "bad request"))
    result = Runner.run_sync(Agent(name="M", model="gpt-4o-mini"), "hi")
    assert result.status == "FAILED"
    run = the_run(spans)
    (chat,) = children(spans, run)
    assert (chat.attributes or {})["error.type"] == "400" and (run.attributes or {})["error.type"] == "400"
    assert (
        "HTTP 400" in str(chat.status.description) and (run.attributes or {})["openstackai_nb.run.status"] == "FAILED"
    )


def test_a_cancelled_run_ends_its_spans_cancelled(spans: InMemorySpanExporter) -> None:
    started = asyncio.Event()

    async def wait_here() -> str:
        """Wait until cancelled."""
        started.set()
        await asyncio.sleep(30)
        return "never"

    agent = Agent(name="C", tools=[wait_here], model=FunctionModel(lambda m, i: Reply(tool_calls=[call("wait_here")])))

    async def main() -> None:
        task = asyncio.ensure_future(Runner.run_async(agent, "go"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    arun(main())
    run = the_run(spans)
    assert (run.attributes or {})["error.type"] == "cancelled" and (run.attributes or {})[
        "openstackai_nb.run.status"
    ] == "CANCELLED"
    _, tool = children(spans, run)
    assert (tool.attributes or {})["openstackai_nb.outcome"] == "cancelled" and (tool.attributes or {})[
        "error.type"
    ] == "cancelled"


def test_a_tool_error_and_the_tools_own_spans(provider: TracerProvider, spans: InMemorySpanExporter) -> None:
    def measured(city: str) -> str:
        """A tool that makes its own span (a sync tool: it runs in a tool thread)."""
        with provider.get_tracer("tool").start_as_current_span("inside the tool"):
            return f"measured {city}"

    def broken(city: str) -> str:
        """A tool that raises."""
        raise ValueError(f"no data for {city}")

    def model(messages: list[Message], info: AgentInfo) -> Reply | str:
        if info.turn == 1:
            return Reply(tool_calls=[call("measured", city="Oslo")])
        if info.turn == 2:
            return Reply(tool_calls=[call("broken", city="Oslo")])
        return "done"

    Runner.run_sync(Agent(name="T", tools=[measured, broken], model=FunctionModel(model, name="m")), "go")
    named = by_name(spans)
    (inside,) = named["inside the tool"]
    (measured_span,) = named["execute_tool measured"]
    assert inside.parent is not None and inside.parent.span_id == measured_span.context.span_id
    (broken_span,) = named["execute_tool broken"]
    assert (broken_span.attributes or {})["error.type"] == "tool_error"
    assert "no data for Oslo" in str(broken_span.status.description)
    assert the_run(spans).status.status_code is trace.StatusCode.UNSET  # the run went on and completed


def test_content_only_when_opted_in_and_scrubbed(
    provider: TracerProvider, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_secret(SECRET)

    def echo_key(city: str) -> str:
        """Answer with a key in it."""
        return f"weather for {city}; key={SECRET}"

    def model(messages: list[Message], info: AgentInfo) -> Reply | str:
        if info.turn == 1:
            return Reply(text="Looking.", tool_calls=[call("echo_key", city=f"Paris {SECRET}")], reasoning="Hmm.")
        return f"Done, {SECRET}."

    agent = Agent(name="K", instructions=f"Never say {SECRET}.", tools=[echo_key], model=FunctionModel(model, name="m"))
    Runner.run_sync(agent, f"Weather in Paris? my key is {SECRET}")
    everything = json.dumps([dict(s.attributes or {}) for s in spans.get_finished_spans()], default=list)
    assert "gen_ai.input.messages" not in everything and "gen_ai.tool.call.result" not in everything  # not opted in
    spans.clear()

    monkeypatch.setenv(tracing.CAPTURE_CONTENT_ENV, "true")
    Runner.run_sync(agent, f"Weather in Paris? my key is {SECRET}")
    everything = json.dumps([dict(s.attributes or {}) for s in spans.get_finished_spans()], default=list)
    assert SECRET not in everything and "[REDACTED]" in everything
    run = dict(the_run(spans).attributes or {})
    assert json.loads(str(run["gen_ai.system_instructions"])) == [{"type": "text", "content": "Never say [REDACTED]."}]
    assert json.loads(str(run["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris? my key is [REDACTED]"}]}
    ]
    assert json.loads(str(run["gen_ai.output.messages"]))[0]["parts"][0]["content"] == "Done, [REDACTED]."
    named = by_name(spans)
    first, second = sorted(named["chat m"], key=lambda s: s.start_time or 0)
    output = json.loads(str((first.attributes or {})["gen_ai.output.messages"]))
    assert output[0]["finish_reason"] == "tool_calls"
    assert [p["type"] for p in output[0]["parts"]] == ["reasoning", "text", "tool_call"]
    assert output[0]["parts"][2]["arguments"] == {"city": "Paris [REDACTED]"}
    second_input = json.loads(str((second.attributes or {})["gen_ai.input.messages"]))
    assert [m["role"] for m in second_input] == ["user", "assistant", "tool"]
    assert second_input[2]["parts"][0]["type"] == "tool_call_response"
    (tool,) = named["execute_tool echo_key"]
    tool_attrs = dict(tool.attributes or {})
    assert json.loads(str(tool_attrs["gen_ai.tool.call.arguments"])) == {"city": "Paris [REDACTED]"}
    assert tool_attrs["gen_ai.tool.call.result"] == "weather for Paris [REDACTED]; key=[REDACTED]"

    spans.clear()
    tracing.instrument(provider, capture_content=False)  # the argument wins over the environment
    Runner.run_sync(agent, "again")
    assert "gen_ai.input.messages" not in dict(the_run(spans).attributes or {})


def test_spans_without_the_trace(spans: InMemorySpanExporter) -> None:
    result = Runner.run_sync(Agent(name="S", model="scripted"), "hi", config=RunConfig(trace_enabled=False))
    assert result.trace == [] and sorted(by_name(spans)) == ["chat scripted", "invoke_agent S"]


def test_uninstrument_stops_the_spans(spans: InMemorySpanExporter) -> None:
    tracing.uninstrument()
    Runner.run_sync(Agent(name="S", model="scripted"), "hi")
    assert spans.get_finished_spans() == ()


def test_nothing_without_a_provider_and_the_global_provider_once_set() -> None:
    code = """
import sys
import openstackai_nb
from openstackai_nb import Agent, Runner, tracing
assert "opentelemetry" not in sys.modules and "genai_prices" not in sys.modules, "imported at import time"
agent = Agent(name="G", model="scripted")
Runner.run_sync(agent, "hi")
assert "opentelemetry" not in sys.modules, "a run imported opentelemetry"
from opentelemetry import trace
assert tracing.start_run(agent, agent.get_model(), Runner.run_sync(agent, "hi")) is None  # the API's proxy: nothing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
with trace.get_tracer("app").start_as_current_span("the user's request"):
    Runner.run_sync(agent, "hi")
names = {s.name: s for s in exporter.get_finished_spans()}
assert sorted(names) == ["chat scripted", "invoke_agent G", "the user's request"], sorted(names)
assert names["invoke_agent G"].parent.span_id == names["the user's request"].context.span_id
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
