"""Real providers' answers, replayed by the loopback server: transcripts written from each
provider's public API documentation (OpenAI, Azure OpenAI, Mistral, DeepSeek, OpenRouter,
Ollama, llama.cpp's server), read by the real HTTP client.

Every streamed transcript also runs re-cut into HTTP chunks of 1 to 7 bytes, and with CRLF
line ends (`tests._server.resplit`).
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import openstackai_nb
from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner
from openstackai_nb.errors import ConfigError, ModelError, ModelHTTPError
from openstackai_nb.events import StreamEvent
from openstackai_nb.models import resolve_model
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.render import run_markdown, status_line
from openstackai_nb.runner import RunConfig, RunResult
from tests._aio import arun
from tests._server import DONE, OpenAIServer, Reply, json_reply, resplit, sse, text_stream

MODEL = "provider-model"
FRAMINGS = ["as sent", "1-7 byte pieces", "CRLF, 1-7 byte pieces"]


def frame(reply: Reply, framing: str) -> Reply:
    """The transcript as the server wrote it, or re-cut into small pieces (with CRLF line ends)."""
    if framing == "as sent":
        return reply
    return resplit(reply, crlf=framing.startswith("CRLF"))


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """One `chat.completion.chunk` in OpenAI's documented shape."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": MODEL,
            "system_fingerprint": "fp_44709d6fcb", "choices": [choice], **extra}  # fmt: skip


def completion(message: dict[str, Any], finish: str = "stop") -> Reply:
    """One non-streamed `chat.completion`."""
    body = {"id": "chatcmpl-123", "object": "chat.completion", "created": 1694268190, "model": MODEL,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}  # fmt: skip
    import json

    return Reply(headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def agent(*, stream: bool = True, **kw: Any) -> Agent:
    return Agent(name="P", instructions="Be brief.", model=OpenAIChatModel(MODEL, stream=stream, backoff=0.01, **kw))


def run_events(a: Agent, prompt: str = "Hi", **kw: Any) -> tuple[list[StreamEvent], RunResult]:
    async def main() -> list[StreamEvent]:
        return [e async for e in StreamingRunner(a).run(prompt, **kw)]

    events = arun(main())
    done = events[-1].run_result
    assert events[-1].type == "done" and done is not None
    for e in events:  # only text ever reaches a text event
        assert isinstance(e.content, str), e
    return events, done


def texts(events: list[StreamEvent], kind: str = "text") -> str:
    return "".join(e.content for e in events if e.type == kind)


# -- content parts and the reasoning channel ----------------------------------------------------
MISTRAL_THINKING = sse(
    chunk({"role": "assistant", "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Okay, "}]}]}),
    chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "2+2 is 4."}]}]}),
    chunk({"content": [{"type": "text", "text": "The answer"}]}),
    chunk({"content": " is 4."}),
    chunk({"content": ""}, "stop", usage={"prompt_tokens": 10, "total_tokens": 30, "completion_tokens": 20}),
    DONE,
)
DEEPSEEK_REASONING = sse(
    chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
    chunk({"content": None, "reasoning_content": "9.11 has "}),
    chunk({"content": None, "reasoning_content": "11 hundredths."}),
    chunk({"content": "9.8 is", "reasoning_content": None}),
    chunk({"content": " larger.", "reasoning_content": None}),
    chunk({"content": "", "reasoning_content": None}, "stop"),
    {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [],
        "usage": {
            "prompt_tokens": 13,
            "completion_tokens": 40,
            "total_tokens": 53,
            "completion_tokens_details": {"reasoning_tokens": 30},
        },
    },
    DONE,
)
# OpenRouter, Ollama and Groq (gpt-oss) name the field `reasoning`; OpenRouter adds reasoning_details.
OPENROUTER_REASONING = sse(
    chunk(
        {
            "role": "assistant",
            "content": "",
            "reasoning": "Let me think",
            "reasoning_details": [{"type": "reasoning.text", "text": "Let me think", "format": "unknown", "index": 0}],
        }
    ),
    chunk({"content": "", "reasoning": " about it."}),
    chunk({"content": "Paris."}),
    chunk({}, "stop"),
    DONE,
)


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize(
    ("transcript", "answer", "reasoning"),
    [
        (MISTRAL_THINKING, "The answer is 4.", "Okay, 2+2 is 4."),
        (DEEPSEEK_REASONING, "9.8 is larger.", "9.11 has 11 hundredths."),
        (OPENROUTER_REASONING, "Paris.", "Let me think about it."),
    ],
    ids=["mistral thinking parts", "deepseek reasoning_content", "openrouter/ollama reasoning"],
)
def test_reasoning_is_its_own_channel(
    openai_server: OpenAIServer, framing: str, transcript: Reply, answer: str, reasoning: str
) -> None:
    openai_server.script(frame(transcript, framing))
    events, r = run_events(agent())
    assert r.status is RunStatus.COMPLETED, r.error
    assert r.final_output == answer and texts(events) == answer
    assert r.reasoning == reasoning and texts(events, "reasoning") == reasoning
    assert r.finish_reason == "stop"
    model_span = next(s for s in r.trace if s.kind == "model")
    assert model_span.attributes["reasoning"] == reasoning and model_span.attributes["finish_reason"] == "stop"
    assert RunResult.from_dict(r.to_dict()) == r  # exported with history
    # The reasoning is never sent back as part of the conversation.
    assert [m.content for m in r.messages if m.role == "assistant"] == [answer]


@pytest.mark.parametrize(
    ("message", "answer", "reasoning"),
    [
        (
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": [{"type": "text", "text": "The capital of France..."}]},
                    {"type": "text", "text": "Paris."},
                ],
            },
            "Paris.",
            "The capital of France...",
        ),
        (
            {"role": "assistant", "content": "Paris.", "reasoning_content": "France's capital."},
            "Paris.",
            "France's capital.",
        ),
        ({"role": "assistant", "content": "Paris.", "reasoning": "Capital city."}, "Paris.", "Capital city."),
    ],
    ids=["mistral content parts", "deepseek reasoning_content", "reasoning"],
)
def test_reasoning_in_non_streamed_answers(
    openai_server: OpenAIServer, message: dict[str, Any], answer: str, reasoning: str
) -> None:
    openai_server.script(completion(message))
    r = Runner.run_sync(agent(stream=False), "Capital of France?")
    assert (r.status, r.final_output, r.reasoning, r.finish_reason) == (RunStatus.COMPLETED, answer, reasoning, "stop")


UNREADABLE = [
    (42, "int"),
    ({"text": "a dict, not a list"}, "dict"),
    ([{"type": "image_url", "image_url": {"url": "https://x"}}], "'image_url'"),
    (["ok", 3], "int"),
]


@pytest.mark.parametrize(("content", "seen"), UNREADABLE, ids=["int", "dict", "unknown part", "bad part"])
def test_content_that_is_not_text_fails_the_run_clearly(openai_server: OpenAIServer, content: Any, seen: str) -> None:
    openai_server.script(sse(chunk({"role": "assistant", "content": content}), chunk({}, "stop"), DONE))
    events, r = run_events(agent(), config=RunConfig(run_id=f"run_unreadable_{seen.strip(chr(39))}"))
    assert r.status is RunStatus.FAILED
    assert "choices[0].delta.content" in (r.error or "") and repr(MODEL) in (r.error or "") and seen in (r.error or "")
    assert texts(events) == "" and [e.type for e in events][-2:] == ["error", "done"]
    assert next(h for h in openstackai_nb.history if h.run_id == r.run_id).status is RunStatus.FAILED  # recorded

    openai_server.script(completion({"role": "assistant", "content": content}))
    r = Runner.run_sync(agent(stream=False), "Hi")  # never a bare TypeError
    assert r.status is RunStatus.FAILED and "choices[0].message.content" in (r.error or "")


def test_choices_that_are_not_a_list_say_what_was_expected(openai_server: OpenAIServer) -> None:
    openai_server.script(sse({"id": "x", "object": "chat.completion.chunk", "choices": "none today"}, DONE))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.FAILED and "sent choices as a str ('none today'), not a list of choices" in (
        r.error or ""
    )


@pytest.mark.parametrize("usage", [{"prompt_tokens": "n/a", "completion_tokens": None}, {"prompt_tokens": 1.5e400}, []])
def test_an_odd_usage_object_never_fails_an_answer(openai_server: OpenAIServer, usage: Any) -> None:
    # Token counts are informational: a server that writes them oddly still gets its answer read.
    openai_server.script(sse(chunk({"role": "assistant", "content": "Fine."}), chunk({}, "stop", usage=usage), DONE))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.COMPLETED and r.final_output == "Fine.", r.error
    assert r.usage.prompt_tokens == 0 and r.usage.completion_tokens == 0


# -- refusals, length, content filters ----------------------------------------------------------
OPENAI_REFUSAL = sse(
    chunk({"role": "assistant", "content": None, "refusal": ""}),
    chunk({"refusal": "I'm sorry, "}),
    chunk({"refusal": "I can't assist with that request."}),
    chunk({}, "stop"),
    DONE,
)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_streamed_refusal_is_the_answer(openai_server: OpenAIServer, framing: str) -> None:
    openai_server.script(frame(OPENAI_REFUSAL, framing))
    events, r = run_events(agent())
    refusal = "I'm sorry, I can't assist with that request."
    assert (r.status, r.final_output, r.finish_reason) == (RunStatus.COMPLETED, refusal, "refusal")
    assert texts(events) == refusal
    assert "refused" in run_markdown(r)


def test_non_streamed_refusal(openai_server: OpenAIServer) -> None:
    openai_server.script(completion({"role": "assistant", "content": None, "refusal": "I can't help with that."}))
    r = Runner.run_sync(agent(stream=False), "Hi")
    assert (r.final_output, r.finish_reason) == ("I can't help with that.", "refusal")


# Azure OpenAI: the first chunk has no choices (prompt_filter_results); every chunk carries
# content_filter_results.
AZURE_PROMPT_FILTER = {
    "choices": [], "created": 0, "id": "", "model": "", "object": "",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
        "hate": {"filtered": False, "severity": "safe"}, "self_harm": {"filtered": False, "severity": "safe"},
        "sexual": {"filtered": False, "severity": "safe"}, "violence": {"filtered": False, "severity": "safe"}}}],
}  # fmt: skip


def azure_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"content_filter_results": {}, "delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
    return {"choices": [choice], "created": 1727000000, "id": "chatcmpl-AZ", "model": "gpt-4o-2024-08-06",
            "object": "chat.completion.chunk", "system_fingerprint": "fp_a7d06e42a7"}  # fmt: skip


def azure_stream(finish: str) -> Reply:
    return sse(
        AZURE_PROMPT_FILTER,
        azure_chunk({"content": "", "role": "assistant"}),
        azure_chunk({"content": "Once upon"}),
        azure_chunk({"content": " a time"}),
        azure_chunk({}, finish),
        DONE,
    )


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize(
    ("finish", "words"),
    [("stop", None), ("length", "cut at the token limit"), ("content_filter", "stopped by a content filter")],
)
def test_finish_reasons_are_kept_and_said(
    openai_server: OpenAIServer, framing: str, finish: str, words: str | None
) -> None:
    openai_server.script(frame(azure_stream(finish), framing))
    run_id = f"run_finish_{finish}_{FRAMINGS.index(framing)}"
    r = Runner.run_sync(agent(), "A story", config=RunConfig(run_id=run_id))
    assert (r.status, r.final_output, r.finish_reason) == (RunStatus.COMPLETED, "Once upon a time", finish)
    line = status_line("COMPLETED", finish_reason=r.finish_reason)
    if words:
        assert words in line and words in run_markdown(r) and words in r._repr_html_()
    else:
        assert line == "COMPLETED · 0 turns"
    runs = openstackai_nb.history.to_dataframe().set_index("run_id")
    assert runs.loc[run_id, "finish_reason"] == finish
    turns = openstackai_nb.history.turns_dataframe()
    assert list(turns[turns["run_id"] == run_id]["finish_reason"]) == [finish]


def test_tool_calls_turn_keeps_its_own_finish_reason(openai_server: OpenAIServer) -> None:
    from tests._server import tool_stream
    from tests._tools import add

    openai_server.script(tool_stream([("c1", "add", {"a": 1, "b": 2})]), text_stream("3"))
    r = Runner.run_sync(Agent(name="P", tools=[add], model=OpenAIChatModel(MODEL)), "1+2")
    assert r.finish_reason == "stop"
    assert [s.attributes.get("finish_reason") for s in r.trace if s.kind == "model"] == ["tool_calls", "stop"]


# -- Gemini's OpenAI-compatible tool calls -------------------------------------------------------
# From Google's "OpenAI compatibility" page and the chunks users recorded from it: tool-call deltas
# without `index`, several calls that all say index 0, arguments split across indexless deltas,
# `extra_content.google.thought_signature` that Gemini 3 wants back with the call on the next
# request, and finish_reason "stop" on a turn that called tools.
SIGNATURE = {"google": {"thought_signature": "CiQBcsjafT1Yl0tmb1pZzM2hHTzO"}}


def gemini_call(call_id: str | None, name: str | None, arguments: str, **extra: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"function": {"arguments": arguments}, "type": "function", **extra}
    if call_id:
        call["id"] = call_id
    if name:
        call["function"]["name"] = name
    return call


GEMINI_TOOL_TURNS = {
    "no index, a thought signature": sse(
        chunk({"role": "assistant",
               "tool_calls": [gemini_call("function-call-1", "add", '{"a":1,"b":2}', extra_content=SIGNATURE)]}),
        chunk({}, "stop"),
        DONE,
    ),
    "every call index 0": sse(
        chunk({"role": "assistant",
               "tool_calls": [{"index": 0, **gemini_call("function-call-1", "add", '{"a":1,"b":2}')}]}),
        chunk({"tool_calls": [{"index": 0, **gemini_call("function-call-2", "add", '{"a":3,"b":4}')}]}),
        chunk({}, "stop"),
        DONE,
    ),
    "indexless pieces and a signature alone": sse(
        chunk({"role": "assistant", "tool_calls": [gemini_call("function-call-1", "add", '{"a":1,')]}),
        chunk({"tool_calls": [gemini_call(None, None, '"b":2}')]}),
        chunk({"tool_calls": [{"extra_content": SIGNATURE}]}),
        chunk({}, "stop"),
        DONE,
    ),
}  # fmt: skip


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("name", list(GEMINI_TOOL_TURNS))
def test_gemini_tool_calls_are_read_and_their_signatures_sent_back(
    openai_server: OpenAIServer, framing: str, name: str
) -> None:
    from tests._tools import add

    openai_server.script(frame(GEMINI_TOOL_TURNS[name], framing), text_stream("Done."))
    r = Runner.run_sync(Agent(name="G", tools=[add], model=OpenAIChatModel(MODEL)), "Add them")
    assert r.status is RunStatus.COMPLETED and r.final_output == "Done.", r.error
    calls = [(c.call_id, c.name, c.arguments, c.status) for c in r.tool_calls]
    expected = [("function-call-1", "add", {"a": 1, "b": 2}, "ok")]
    if name == "every call index 0":
        expected.append(("function-call-2", "add", {"a": 3, "b": 4}, "ok"))
    assert sorted(calls) == expected
    sent = next(m for m in openai_server.requests[1].messages if m["role"] == "assistant")
    assert [c["function"]["name"] for c in sent["tool_calls"]] == [c[1] for c in expected]
    if "signature" in name:  # sent back as it came, on the call it came with
        assert sent["tool_calls"][0]["extra_content"] == SIGNATURE
    else:
        assert all("extra_content" not in c for c in sent["tool_calls"])


def test_old_ollama_calls_without_index_or_id_stay_apart(openai_server: OpenAIServer) -> None:
    # Ollama before index support sent each call whole in its own chunk, with neither index nor id
    # (ollama/ollama#7881): two identical calls are two calls, never merged or deduplicated.
    from tests._tools import add

    same = {"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 1}}}  # an object, not text
    openai_server.script(
        sse(chunk({"role": "assistant", "tool_calls": [same]}), chunk({"tool_calls": [same]}), chunk({}, "stop"), DONE),
        text_stream("2 and 2."),
    )
    r = Runner.run_sync(Agent(name="O", tools=[add], model=OpenAIChatModel(MODEL)), "1+1 twice")
    assert r.status is RunStatus.COMPLETED, r.error
    assert [(c.call_id, c.result) for c in sorted(r.tool_calls, key=lambda c: c.call_id)] == [
        ("call_0", 2),
        ("call_1", 2),
    ]


# -- errors inside a stream ---------------------------------------------------------------------
LLAMACPP_ERROR = sse(
    chunk({"role": "assistant", "content": "Hel"}),
    'error: {"code":400,"message":"the request exceeds the available context size, try increasing it",'
    '"type":"exceed_context_size_error","n_prompt_tokens":4100,"n_ctx":4096}\n\n',
)
EVENT_ERROR = sse(
    chunk({"role": "assistant", "content": "Hel"}),
    "event: error\ndata: upstream model overloaded\n\n",
)
EVENT_ERROR_JSON = sse(
    chunk({"role": "assistant", "content": "Hel"}),
    'event: error\ndata: {"error": {"message": "rate limit reached", "type": "server_error"}}\n\n',
)
# OpenRouter's documented mid-stream error: an error object in a chunk, finish_reason "error".
ERROR_OBJECT = sse(
    chunk({"role": "assistant", "content": "Hel"}),
    {
        "id": "cmpl-abc123",
        "object": "chat.completion.chunk",
        "created": 1234567890,
        "model": "gpt-3.5-turbo",
        "provider": "openai",
        "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    },
)
FINISH_ERROR = sse(chunk({"role": "assistant", "content": "Hel"}), chunk({}, "error"), DONE)


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize(
    ("transcript", "message"),
    [
        (LLAMACPP_ERROR, "the request exceeds the available context size"),
        (EVENT_ERROR, "upstream model overloaded"),
        (EVENT_ERROR_JSON, "rate limit reached"),
        (ERROR_OBJECT, "Provider disconnected unexpectedly"),
        (FINISH_ERROR, "finish_reason 'error'"),
    ],
    ids=["llama.cpp error: field", "event: error", "event: error with JSON", "error object", "finish_reason error"],
)
def test_errors_inside_a_stream_fail_the_run(
    openai_server: OpenAIServer, framing: str, transcript: Reply, message: str
) -> None:
    openai_server.script(frame(transcript, framing))
    events, r = run_events(agent())
    assert r.status is RunStatus.FAILED and message in (r.error or "")
    assert "malformed" not in (r.error or "")
    assert r.final_output == "Hel"  # the partial text is kept
    assert [e.type for e in events][-2:] == ["error", "done"]
    assert len(openai_server.requests) == 1  # an error the server reports is not retried


def test_server_error_message_is_scrubbed(openai_server: OpenAIServer) -> None:
    key = "sk-test-SECRET-0123456789abcdef"  # the fixture's key, echoed by a broken server
    openai_server.script(sse(f'error: {{"code":500,"message":"bad key {key}"}}\n\n'))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.FAILED and "bad key" in (r.error or "") and key not in (r.error or "")


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize(
    "transcript",
    [sse(DONE), sse(AZURE_PROMPT_FILTER, DONE)],
    ids=["zero chunks then [DONE]", "only azure's prompt filter chunk"],
)
def test_an_empty_stream_is_a_failure(openai_server: OpenAIServer, framing: str, transcript: Reply) -> None:
    openai_server.script(frame(transcript, framing))
    r = Runner.run_sync(agent(), "Hi")
    assert r.status is RunStatus.FAILED and "the server sent an empty stream" in (r.error or "")
    assert r.final_output is None


@pytest.mark.parametrize("framing", FRAMINGS)
def test_done_ends_the_read_when_the_server_keeps_the_connection_open(
    openai_server: OpenAIServer, framing: str
) -> None:
    reply = text_stream("The whole answer.")
    reply.end = "stall"  # everything, [DONE] included, then silence on an open connection
    openai_server.script(frame(reply, framing), text_stream("Next."))
    a = agent()
    config = RunConfig(timeout_per_turn=20)  # the read must end at [DONE], long before this
    r = Runner.run_sync(a, "Hi", config=config)
    assert (r.status, r.final_output, r.finish_reason) == (RunStatus.COMPLETED, "The whole answer.", "stop")
    assert Runner.run_sync(a, "Again", config=config).final_output == "Next."


# -- run_stream: raises on every fault, or retries before any text ------------------------------
FAULT_FREE = "A fault free answer."


def fault(name: str) -> Reply:
    if name == "drop before the first chunk":
        return Reply(headers={"content-type": "text/event-stream"}, chunks=[], end="drop", end_after=0)
    if name == "ended before any text":
        return sse(chunk({"role": "assistant", "content": ""}))
    if name == "drop mid-answer":
        reply = text_stream("one two three four five")
        reply.end, reply.end_after = "drop", 3
        return reply
    if name == "no finish_reason":
        return text_stream("one two three", finish=False, done=False, usage=None)
    if name == "malformed chunk":
        return sse(chunk({"role": "assistant", "content": "one "}), "data: {not json\n\n", chunk({}, "stop"), DONE)
    raise AssertionError(name)


async def stream_all(a: Agent, **kw: Any) -> tuple[list[str], BaseException | None]:
    chunks: list[str] = []
    try:
        async for piece in Runner.run_stream(a, "Hi", **kw):
            chunks.append(piece)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return chunks, exc
    return chunks, None


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("name", ["drop mid-answer", "no finish_reason", "malformed chunk"])
def test_run_stream_raises_on_a_fault_after_text(openai_server: OpenAIServer, framing: str, name: str) -> None:
    openai_server.script(frame(fault(name), framing), text_stream(FAULT_FREE))
    chunks, exc = arun(stream_all(agent(), config=RunConfig(run_id=f"run_fault_{len(name)}_{len(framing)}")))
    assert isinstance(exc, ModelError), exc
    result = exc.result
    assert result is not None and result.status is RunStatus.FAILED and result.error == str(exc)
    assert chunks and result.final_output == "".join(chunks)  # what was yielded, and nothing more
    assert len(openai_server.requests) == 1  # text was yielded: never retried
    recorded = next(h for h in openstackai_nb.history if h.run_id == result.run_id)
    assert recorded.status is RunStatus.FAILED
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc) and str(again) == str(exc) and again.result == result


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("name", ["drop before the first chunk", "ended before any text"])
def test_run_stream_retries_a_stream_broken_before_any_text(
    openai_server: OpenAIServer, framing: str, name: str
) -> None:
    openai_server.script(frame(fault(name), framing), frame(text_stream(FAULT_FREE), framing))
    chunks, exc = arun(stream_all(agent()))
    assert exc is None and "".join(chunks) == FAULT_FREE
    assert len(openai_server.requests) == 2

    # Without retries left, the same fault raises, having yielded nothing.
    openai_server.script(frame(fault(name), framing))
    chunks, exc = arun(stream_all(agent(max_retries=0)))
    assert chunks == [] and isinstance(exc, ModelError) and exc.result is not None
    assert "after 1 attempt over" in str(exc)


def test_run_stream_raises_http_errors_with_their_status(openai_server: OpenAIServer) -> None:
    from tests._server import error

    openai_server.script(error(400, "bad model"))
    chunks, exc = arun(stream_all(agent()))
    assert chunks == [] and isinstance(exc, ModelHTTPError) and exc.status_code == 400
    assert exc.result is not None and exc.result.status is RunStatus.FAILED


def test_streaming_runner_ends_a_failed_run_with_error_then_done(openai_server: OpenAIServer) -> None:
    openai_server.script(fault("malformed chunk"))
    events, r = run_events(agent())
    assert [e.type for e in events][-2:] == ["error", "done"] and r.status is RunStatus.FAILED


# -- URLs, Azure, credentials -------------------------------------------------------------------
def test_a_query_string_in_the_base_url_is_kept(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("ok"))
    model = OpenAIChatModel(MODEL, base_url=f"{openai_server.url}/?api-version=2024-10-21")
    assert Runner.run_sync(Agent(name="Q", model=model), "Hi").final_output == "ok"
    assert openai_server.requests[0].path == "/v1/chat/completions?api-version=2024-10-21"


def test_azure_preset_url_and_api_key_header(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "azure-key-0123456789abcdef"
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", openai_server.url.removesuffix("/v1") + "/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    openai_server.script(frame(azure_stream("stop"), "as sent"), json_reply("x"))
    r = Runner.run_sync(Agent(name="Az", model="azure:my-gpt4o"), "Hi")
    assert r.status is RunStatus.COMPLETED and r.final_output == "Once upon a time" and r.model == "my-gpt4o"
    request = openai_server.requests[0]
    assert request.path == "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    assert request.headers["api-key"] == key and "authorization" not in request.headers
    assert key not in r.to_json() and key not in repr(resolve_model("azure:my-gpt4o"))


@pytest.mark.parametrize(
    ("missing", "named"),
    [("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_ENDPOINT"), ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")],
)
def test_azure_preset_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, missing: str, named: str) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 20)
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError, match=named):
        resolve_model("azure:dep")


def test_azure_preset_default_api_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 20)
    model = resolve_model("azure:dep")
    assert isinstance(model, OpenAIChatModel)
    assert model._url == "https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21"


PASSWORD = "pw-0123456789-SECRET"


@pytest.mark.parametrize(
    "make",
    [
        lambda url, mp: OpenAIChatModel(MODEL, base_url=url, api_key="k"),
        lambda url, mp: (mp.setenv("OPENAI_BASE_URL", url), OpenAIChatModel(MODEL, api_key="k")),
        lambda url, mp: (mp.setenv("OLLAMA_BASE_URL", url), resolve_model("ollama:llama3.2")),
    ],
    ids=["base_url=", "OPENAI_BASE_URL", "OLLAMA_BASE_URL"],
)
def test_credentials_in_a_base_url_are_refused_and_never_shown(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, make: Callable[..., Any]
) -> None:
    url = openai_server.url.replace("http://", f"http://alice:{PASSWORD}@")
    with pytest.raises(ConfigError) as info:
        make(url, monkeypatch)
    text = str(info.value)
    assert PASSWORD not in text and "alice" not in text and "api_key=" in text
    assert "user name or password" in text
    assert openai_server.requests == []  # nothing was sent, as Basic auth or otherwise


def test_html_error_page_is_its_status_and_title_with_the_attempts(openai_server: OpenAIServer) -> None:
    page = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
            b"</center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n")  # fmt: skip
    html = Reply(status=502, headers={"content-type": "text/html"}, body=page)
    openai_server.script(html, html)
    r = Runner.run_sync(agent(max_retries=1), "Hi")
    error = r.error or ""
    assert r.status is RunStatus.FAILED and "HTTP 502" in error and "'502 Bad Gateway'" in error
    assert "<" not in error and "nginx" not in error
    assert "after 2 attempts over " in error and " s)" in error


def test_connection_error_says_it_was_retried() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = OpenAIChatModel(MODEL, base_url=f"http://127.0.0.1:{port}/v1", backoff=0.01, max_retries=2)
    r = Runner.run_sync(Agent(name="U", model=model), "Hi")
    assert r.status is RunStatus.FAILED and "after 3 attempts over" in (r.error or "")


def test_cancelled_run_stream_still_raises_cancelled(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("a b c d e f g h", chunk_delay=0.2))

    async def main() -> None:
        seen: list[str] = []

        async def consume() -> None:
            async for piece in Runner.run_stream(agent(), "Hi"):
                seen.append(piece)

        task = asyncio.create_task(consume())
        while not seen:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    arun(main())
