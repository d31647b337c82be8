"""What local users hit, as transcripts over the loopback server (from llama.cpp, vLLM and Ollama
docs and users' reports): (a) a server not started for tools, (b) tool calls written as text,
(c) a prompt cut by a small context window, (d) arguments as an object or an empty string.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner
from openstackai_nb.errors import ModelHTTPError
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.runner import RunConfig
from tests._aio import arun
from tests._server import DONE, OpenAIServer, Reply, resplit, sse, text_stream
from tests._tools import add

MODEL = "qwen2.5:7b"


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip


def usage(prompt: int, completion: int = 5) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion}}  # fmt: skip


def streamed_text(*pieces: str, prompt: int = 30) -> Reply:
    """An answer whose text arrives in these pieces, tool_calls empty (finish_reason stop)."""
    return sse(
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": p}) for p in pieces),
        chunk({}, "stop"),
        usage(prompt),
        DONE,
    )


def whole_text(text: str, prompt: int = 30) -> Reply:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 9, "total_tokens": prompt + 9}}  # fmt: skip
    return Reply(headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def ollama(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> OpenAIChatModel:
    monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
    return OpenAIChatModel(MODEL, provider="ollama", backoff=0.01, **kw)


# -- (a) a server not started for tools -------------------------------------------------------------
def error_reply(status: int, body: dict[str, Any]) -> Reply:
    return Reply(status=status, headers={"content-type": "application/json"}, body=json.dumps(body).encode())


LLAMACPP_NO_JINJA = error_reply(
    500, {"error": {"code": 500, "message": "tools param requires --jinja flag", "type": "server_error"}}
)
VLLM_OLD = error_reply(
    400,
    {"object": "error", "message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser '
     "to be set", "type": "BadRequestError", "param": None, "code": 400},
)  # fmt: skip
VLLM_NEW = error_reply(
    400,
    {"error": {"message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
               "type": "BadRequestError", "param": None, "code": 400}},
)  # fmt: skip
OLLAMA_NO_TOOLS = error_reply(
    400,
    {"error": {"message": "registry.ollama.ai/library/gemma3:4b does not support tools", "type": "api_error",
               "param": None, "code": None}},
)  # fmt: skip


@pytest.mark.parametrize(
    ("prefix", "reply", "flag"),
    [
        ("llamacpp", LLAMACPP_NO_JINJA, "restart llama-server with --jinja"),
        ("vllm", VLLM_OLD, "--enable-auto-tool-choice and --tool-call-parser NAME (hermes"),
        ("vllm", VLLM_NEW, "--enable-auto-tool-choice and --tool-call-parser NAME (hermes"),
        ("ollama", OLLAMA_NO_TOOLS, "pick a model with tools"),
    ],
    ids=["llama.cpp without --jinja (500)", "vLLM, old error shape", "vLLM, new error shape", "Ollama model"],
)
def test_a_server_not_started_for_tools_is_one_clear_error_naming_the_flag(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, prefix: str, reply: Reply, flag: str
) -> None:
    monkeypatch.setenv(f"{prefix.upper()}_BASE_URL", openai_server.url)
    openai_server.script(reply, reply, reply, reply)
    r = Runner.run_sync(Agent(name="T", tools=[add], model=f"{prefix}:m"), "1+1")
    assert r.status is RunStatus.FAILED and r.error is not None
    assert flag in r.error, r.error
    assert len(openai_server.requests) == 1  # not retried, even llama.cpp's 500: retrying cannot help
    assert r.error.count("HTTP") == 1


def test_the_tool_flag_error_is_a_model_http_error_with_its_status(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLAMACPP_BASE_URL", openai_server.url)
    openai_server.script(LLAMACPP_NO_JINJA)

    async def stream() -> BaseException | None:
        try:
            async for _ in Runner.run_stream(Agent(name="T", tools=[add], model="llamacpp:m"), "1+1"):
                pass
        except ModelHTTPError as exc:
            return exc
        return None

    exc = arun(stream())
    assert isinstance(exc, ModelHTTPError) and exc.status_code == 500 and "--jinja" in str(exc)


# -- (b) tool calls written as text --------------------------------------------------------------------
HERMES = '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>'


@pytest.mark.parametrize(
    "framing", ["streamed", "streamed in 1-7 byte pieces", "not streamed"], ids=lambda f: f.replace(" ", "-")
)
@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (HERMES, ""),  # Qwen 2.5 / Hermes through a server without its tool parser
        ("Let me add them.\n" + HERMES, "Let me add them."),
        ('{"name": "add", "arguments": {"a": 2, "b": 3}}', ""),  # a bare JSON call, the whole answer
        ('{"name": "add", "parameters": {"a": 2, "b": 3}}', ""),  # Llama 3.x writes "parameters"
        ('```json\n{"name": "add", "arguments": "{\\"a\\": 2, \\"b\\": 3}"}\n```', ""),  # fenced, arguments as text
        ('[{"name": "add", "arguments": {"a": 2, "b": 3}}]', ""),  # a list of calls
    ],
    ids=["hermes", "words then hermes", "bare json", "llama parameters", "fenced json", "json list"],
)
def test_tool_calls_written_as_text_are_recovered_on_a_local_preset(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, answer: str, shown: str, framing: str
) -> None:
    if framing == "not streamed":
        first = whole_text(answer)
    else:
        pieces = [answer[i : i + 7] for i in range(0, len(answer), 7)]
        first = streamed_text(*pieces)
        if framing != "streamed":
            first = resplit(first)
    openai_server.script(first, text_stream("2 + 3 = 5.") if framing != "not streamed" else whole_text("2 + 3 = 5."))
    model = ollama(openai_server, monkeypatch, stream=framing != "not streamed")
    events: list[Any] = []

    async def collect() -> None:
        async for event in StreamingRunner(Agent(name="H", tools=[add], model=model)).run("2+3?"):
            events.append(event)

    arun(collect())
    r = events[-1].run_result
    assert r.status is RunStatus.COMPLETED, r.error
    assert r.final_output == "2 + 3 = 5."
    (call,) = r.tool_calls
    assert (call.name, call.arguments, call.result, call.parsed_from_text) == ("add", {"a": 2, "b": 3}, 5, True)
    first_turn_text = "".join(e.content for e in events if e.type == "text" and e.turn == 1)
    assert first_turn_text.strip() == shown  # the call's text never reaches the answer or the views
    assert (r.messages[2].content or "").strip() == shown and r.messages[2].tool_calls[0].parsed_from_text
    sent = openai_server.requests[1].messages[2]  # the next request carries the call as a real one
    assert sent["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 2, "b": 3}'}
    assert "parsed_from_text" not in json.dumps(sent)


def test_several_hermes_calls_in_one_answer(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    two = HERMES + '\n<tool_call>\n{"name": "add", "arguments": {"a": 10, "b": 1}}\n</tool_call>'
    openai_server.script(streamed_text(two), text_stream("5 and 11."))
    r = Runner.run_sync(Agent(name="H", tools=[add], model=ollama(openai_server, monkeypatch)), "two sums")
    assert sorted(c.result for c in r.tool_calls) == [5, 11] and all(c.parsed_from_text for c in r.tool_calls)
    assert len({c.call_id for c in r.tool_calls}) == 2


@pytest.mark.parametrize(
    "answer",
    [
        '<tool_call>\n{"name": "delete_everything", "arguments": {}}\n</tool_call>',  # not one of the agent's tools
        '{"name": "Alice", "age": 30}',  # JSON that is an answer, not a call
        "<tool_call>\nnot json at all\n</tool_call>",
        'The format is {"name": "add", "arguments": {...}}: use it.',  # prose that mentions the shape
    ],
    ids=["unknown tool", "json answer", "broken block", "prose"],
)
def test_text_that_is_not_a_call_of_the_agents_tools_stays_text(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    openai_server.script(streamed_text(*[answer[i : i + 5] for i in range(0, len(answer), 5)]))
    r = Runner.run_sync(Agent(name="H", tools=[add], model=ollama(openai_server, monkeypatch)), "hi")
    assert r.status is RunStatus.COMPLETED and r.final_output == answer and r.tool_calls == []


def test_text_streams_as_it_comes_until_a_call_may_start(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai_server.script(streamed_text("Hello ", "there, ", "no tools <tool_", "call> needed", " today."))
    model = ollama(openai_server, monkeypatch)
    pieces: list[str] = []

    async def collect() -> None:
        async for text in Runner.run_stream(Agent(name="H", tools=[add], model=model), "hi"):
            pieces.append(text)

    arun(collect())
    assert pieces[:3] == ["Hello ", "there, ", "no tools "]  # held back only from "<tool_" on
    assert "".join(pieces) == "Hello there, no tools <tool_call> needed today."


def test_real_tool_calls_are_never_second_guessed(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a":1,"b":1}'}}
    openai_server.script(
        sse(chunk({"role": "assistant", "content": HERMES}), chunk({"tool_calls": [call]}), chunk({}, "tool_calls"),
            DONE),
        text_stream("2."),
    )  # fmt: skip
    r = Runner.run_sync(Agent(name="H", tools=[add], model=ollama(openai_server, monkeypatch)), "1+1")
    assert [(c.call_id, c.parsed_from_text) for c in r.tool_calls] == [("call_1", False)]
    assert r.messages[2].content == HERMES


def test_elsewhere_recovery_is_an_option(openai_server: OpenAIServer) -> None:
    openai_server.script(streamed_text(HERMES))
    r = Runner.run_sync(Agent(name="H", tools=[add], model=OpenAIChatModel(MODEL)), "2+3")
    assert r.final_output == HERMES and r.tool_calls == []  # off by default for the OpenAI provider
    openai_server.script(streamed_text(HERMES), text_stream("5."))
    model = OpenAIChatModel(MODEL, parse_text_tool_calls=True)
    r = Runner.run_sync(Agent(name="H", tools=[add], model=model), "2+3")
    assert r.final_output == "5." and r.tool_calls[0].parsed_from_text


def test_an_agent_without_tools_gets_the_text_as_it_is(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai_server.script(streamed_text(HERMES))
    r = Runner.run_sync(Agent(name="H", model=ollama(openai_server, monkeypatch)), "hi")
    assert r.final_output == HERMES and r.tool_calls == []


# -- (c) a prompt cut by a small context window ------------------------------------------------------
LONG = "Summarise this report. " + "The quarterly figures rose in every region. " * 400  # ~18,000 chars


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not streamed"])
def test_a_prompt_cut_by_ollamas_small_context_is_a_warning_on_the_result(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    # Ollama keeps the last num_ctx tokens of a long prompt and reports what the model read
    # (`"truncating input prompt" limit=2048 prompt=3940` in its log only; ollama/ollama#5902).
    openai_server.script(streamed_text("It rose.", prompt=2048) if stream else whole_text("It rose.", prompt=2048))
    r = Runner.run_sync(Agent(name="C", model=ollama(openai_server, monkeypatch, stream=stream)), LONG)
    assert r.status is RunStatus.COMPLETED and r.final_output == "It rose."
    (warning,) = r.warnings
    assert "the prompt was probably cut" in warning and "2,048 prompt tokens" in warning
    assert "num_ctx" in warning and "OLLAMA_CONTEXT_LENGTH" in warning
    assert "warnings=1" in repr(r)
    assert RunResultRoundTrip(r)


def RunResultRoundTrip(r: Any) -> bool:  # noqa: N802 - reads as a claim
    from openstackai_nb.runner import RunResult

    return RunResult.from_dict(r.to_dict()).warnings == r.warnings


@pytest.mark.parametrize(
    ("prefix", "advice"),
    [("llamacpp", "-c 16384"), ("vllm", "--max-model-len"), ("lmstudio", "context length")],
)
def test_each_local_server_says_how_to_raise_its_window(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, prefix: str, advice: str
) -> None:
    monkeypatch.setenv(f"{prefix.upper()}_BASE_URL", openai_server.url)
    openai_server.script(streamed_text("ok", prompt=1000))
    r = Runner.run_sync(Agent(name="C", model=f"{prefix}:m"), LONG)
    assert len(r.warnings) == 1 and advice in r.warnings[0]


@pytest.mark.parametrize(
    ("prompt", "reported"),
    [(LONG, 4200), ("Hi " * 2000, 100), (LONG, 0)],
    ids=["read whole (over half the estimate)", "short request (under 2,000 estimated tokens)", "no usage count"],
)
def test_no_warning_when_the_prompt_was_read(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, prompt: str, reported: int
) -> None:
    openai_server.script(streamed_text("ok", prompt=reported))
    r = Runner.run_sync(Agent(name="C", model=ollama(openai_server, monkeypatch)), prompt)
    assert r.status is RunStatus.COMPLETED and r.warnings == []


def test_the_warning_is_said_once_over_turns(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a":1,"b":2}'}}
    cut = sse(chunk({"role": "assistant", "tool_calls": [call]}), chunk({}, "tool_calls"), usage(2048), DONE)
    openai_server.script(cut, streamed_text("3.", prompt=2048))
    r = Runner.run_sync(Agent(name="C", tools=[add], model=ollama(openai_server, monkeypatch)), LONG)
    assert r.status is RunStatus.COMPLETED and len(r.warnings) == 1


# -- (d) arguments as an object or as an empty string -----------------------------------------------
def no_args() -> str:
    """Say hello."""
    return "hello"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not streamed"])
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (add, {"a": 4, "b": 5}, {"a": 4, "b": 5}),  # Ollama sends an object, not JSON text
        (no_args, "", {}),  # some servers send "" for a call without arguments
        (no_args, {}, {}),
        (no_args, None, {}),
    ],
    ids=["object", "empty string", "empty object", "null"],
)
def test_arguments_as_an_object_or_empty_are_normalised(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, tool: Any, arguments: Any, expected: Any,
    stream: bool,
) -> None:  # fmt: skip
    fn = {"name": tool.__name__, "arguments": arguments}
    if stream:
        first = sse(chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "c1", "type": "function",
                                                                "function": fn}]}),
                    chunk({}, "tool_calls"), DONE)  # fmt: skip
    else:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": fn}],
        }
        body = {"id": "x", "object": "chat.completion", "model": MODEL,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}  # fmt: skip
        first = Reply(headers={"content-type": "application/json"}, body=json.dumps(body).encode())
    openai_server.script(first, text_stream("done.") if stream else whole_text("done."))
    model = ollama(openai_server, monkeypatch, stream=stream)
    r = Runner.run_sync(Agent(name="D", tools=[tool], model=model), "go", config=RunConfig(max_turns=3))
    assert r.status is RunStatus.COMPLETED, r.error
    (call,) = r.tool_calls
    assert call.arguments == expected and call.error is None
    sent = openai_server.requests[1].messages[-2]["tool_calls"][0]["function"]["arguments"]
    assert isinstance(sent, str) and json.loads(sent) == expected  # sent back as JSON text
