"""The key of a model request, and the cache's place under a recording cassette."""

from __future__ import annotations

import json
from pathlib import Path

from openstackai_nb import Agent, Runner
from openstackai_nb.messages import Message, OutputSpec, ToolDefinition
from openstackai_nb.models import OpenAIChatModel
from openstackai_nb.models.cached import is_complete, request_key
from openstackai_nb.models.recording import recording
from openstackai_nb.runner import RunConfig
from tests._server import OpenAIServer, text_stream

MESSAGES = [Message(role="system", content="Be brief."), Message(role="user", content="Hi")]


def model(base_url: str = "http://127.0.0.1:1/v1", **kw: object) -> OpenAIChatModel:
    return OpenAIChatModel("gpt-test", base_url=base_url, api_key="sk-test-SECRET-0123456789abcdef", **kw)  # type: ignore[arg-type]


def test_the_key_never_depends_on_the_api_key_nor_on_secret_query_values() -> None:
    a = request_key(model(), MESSAGES, [])
    b = request_key(
        OpenAIChatModel("gpt-test", base_url="http://127.0.0.1:1/v1", api_key="sk-other-key-000000000"), MESSAGES, []
    )
    assert a == b and len(a) == 64
    with_key = model("http://127.0.0.1:1/v1?api-version=1&key=AAAAsecret")
    rotated = model("http://127.0.0.1:1/v1?api-version=1&key=BBBBsecret")
    other_version = model("http://127.0.0.1:1/v1?api-version=2&key=AAAAsecret")
    assert request_key(with_key, MESSAGES, []) == request_key(rotated, MESSAGES, [])
    assert request_key(with_key, MESSAGES, []) != request_key(other_version, MESSAGES, [])


def test_every_part_of_the_request_is_in_the_key() -> None:
    tool = ToolDefinition("f", "F.", {"type": "object", "properties": {}})
    spec = OutputSpec(name="A", schema={"type": "object", "properties": {"x": {"type": "integer"}}})
    base = request_key(model(), MESSAGES, [tool], settings={"temperature": 0}, output=spec, repeat=0)
    variants = [
        request_key(model("http://127.0.0.1:2/v1"), MESSAGES, [tool], settings={"temperature": 0}, output=spec),
        request_key(model(), MESSAGES[1:], [tool], settings={"temperature": 0}, output=spec),
        request_key(model(), MESSAGES, [], settings={"temperature": 0}, output=spec),
        request_key(model(), MESSAGES, [tool], settings={"temperature": 1}, output=spec),
        request_key(model(), MESSAGES, [tool], settings={"temperature": 0}),
        request_key(model(), MESSAGES, [tool], settings={"temperature": 0}, output=spec, repeat=1),
        request_key(model(settings={"seed": 1}), MESSAGES, [tool], settings={"temperature": 0}, output=spec),
        request_key(model(structured="tool"), MESSAGES, [tool], settings={"temperature": 0}, output=spec),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
    # Tool-call ids are renumbered: the same conversation with other ids is the same request.
    from openstackai_nb.messages import ToolCallRequest

    def turn(call_id: str) -> list[Message]:
        call = ToolCallRequest(id=call_id, name="f", arguments="{}")
        return [
            *MESSAGES,
            Message(role="assistant", tool_calls=(call,)),
            Message(role="tool", content="1", tool_call_id=call_id, name="f"),
        ]

    assert request_key(model(), turn("call_abc"), [tool]) == request_key(model(), turn("call_xyz"), [tool])


def test_which_finishes_are_complete() -> None:
    assert is_complete("stop", {}) and is_complete("tool_calls", {})
    assert not is_complete("length", {}) and is_complete("length", {"max_tokens": 5})
    for finish in ("content_filter", "refusal", None, "error"):
        assert not is_complete(finish, {"max_tokens": 5})


def test_a_hit_is_recorded_in_a_cassette_too(openai_server: OpenAIServer, tmp_path: Path) -> None:
    agent = Agent(name="R", model=OpenAIChatModel("gpt-test", base_url=openai_server.url))
    openai_server.script(text_stream("recorded answer"))
    Runner.run_sync(agent, "rec", config=RunConfig(cache=True))
    cassette = tmp_path / "c.jsonl"
    with recording(cassette):
        hit = Runner.run_sync(agent, "rec", config=RunConfig(cache=True))
    assert hit.cached_calls == 1 and len(openai_server.requests) == 1
    entries = [json.loads(line) for line in cassette.read_text().splitlines()]
    exchanges = [e for e in entries if e["type"] == "exchange"]
    assert len(exchanges) == 1  # the replayed answer is in the cassette: it replays the whole run
    assert "".join(d["text"] for d in exchanges[0]["deltas"] if d["kind"] == "text") == "recorded answer"
