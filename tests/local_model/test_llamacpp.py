"""The public API against a real llama.cpp server and a real model, through the `llamacpp:` preset.

SmolLM2-135M answers fluently and often wrongly: these tests check what the server and our
client do (statuses, finish reasons, usage, streaming, typed answers, errors), never whether the
model is right. Temperature 0 and a fixed seed keep its answers the same from run to run.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from pydantic import BaseModel, Field

from openstackai_nb import Agent, Runner, RunStatus, compare
from openstackai_nb.runner import RunConfig, StreamingRunner
from tests._aio import arun
from tests.local_model._llama import LlamaServer

pytestmark = pytest.mark.local_model

MODEL = "llamacpp:smollm2"
SETTINGS = {"temperature": 0, "seed": 42}


def agent(name: str = "local", *, max_tokens: int = 48, **kwargs: object) -> Agent:
    return Agent(name=name, model=MODEL, model_settings={**SETTINGS, "max_tokens": max_tokens}, **kwargs)  # type: ignore[arg-type]


def test_text_answer_with_usage_and_stop(llamacpp: LlamaServer) -> None:
    r = Runner.run_sync(agent(max_tokens=64), "Say hello in one short sentence.")
    assert r.status is RunStatus.COMPLETED, r.error
    assert isinstance(r.final_output, str) and r.final_output.strip()
    assert r.finish_reason == "stop"
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens < 64
    assert r.model == "smollm2" and r.turn_count == 1


def test_max_tokens_reached_is_length(llamacpp: LlamaServer) -> None:
    r = Runner.run_sync(agent(max_tokens=5), "Write a long story about a dragon who learns to fly.")
    assert r.status is RunStatus.COMPLETED, r.error
    assert r.finish_reason == "length"
    assert r.usage.completion_tokens == 5 and r.final_output


def test_run_stream_and_streaming_runner_stream_several_deltas(llamacpp: LlamaServer) -> None:
    a = agent(max_tokens=24)
    prompt = "List three colours."

    async def main() -> tuple[list[str], list[str], object]:
        deltas = [d async for d in Runner.run_stream(a, prompt)]
        events = [e async for e in StreamingRunner(a).run(prompt)]
        texts = [e.content for e in events if e.type == "text"]
        done = events[-1]
        assert done.type == "done" and done.run_result is not None
        return deltas, texts, done.run_result

    deltas, texts, result = arun(main())
    assert len(deltas) > 3 and len(texts) > 3
    assert result.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    assert "".join(texts) == result.final_output  # type: ignore[attr-defined]
    assert "".join(deltas) == "".join(texts)  # temperature 0, same seed: the same answer


class City(BaseModel):
    """A city and its country (short strings: the grammar bounds them)."""

    name: str = Field(max_length=24)
    country: str = Field(max_length=24)


def test_typed_answer_via_json_schema(llamacpp: LlamaServer) -> None:
    r = Runner.run_sync(agent(max_tokens=64, output_type=City), "Name a city in France.")
    assert r.status is RunStatus.COMPLETED, r.error
    assert isinstance(r.final_output, City)
    assert r.final_output.name and r.final_output.country
    # The schema went to the server as response_format json_schema (the server constrained decoding).
    assert r.output_text and r.output_text.lstrip().startswith("{")


def test_prompt_over_the_context_size_fails_fast_with_the_servers_reason(llamacpp: LlamaServer) -> None:
    per_slot = llamacpp.ctx_size // llamacpp.slots
    prompt = "alpha beta gamma delta " * per_slot  # several tokens per word: well over a slot's context
    r = Runner.run_sync(agent(max_tokens=8), prompt, config=RunConfig(max_time=60))
    assert r.status is RunStatus.FAILED
    assert "HTTP 400" in (r.error or "")
    assert "context size" in (r.error or "")  # llama-server's own words
    model_span = next(s for s in r.trace if s.kind == "model")
    assert not model_span.attributes.get("retries")  # a 400 is not retried


def test_compare_on_the_servers_four_slots(llamacpp: LlamaServer) -> None:
    agents = [
        agent("terse", max_tokens=8, instructions="Be brief."),
        agent(
            "pirate", max_tokens=8, instructions="You are a pirate: answer every question like an old pirate captain."
        ),
    ]
    inputs = ["Hi!", "What is 2 + 2?", "Name a fruit."]
    df = compare(agents=agents, inputs=inputs, concurrency=4, progress=False)
    assert len(df) == 6
    assert list(df["status"]) == ["COMPLETED"] * 6, list(df["error"])
    assert (df["completion_tokens"] > 0).all() and (df["prompt_tokens"] > 0).all()
    assert df["final_output"].str.len().gt(0).all()
    assert set(df["finish_reason"]) <= {"stop", "length"}
    # The instructions reached the model: the longer ones make a longer prompt.
    by_agent = df.groupby("agent")["prompt_tokens"].first()
    assert by_agent["pirate"] > by_agent["terse"]


def _loopback_host_name() -> str | None:
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return None
    return name if infos and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos) else None


@pytest.mark.parametrize("openai_key", [None, "sk-test-other-work-0123456789"])
def test_server_reached_by_host_name(
    llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch, openai_key: str | None
) -> None:
    host = _loopback_host_name()
    if host is None:
        pytest.skip(f"this machine's host name {socket.gethostname()!r} does not resolve to loopback only")
    monkeypatch.setenv("LLAMACPP_BASE_URL", f"http://{host}:{llama_server.port}/v1")
    if openai_key:
        monkeypatch.setenv("OPENAI_API_KEY", openai_key)
    r = Runner.run_sync(agent(max_tokens=8), "Hi!")
    assert r.status is RunStatus.COMPLETED, r.error
    assert r.final_output
