"""The real HTTP client against the real loopback server: streaming, tools, retries, failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.runner import RunConfig
from tests._aio import arun
from tests._server import DONE, OpenAIServer, Reply, _chunk, error, json_reply, refusing_url, text_stream, tool_stream
from tests._tools import add

KEY = "sk-test-SECRET-0123456789abcdef"


def agent(**kw: object) -> Agent:
    kw.setdefault("model", "gpt-4o-mini")
    return Agent(name="T", instructions="Be brief.", **kw)  # type: ignore[arg-type]


def test_streamed_text(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("Hello there, friend.", usage=(11, 4)))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.COMPLETED
    assert r.final_output == "Hello there, friend."
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (11, 4)
    req = openai_server.requests[0]
    assert req.body["stream"] is True and req.body["model"] == "gpt-4o-mini"
    assert req.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_non_streamed_json(openai_server: OpenAIServer) -> None:
    openai_server.script(json_reply("Plain answer"))
    model = OpenAIChatModel("m", stream=False)
    r = Runner.run_sync(agent(model=model), "Hi")
    assert r.final_output == "Plain answer" and r.usage.prompt_tokens == 12
    assert "stream" not in openai_server.requests[0].body


def test_tool_call_with_argument_deltas_split_across_chunks(openai_server: OpenAIServer) -> None:
    openai_server.script(tool_stream([("c1", "add", {"a": 2, "b": 40})], split=7), text_stream("It is 42."))
    r = Runner.run_sync(agent(tools=[add]), "2+40?")
    assert r.status is RunStatus.COMPLETED and r.final_output == "It is 42."
    assert [(c.name, c.arguments, c.result, c.error) for c in r.tool_calls] == [("add", {"a": 2, "b": 40}, 42, None)]
    second = openai_server.requests[1].messages
    assert second[-2]["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 2, "b": 40}'}
    assert second[-1] == {"role": "tool", "content": "42", "tool_call_id": "c1", "name": "add"}
    assert openai_server.requests[0].body["tools"][0]["function"]["name"] == "add"


def test_parallel_tool_calls_run_concurrently(openai_server: OpenAIServer) -> None:
    both_started = asyncio.Event()
    started: list[str] = []

    async def meet(name: str) -> str:
        """Wait until the other call is running too (deadlocks if calls run one by one)."""
        started.append(name)
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), 5)
        return f"met {name}"

    openai_server.script(
        tool_stream([("c1", "meet", {"name": "x"}), ("c2", "meet", {"name": "y"})]), text_stream("Both met.")
    )

    async def main() -> None:
        r = await Runner.run_async(agent(tools=[meet]), "go")
        assert r.status is RunStatus.COMPLETED, r.error
        assert sorted(c.result for c in r.tool_calls) == ["met x", "met y"]
        msgs = openai_server.requests[1].messages
        assert [m.get("tool_call_id") for m in msgs[-2:]] == ["c1", "c2"]  # answers in request order

    arun(main())


def test_429_retry_after_is_honoured(openai_server: OpenAIServer) -> None:
    openai_server.script(error(429, "slow down", retry_after="0.05"), text_stream("ok"))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.COMPLETED and r.final_output == "ok"
    assert len(openai_server.requests) == 2
    model_span = next(s for s in r.trace if s.kind == "model")
    assert model_span.attributes["retries"] == ["HTTP 429; waited 0.05s"]


def test_500_then_success_and_connection_error_retry(openai_server: OpenAIServer) -> None:
    openai_server.script(error(500), error(503), text_stream("fine"))
    model = OpenAIChatModel("m", backoff=0.01)
    r = Runner.run_sync(agent(model=model), "Hi")
    assert r.final_output == "fine" and len(openai_server.requests) == 3


def test_retries_exhausted_fail_with_status(openai_server: OpenAIServer) -> None:
    openai_server.script(*[error(503, "overloaded")] * 3)
    model = OpenAIChatModel("m", backoff=0.01, max_retries=2)
    r = Runner.run_sync(agent(model=model), "Hi")
    assert r.status is RunStatus.FAILED
    assert "HTTP 503" in (r.error or "") and "overloaded" in (r.error or "")
    assert len(openai_server.requests) == 3


@pytest.mark.parametrize(("status", "hint"), [(400, "model name"), (401, "OPENAI_API_KEY")])
def test_400_and_401_are_not_retried(openai_server: OpenAIServer, status: int, hint: str) -> None:
    # The server echoes the key back in its error body: it must not reach the result.
    openai_server.script(error(status, f"bad request with key {KEY}"))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.FAILED and len(openai_server.requests) == 1
    assert f"HTTP {status}" in (r.error or "") and hint in (r.error or "")
    assert KEY not in r.to_json() and KEY not in repr(r)


def test_connection_dropped_mid_stream(openai_server: OpenAIServer) -> None:
    reply = text_stream("one two three four five six")
    reply.end, reply.end_after = "drop", 4
    openai_server.script(reply)
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.FAILED
    assert "dropped mid-stream" in (r.error or "")
    assert r.final_output == "one two three "  # the partial text is kept


def test_malformed_sse_line(openai_server: OpenAIServer) -> None:
    chunks = [_chunk({"content": "Hel"}), b"data: {not json\n\n", _chunk({}, "stop"), DONE]
    openai_server.script(Reply(headers={"content-type": "text/event-stream"}, chunks=chunks))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.FAILED and "malformed server-sent event" in (r.error or "")


def test_stream_that_just_ends_is_an_error_not_a_truncated_answer(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("cut here", finish=False, done=False, usage=None))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.FAILED
    assert "without finish_reason or [DONE]" in (r.error or "")


def test_stall_mid_answer_hits_timeout_per_turn(openai_server: OpenAIServer) -> None:
    reply = text_stream("partial answer then silence")
    reply.end, reply.end_after = "stall", 3
    openai_server.script(reply)
    t0 = time.monotonic()
    with pytest.raises(RunTimeoutError) as info:
        Runner.run_sync(agent(), "Hi", config=RunConfig(timeout_per_turn=0.5))
    assert time.monotonic() - t0 < 30  # cut off at the limit, not when the server gives up
    assert isinstance(info.value, TimeoutError)
    res = info.value.result
    assert res is not None and res.status is RunStatus.FAILED
    assert res.final_output == "partial answer "
    assert "timeout_per_turn=0.5s exceeded" in str(info.value)


def test_server_slower_than_timeout_per_turn(openai_server: OpenAIServer) -> None:
    reply = text_stream("late")
    reply.delay = 60
    openai_server.script(reply)
    t0 = time.monotonic()
    with pytest.raises(RunTimeoutError, match="timeout_per_turn"):
        Runner.run_sync(agent(), "Hi", config=RunConfig(timeout_per_turn=0.3))
    assert time.monotonic() - t0 < 30


def test_max_time_across_turns(openai_server: OpenAIServer) -> None:
    slow = text_stream("late")
    slow.delay = 60
    openai_server.script(tool_stream([("c1", "add", {"a": 1, "b": 2})]), slow)
    with pytest.raises(RunTimeoutError, match="max_time=0.4s exceeded in turn 2") as info:
        Runner.run_sync(agent(tools=[add]), "Hi", config=RunConfig(max_time=0.4, timeout_per_turn=30))
    assert info.value.result is not None and info.value.result.tool_calls[0].result == 3


def test_a_run_cut_off_while_the_model_is_retried_says_why_it_was_waiting(openai_server: OpenAIServer) -> None:
    slow = text_stream("late")
    slow.delay = 60
    openai_server.script(error(503, "overloaded"), slow)  # the retry is still waiting when max_time ends the run
    model = OpenAIChatModel("m", backoff=0.01)
    with pytest.raises(RunTimeoutError) as info:
        Runner.run_sync(agent(model=model), "Hi", config=RunConfig(max_time=0.5))
    assert (
        "max_time=0.5s exceeded in turn 1 while waiting for the model (m), retried 1 time (last: HTTP 503; waited"
        in str(info.value)
    )
    assert len(openai_server.requests) == 2


def test_unknown_tool_is_reported_to_the_model(openai_server: OpenAIServer) -> None:
    openai_server.script(tool_stream([("c1", "delete_everything", {})]), text_stream("Sorry."))
    r = Runner.run_sync(agent(tools=[add]), "Hi")
    assert r.status is RunStatus.COMPLETED and r.final_output == "Sorry."
    assert r.tool_calls[0].error == "unknown tool 'delete_everything': this agent offers add"
    tool_msg = openai_server.requests[1].messages[-1]
    assert tool_msg["content"].startswith("Error: unknown tool 'delete_everything'")


def test_bad_tool_arguments_go_back_to_the_model(openai_server: OpenAIServer) -> None:
    openai_server.script(tool_stream([("c1", "add", {"a": "two", "b": 2})]), text_stream("Oops."))
    r = Runner.run_sync(agent(tools=[add]), "Hi")
    assert r.status is RunStatus.COMPLETED
    err = r.tool_calls[0].error or ""
    assert "invalid arguments for add" in err and "a:" in err
    assert "Error: invalid arguments for add" in openai_server.requests[1].messages[-1]["content"]


def test_tool_that_raises(openai_server: OpenAIServer) -> None:
    def boom(x: int) -> int:
        """Always fails."""
        raise RuntimeError("disk on fire")

    openai_server.script(tool_stream([("c1", "boom", {"x": 1})]), text_stream("Tool failed."))
    r = Runner.run_sync(agent(tools=[boom]), "Hi")
    assert r.status is RunStatus.COMPLETED
    assert r.tool_calls[0].error == "tool 'boom' raised RuntimeError: disk on fire"

    openai_server.script(tool_stream([("c1", "boom", {"x": 1})]))
    r = Runner.run_sync(agent(tools=[boom]), "Hi", config=RunConfig(stop_on_tool_error=True))
    assert r.status is RunStatus.FAILED and "disk on fire" in (r.error or "")
    assert "stop_on_tool_error=True" in (r.error or "")


def test_model_that_loops_on_tool_calls_hits_max_turns(openai_server: OpenAIServer) -> None:
    openai_server.handler = lambda req: tool_stream([("c", "add", {"a": 1, "b": 1})])
    r = Runner.run_sync(agent(tools=[add]), "loop", config=RunConfig(max_turns=3))
    assert r.status is RunStatus.FAILED and r.turn_count == 3
    assert (r.error or "").startswith("max_turns=3 reached without a final answer")
    assert len(r.tool_calls) == 3


def test_cancellation_ends_cancelled_and_leaks_nothing(openai_server: OpenAIServer) -> None:
    import openstackai_nb

    slow = text_stream("a b c d e f g h i j", chunk_delay=0.2)
    openai_server.script(slow, text_stream("after"))

    async def main() -> None:
        seen: list[str] = []

        async def consume() -> None:
            async for delta in Runner.run_stream(agent(), "Hi", config=RunConfig(run_id="run_cancel_me")):
                seen.append(delta)

        task = asyncio.create_task(consume())
        while len(seen) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert asyncio.all_tasks() == {asyncio.current_task()}  # no task left behind
        # The pooled connection is usable: the next run on this loop works.
        r = await Runner.run_async(agent(), "again")
        assert r.final_output == "after"

    arun(main())
    cancelled = next(r for r in openstackai_nb.history if r.run_id == "run_cancel_me")
    assert cancelled.status is RunStatus.CANCELLED
    assert cancelled.final_output and cancelled.final_output.startswith("a b")


def test_200_concurrent_runs(openai_server: OpenAIServer) -> None:
    async def main() -> None:
        a = agent(tools=[add])
        results = await asyncio.gather(*(Runner.run_async(a, f"q{i}") for i in range(200)))
        assert all(r.status is RunStatus.COMPLETED for r in results), {r.error for r in results}
        assert len({r.run_id for r in results}) == 200
        assert all(r.turn_count == 2 and len(r.tool_calls) == 1 for r in results)

    arun(main())
    assert len(openai_server.requests) == 400


def test_key_never_in_result_logs_or_errors(openai_server: OpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    openai_server.script(tool_stream([("c1", "add", {"a": 1, "b": 2})]), error(401, f"invalid key {KEY}"))
    with caplog.at_level(logging.INFO, logger="openstackai_nb"):
        r = Runner.run_sync(agent(tools=[add]), "Hi", config=RunConfig(verbose=True))
    assert r.status is RunStatus.FAILED
    dumped = json.dumps(r.to_dict()) + repr(r) + r.to_json() + caplog.text + str(r.error)
    assert KEY not in dumped and "Bearer" not in dumped
    assert "tool 'add' turn=1 ok" in caplog.text  # verbose logs the spans


def test_unreachable_endpoint_retries_then_fails_clearly() -> None:
    with refusing_url() as url:
        model = OpenAIChatModel("m", base_url=url, backoff=0.01, max_retries=2)
        r = Runner.run_sync(agent(model=model), "Hi")
    assert r.status is RunStatus.FAILED
    assert f"could not reach {url}" in (r.error or "")
    model_span = next(s for s in r.trace if s.kind == "model")
    retries = model_span.attributes["retries"]
    assert len(retries) == 2  # each says where it could not connect (a run cut off while retrying shows it)
    assert all(x.startswith(f"could not reach {url}: connection error: ") for x in retries)


def test_retry_after_longer_than_the_time_left_is_not_slept(openai_server: OpenAIServer) -> None:
    openai_server.script(error(429, "later", retry_after="120"))
    t0 = time.monotonic()
    r = Runner.run_sync(agent(), "Hi", config=RunConfig(timeout_per_turn=5))
    assert time.monotonic() - t0 < 5
    assert r.status is RunStatus.FAILED and "would pass the run's time limit" in (r.error or "")


def test_retry_after_as_http_date(openai_server: OpenAIServer) -> None:
    from email.utils import formatdate

    openai_server.script(error(503, "busy", retry_after=formatdate(time.time() - 5, usegmt=True)), text_stream("ok"))
    assert Runner.run_sync(agent(), "Hi").final_output == "ok"


def test_a_new_event_loop_gets_its_own_client(openai_server: OpenAIServer) -> None:
    from openstackai_nb.models import _http

    a = agent()
    clients = []

    async def one() -> None:
        await Runner.run_async(a, "Hi")
        async with _http.lease() as client:  # the loop's first (warm) client
            clients.append(client)

    arun(one())
    arun(one())
    assert clients[0] is not clients[1] and clients[0].is_closed


def test_requests_fill_one_pooled_client_before_the_next() -> None:
    from openstackai_nb.models import _http

    async def main() -> tuple[list[int], list[int]]:
        one_by_one = []
        for _ in range(3):  # a notebook's sequential runs: always the first, warm client
            async with _http.lease() as client:
                one_by_one.append(id(client))
        held: list[int] = []
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(_http._FILL * 2 + 1):  # concurrent requests: _FILL per client
                held.append(id(await stack.enter_async_context(_http.lease())))
        return one_by_one, held

    one_by_one, held = arun(main())
    assert len(set(one_by_one)) == 1
    fill = _http._FILL
    assert held[:fill] == [one_by_one[0]] * fill
    assert len(set(held[fill : 2 * fill])) == 1 and held[fill] != held[0]
    assert held[2 * fill] not in (held[0], held[fill])
