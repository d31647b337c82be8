"""Runs against the loopback server with the response cache: hits, misses, what is never stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import openstackai_nb.cache as cache
from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner, tool
from openstackai_nb.errors import ConfigError
from openstackai_nb.models import OpenAIChatModel
from openstackai_nb.runner import RunConfig
from tests._aio import arun
from tests._server import OpenAIServer, Reply, error, sse, text_stream, tool_stream

ON = RunConfig(cache=True)


def agent(server: OpenAIServer, **kw: Any) -> Agent:
    return Agent(name="C", model=OpenAIChatModel("gpt-test", base_url=server.url, max_retries=0), **kw)


def test_the_same_request_is_answered_from_the_cache(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("Cached hello there"))
    a = agent(openai_server)
    first = Runner.run_sync(a, "hi", config=RunConfig(cache=True))
    second = Runner.run_sync(a, "hi", config=RunConfig(cache=True))
    assert len(openai_server.requests) == 1  # the hit sent no request
    assert first.final_output == second.final_output == "Cached hello there"
    assert (first.cached_calls, second.cached_calls) == (0, 1)
    model_spans = [s for s in second.trace if s.kind == "model"]
    assert [s.attributes["cache_hit"] for s in model_spans] == [True]
    assert [s.attributes["cache_hit"] for s in first.trace if s.kind == "model"] == [False]
    # The hit cost nothing: its original usage is kept apart.
    assert first.usage.prompt_tokens == 10 and first.cached_usage is None
    assert second.usage.prompt_tokens == 0 and second.usage.requests == 0
    assert second.cached_usage is not None and second.cached_usage.prompt_tokens == 10
    assert second.finish_reason == "stop"
    assert RunResult_roundtrip(second)


def RunResult_roundtrip(result: Any) -> bool:  # noqa: N802 - reads as what it checks
    from openstackai_nb.runner import RunResult

    again = RunResult.from_dict(result.to_dict())
    return again == result and again.cached_calls == result.cached_calls


def test_a_run_without_cache_neither_reads_nor_writes(openai_server: OpenAIServer, cache_dir: Path) -> None:
    a = agent(openai_server)
    Runner.run_sync(a, "hi")
    Runner.run_sync(a, "hi", config=RunConfig(cache=False))
    assert len(openai_server.requests) == 2
    assert not (cache_dir / "cache.sqlite").exists()
    result = Runner.run_sync(a, "hi")
    assert "cache_hit" not in next(s for s in result.trace if s.kind == "model").attributes


@pytest.mark.parametrize(
    "change",
    ["base_url", "tool_schema", "setting", "model_setting", "output_schema", "repeat", "model", "message"],
)
def test_each_part_of_the_key_misses_when_it_changes(openai_server: OpenAIServer, change: str) -> None:
    class Answer(BaseModel):
        value: int

    class Other(BaseModel):
        value: str

    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        return q

    @tool
    def lookup2(q: str, n: int = 1) -> str:
        """Look something up."""
        return q

    def make(**over: Any) -> tuple[Agent, str, RunConfig]:
        base_url = over.get("base_url", openai_server.url)
        model = OpenAIChatModel(
            over.get("model", "gpt-test"), base_url=base_url, max_retries=0, settings=over.get("model_settings")
        )
        kw: dict[str, Any] = {"tools": [over.get("tool", lookup)], "model_settings": over.get("settings", {})}
        if "output" in over:
            kw["output_type"] = over["output"]
        metadata = {"repeat": over["repeat"]} if "repeat" in over else {}
        return Agent(name="K", model=model, **kw), over.get("input", "hi"), RunConfig(cache=True, metadata=metadata)

    variants = {
        "base_url": {"base_url": openai_server.url + "/"},  # the same after normalising: below, a real change
        "tool_schema": {"tool": lookup2},
        "setting": {"settings": {"temperature": 0.5}},
        "model_setting": {"model_settings": {"seed": 7}},
        "output_schema": {"output": Other},
        "repeat": {"repeat": 1},
        "model": {"model": "gpt-other"},
        "message": {"input": "hello"},
    }
    base: dict[str, Any] = {"output": Answer} if change == "output_schema" else {}
    openai_server.handler = lambda request: (
        text_stream('{"value": "1"}') if "response_format" in request.body else text_stream("plain answer")
    )
    a, prompt, config = make(**base)
    Runner.run_sync(a, prompt, config=config)
    Runner.run_sync(a, prompt, config=config)
    assert len(openai_server.requests) == 1, "the same request hits"
    if change == "base_url":
        # Another server (the same answers, another base URL): a miss.
        other = OpenAIServer()
        try:
            other.handler = openai_server.handler
            a2, prompt2, config2 = make(base_url=other.url)
            result = Runner.run_sync(a2, prompt2, config=config2)
            assert len(other.requests) == 1 and result.cached_calls == 0
        finally:
            other.close()
        return
    a2, prompt2, config2 = make(**{**base, **variants[change]})
    result = Runner.run_sync(a2, prompt2, config=config2)
    assert result.status is RunStatus.COMPLETED, result.error
    assert len(openai_server.requests) == 2 and result.cached_calls == 0, f"{change} should miss"
    Runner.run_sync(a2, prompt2, config=config2)
    assert len(openai_server.requests) == 2, f"{change}: the changed request hits the second time"


def test_tools_still_run_on_a_hit(openai_server: OpenAIServer) -> None:
    ran: list[str] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        ran.append(f"{a}+{b}")
        return a + b

    a = agent(openai_server, tools=[add])
    for _ in range(2):
        openai_server.script(tool_stream([("call_x", "add", {"a": 2, "b": 3})]), text_stream("It is 5"))
        openai_server.requests.clear()
        result = Runner.run_sync(a, "2+3?", config=ON)
        assert result.final_output == "It is 5"
    assert ran == ["2+3", "2+3"]  # the tool ran both times; only model calls were cached
    assert openai_server.requests == [] and result.cached_calls == 2
    assert [c.name for c in result.tool_calls] == ["add"]


def never_cached_replies() -> dict[str, list[Reply]]:
    dropped = text_stream("half an answer that breaks")
    dropped.end, dropped.end_after = "drop", 3
    no_finish = text_stream("no finish reason", finish=False)
    filtered = sse(
        {"choices": [{"index": 0, "delta": {"content": "I can"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]},
        "data: [DONE]\n\n",
    )
    refused = sse(
        {"choices": [{"index": 0, "delta": {"refusal": "I cannot help with that."}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        "data: [DONE]\n\n",
    )
    length = sse(
        {"choices": [{"index": 0, "delta": {"content": "cut at the"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        "data: [DONE]\n\n",
    )
    return {
        "http_error": [error(400, "bad request")],
        "dropped": [dropped],
        "no_finish": [no_finish],
        "content_filter": [filtered],
        "refusal": [refused],
        "length_without_max_tokens": [length],
    }


@pytest.mark.parametrize("kind", sorted(never_cached_replies()))
def test_incomplete_answers_are_never_cached(openai_server: OpenAIServer, kind: str) -> None:
    a = agent(openai_server)
    openai_server.script(*never_cached_replies()[kind])
    Runner.run_sync(a, "hi", config=ON)
    openai_server.script(text_stream("a full answer"))
    again = Runner.run_sync(a, "hi", config=ON)
    assert len(openai_server.requests) == 2, f"{kind} was served from the cache"
    assert again.final_output == "a full answer" and again.cached_calls == 0
    assert cache.stats().entries == 1  # only the full answer


def test_length_is_cached_when_max_tokens_is_in_the_key(openai_server: OpenAIServer) -> None:
    a = agent(openai_server, model_settings={"max_tokens": 3})
    openai_server.script(never_cached_replies()["length_without_max_tokens"][0])
    first = Runner.run_sync(a, "hi", config=ON)
    second = Runner.run_sync(a, "hi", config=ON)
    assert len(openai_server.requests) == 1
    assert first.finish_reason == second.finish_reason == "length" and second.cached_calls == 1


def test_a_replayed_stream_still_streams(openai_server: OpenAIServer) -> None:
    a = agent(openai_server)
    text = "one two three four five six"
    openai_server.script(text_stream(text))
    Runner.run_sync(a, "stream it", config=ON)

    async def collect() -> list[Any]:
        return [e async for e in StreamingRunner(a).run("stream it", config=ON)]

    events = arun(collect())
    texts = [e.content for e in events if e.type == "text"]
    assert len(texts) == 6 and "".join(texts) == text
    assert events[-1].type == "done" and events[-1].run_result.cached_calls == 1
    chunks = arun(_chunks(a))
    assert len(chunks) == 6 and len(openai_server.requests) == 1


async def _chunks(a: Agent) -> list[str]:
    return [c async for c in Runner.run_stream(a, "stream it", config=ON)]


def test_read_and_write_modes(openai_server: OpenAIServer) -> None:
    a = agent(openai_server)
    openai_server.handler = lambda request: text_stream(f"answer {len(openai_server.requests)}")
    # "read" never stores: two misses.
    Runner.run_sync(a, "q", config=RunConfig(cache="read"))
    Runner.run_sync(a, "q", config=RunConfig(cache="read"))
    assert len(openai_server.requests) == 2 and cache.stats().entries == 0
    # "write" always asks and stores (a refresh); "read" then uses the latest answer.
    w1 = Runner.run_sync(a, "q", config=RunConfig(cache="write"))
    w2 = Runner.run_sync(a, "q", config=RunConfig(cache="write"))
    assert len(openai_server.requests) == 4 and (w1.cached_calls, w2.cached_calls) == (0, 0)
    r = Runner.run_sync(a, "q", config=RunConfig(cache="read"))
    assert len(openai_server.requests) == 4 and r.final_output == w2.final_output == "answer 4"


def test_the_env_var_turns_it_on_when_the_config_leaves_it_unset(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = agent(openai_server)
    monkeypatch.setenv("OPENSTACKAI_NB_CACHE", "1")
    Runner.run_sync(a, "env")
    hit = Runner.run_sync(a, "env")
    assert hit.cached_calls == 1 and len(openai_server.requests) == 1
    off = Runner.run_sync(a, "env", config=RunConfig(cache=False))  # the config wins
    assert off.cached_calls == 0 and len(openai_server.requests) == 2
    monkeypatch.setenv("OPENSTACKAI_NB_CACHE", "read")
    assert Runner.run_sync(a, "env").cached_calls == 1
    monkeypatch.setenv("OPENSTACKAI_NB_CACHE", "maybe")
    with pytest.raises(ConfigError, match="OPENSTACKAI_NB_CACHE='maybe'"):
        Runner.run_sync(a, "env")


def test_config_is_validated() -> None:
    for bad in ("yes", 1, "on", 0):
        with pytest.raises(ConfigError, match="cache="):
            RunConfig(cache=bad)
    for bad_ttl in (0, -1, float("nan"), True):
        with pytest.raises(ConfigError, match="cache_ttl"):
            RunConfig(cache_ttl=bad_ttl)
    assert RunConfig().cache is None and RunConfig(cache="read", cache_ttl=5).cache_ttl == 5


def test_offline_models_are_never_cached() -> None:
    a = Agent(name="S", model="scripted")
    result = Runner.run_sync(a, "hi", config=ON)
    assert result.cached_calls == 0 and "cache_hit" not in result.trace[1].attributes
    assert Runner.run_sync(a, "hi", config=ON).cached_calls == 0
