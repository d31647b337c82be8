"""A secret by any common name, and a key in a base URL's query string, reach no output (the bytes are searched)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from openstackai_nb import Agent, RunConfig, Runner, RunStatus, render, tracing
from openstackai_nb.errors import ModelHTTPError
from openstackai_nb.models import ModelRequestParameters, replay
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.report import write_report
from openstackai_nb.store import RunHistory
from tests._server import OpenAIServer, error, text_stream, tool_stream

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
QUERY_KEY = "qk-7f3a9c2e5b1d8f6a"
FORBIDDEN = [AWS_SECRET, "bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"]


def read_aws_credentials(profile: str) -> str:
    """Return the credentials of a profile (a tool that says too much).

    Args:
        profile: the profile's name.
    """
    import os

    return f"profile {profile}: secret {os.environ['AWS_SECRET_ACCESS_KEY']}"


def assert_free(what: str, data: str | bytes, forbidden: list[str] = FORBIDDEN) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for needle in forbidden:
        assert needle not in text, f"{needle!r} found in {what}"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(provider)
    yield exporter
    tracing.instrument()
    provider.shutdown()


@pytest.fixture(autouse=True)
def _no_recording_left() -> Iterator[None]:
    yield
    replay.stop_recording()


def test_a_tool_returning_aws_secret_access_key(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)  # not *_API_KEY, *_TOKEN: only a word part says so
    openai_server.script(
        tool_stream([("call_1", "read_aws_credentials", {"profile": "prod"})]),
        text_stream("", pieces=["The secret is wJalrXUtnFEMI/K7", "MDENG/bPxRfiCYEXAMPLEKEY, keep it safe."]),
    )
    agent = Agent(name="Ops", instructions="", tools=[read_aws_credentials], model="gpt-4o-mini")
    cassette = tmp_path / "ops.cassette.jsonl"
    with replay.recording(cassette):
        result = Runner.run_sync(agent, "what is the prod secret?")
    assert result.status is RunStatus.COMPLETED, result.error
    # the data keeps what the tool returned (so the test means something) ...
    assert AWS_SECRET in str(result.tool_calls[0].result)
    # ... and nothing that leaves shows it
    bundle = render.run_bundle(result)
    for mime, text in bundle.items():
        assert_free(mime, text)
    assert_free("_repr_html_", result._repr_html_())
    assert_free("RunResult repr", repr(result))
    assert_free("ToolCall repr", repr(result.tool_calls[0]) + str(result.tool_calls[0]))
    assert_free("trace html", render.trace_html(result))
    assert_free("trace text", render.trace_text(result))
    assert_free("trace spans", json.dumps([s.model_dump(mode="json") for s in result.trace]))
    assert_free("cassette", cassette.read_bytes())
    assert_free("report", write_report([result], tmp_path / "report.html").read_bytes())
    otel = [
        (s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events])
        for s in spans.get_finished_spans()
    ]
    assert otel and any(name.startswith("execute_tool") for name, _, _ in otel)
    assert_free("OpenTelemetry spans", json.dumps(otel, default=str))

    history = RunHistory(tmp_path / "h.sqlite")
    history.add(result)
    assert_free("export", history.export(tmp_path / "runs.jsonl").read_bytes())
    assert_free("history report", history.to_html(tmp_path / "h.html").read_bytes())
    assert_free("to_dataframe", history.to_dataframe().to_csv())
    calls = history.tool_calls_dataframe()
    assert len(calls) == 1
    assert_free("tool_calls_dataframe", calls.to_csv())
    assert_free("the store file", (tmp_path / "h.sqlite").read_bytes())


def test_a_query_string_key_through_failed_requests(openai_server: OpenAIServer, tmp_path: Path) -> None:
    base = f"{openai_server.url}?api-key={QUERY_KEY}"
    model = OpenAIChatModel("gpt-4o-mini", base_url=base, api_key="not-used-here-123")
    agent = Agent(name="Q", instructions="", model=model)
    history = RunHistory(tmp_path / "h.sqlite")
    for status in (404, 500):
        openai_server.script(*[error(status, f"no such deployment at {base}")] * 4)
        result = Runner.run_sync(agent, "hi", config=RunConfig(max_time=20))
        # the key went out in the URL, as the endpoint wants it
        assert any(QUERY_KEY in r.path for r in openai_server.requests)
        assert result.status is RunStatus.FAILED and result.error
        assert "[REDACTED]" in result.error
        assert_free(f"error {status}", result.error, [QUERY_KEY])
        for mime, text in render.run_bundle(result).items():
            assert_free(f"{status} {mime}", text, [QUERY_KEY])
        history.add(result)
    frame = history.to_dataframe()
    assert frame["endpoint"].notna().all()
    assert_free("endpoint column", frame.to_csv(), [QUERY_KEY])
    assert all("api-key=[REDACTED]" in e for e in frame["endpoint"])
    assert_free("export", history.export(tmp_path / "q.jsonl").read_bytes(), [QUERY_KEY])
    with pytest.raises(ModelHTTPError) as caught:  # the error as raised, outside a run
        import asyncio

        async def call() -> None:
            async for _ in model.stream([], ModelRequestParameters()):
                pass

        openai_server.script(error(404, "gone"))
        asyncio.run(call())
    assert_free("ModelHTTPError", str(caught.value) + repr(caught.value), [QUERY_KEY])


def test_an_unpickled_model_registers_its_query_string_key_in_the_new_process() -> None:
    import pickle
    import subprocess
    import sys

    model = OpenAIChatModel("m", base_url=f"http://127.0.0.1:9/v1?api-key={QUERY_KEY}", api_key="unused-key-1234")
    code = (
        "import pickle, sys\n"
        "from openstackai_nb._secrets import scrub\n"
        "pickle.loads(sys.stdin.buffer.read())\n"
        f"print(scrub('the key {QUERY_KEY} alone'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(model), capture_output=True, check=True, timeout=60
    )
    assert out.stdout.decode().strip() == "the key [REDACTED] alone", out
