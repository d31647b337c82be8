"""Typed answers over real HTTP (the loopback server): how each endpoint is asked, and what comes back.

`response_format` json_schema where the endpoint has structured outputs (OpenAI, Azure, the local
presets), the final-answer tool elsewhere (OpenRouter, `structured="tool"`), the schema in the
system message with `structured=None`; invalid answers sent back with their errors, never-valid
answers, every output_type kind, streaming, and record/replay of a typed run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import FINAL_ANSWER_TOOL
from openstackai_nb.models import replay
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.runner import RunConfig
from tests._aio import arun
from tests._server import OpenAIServer, text_stream, tool_stream
from tests._tools import add

KEY = "sk-test-SECRET-0123456789abcdef"


class City(BaseModel):
    """A city and its population."""

    name: str
    population: int


class Loose(BaseModel):
    name: str
    nickname: str | None = None


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Person(TypedDict):
    name: str
    age: int


PARIS = {"name": "Paris", "population": 2102650}


def typed(output_type: Any = City, **kw: Any) -> Agent:
    kw.setdefault("model", "gpt-4o-mini")
    return Agent(name="T", instructions="Be brief.", output_type=output_type, **kw)


def final_call(arguments: dict[str, Any], call_id: str = "c1") -> Any:
    return tool_stream([(call_id, FINAL_ANSWER_TOOL, arguments)])


# -- what is asked ------------------------------------------------------------------------------------
def test_openai_is_asked_with_a_strict_json_schema_response_format(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream(json.dumps(PARIS)))
    result = Runner.run_sync(typed(), "Largest city of France?")
    assert result.status is RunStatus.COMPLETED and result.final_output == City(**PARIS)
    body = openai_server.requests[0].body
    assert "tools" not in body and "tool_choice" not in body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "City",
            "strict": True,
            "description": "A city and its population.",
            "schema": {
                "description": "A city and its population.",
                "properties": {
                    "name": {"title": "Name", "type": "string"},
                    "population": {"title": "Population", "type": "integer"},
                },
                "required": ["name", "population"],
                "title": "City",
                "type": "object",
                "additionalProperties": False,
            },
        },
    }
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}  # nothing added to the instructions


def test_a_schema_strict_mode_refuses_is_sent_not_strict(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream('{"name": "Bob"}'))
    result = Runner.run_sync(typed(Loose), "Who?")
    assert result.final_output == Loose(name="Bob")
    asked = openai_server.requests[0].body["response_format"]["json_schema"]
    assert asked["strict"] is False and "additionalProperties" not in asked["schema"]


def test_a_value_that_is_not_an_object_is_asked_for_wrapped(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream('{"response": [1, 2, 3]}'))
    result = Runner.run_sync(typed(list[int]), "Three numbers")
    assert result.final_output == [1, 2, 3]
    schema = openai_server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert schema["properties"] == {"response": {"items": {"type": "integer"}, "type": "array"}}
    assert schema["required"] == ["response"] and schema["additionalProperties"] is False


def test_structured_tool_offers_the_final_answer_tool_and_requires_a_call(openai_server: OpenAIServer) -> None:
    openai_server.script(tool_stream([("c1", "add", {"a": 2, "b": 3})]), final_call(PARIS, "c2"))
    model = OpenAIChatModel("m", structured="tool")
    result = Runner.run_sync(typed(model=model, tools=[add]), "Largest city of France?")
    assert result.status is RunStatus.COMPLETED and result.final_output == City(**PARIS)
    assert [c.name for c in result.tool_calls] == ["add"] and result.output_text == json.dumps(PARIS)
    for request in openai_server.requests:
        body = request.body
        assert "response_format" not in body and body["tool_choice"] == "required"
        names = [t["function"]["name"] for t in body["tools"]]
        assert names == ["add", FINAL_ANSWER_TOOL]
        final = body["tools"][1]["function"]
        assert final["parameters"]["required"] == ["name", "population"]
        assert "A city and its population." in final["description"]


def test_structured_none_states_the_schema_in_the_system_message(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("```json\n" + json.dumps(PARIS) + "\n```"))
    result = Runner.run_sync(typed(model=OpenAIChatModel("m", structured=None)), "Largest city of France?")
    assert result.final_output == City(**PARIS)
    body = openai_server.requests[0].body
    assert "response_format" not in body and "tools" not in body
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be brief.\n\nAnswer with one JSON object")
    assert '"population":{"title":"Population","type":"integer"}' in system["content"]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


LOCAL_PRESETS = [
    ("ollama", "OLLAMA_BASE_URL"),
    ("vllm", "VLLM_BASE_URL"),
    ("llamacpp", "LLAMACPP_BASE_URL"),
    ("lmstudio", "LMSTUDIO_BASE_URL"),
]


@pytest.mark.parametrize(("prefix", "env"), LOCAL_PRESETS)
def test_local_presets_ask_with_response_format(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, prefix: str, env: str
) -> None:
    monkeypatch.setenv(env, openai_server.url)
    openai_server.script(text_stream(json.dumps(PARIS)))
    result = Runner.run_sync(typed(model=f"{prefix}:some-model"), "Largest city of France?")
    assert result.final_output == City(**PARIS)
    body = openai_server.requests[0].body
    assert body["response_format"]["json_schema"]["name"] == "City" and "tools" not in body


def test_openrouter_asks_through_the_final_answer_tool(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_BASE_URL", openai_server.url)
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    openai_server.script(final_call(PARIS))
    result = Runner.run_sync(typed(model="openrouter:some/model"), "Largest city of France?")
    assert result.final_output == City(**PARIS)
    body = openai_server.requests[0].body
    assert body["tool_choice"] == "required" and body["tools"][0]["function"]["name"] == FINAL_ANSWER_TOOL
    assert "response_format" not in body


def test_azure_asks_with_response_format(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream(json.dumps(PARIS)))
    model = OpenAIChatModel.azure("dep", endpoint=openai_server.url.removesuffix("/v1"), api_key=KEY)
    result = Runner.run_sync(typed(model=model), "Largest city of France?")
    assert result.final_output == City(**PARIS) and "response_format" in openai_server.requests[0].body


def test_explicit_settings_win_and_text_agents_send_nothing_new(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream(json.dumps(PARIS)), text_stream("plain"))
    Runner.run_sync(typed(model_settings={"response_format": {"type": "json_object"}}), "Largest city?")
    assert openai_server.requests[0].body["response_format"] == {"type": "json_object"}
    assert Runner.run_sync(Agent(name="Plain", model="gpt-4o-mini"), "hi").final_output == "plain"
    body = openai_server.requests[1].body
    assert not {"response_format", "tool_choice", "tools"} & set(body)


def test_structured_takes_only_the_known_modes() -> None:
    with pytest.raises(ConfigError, match="structured must be 'json_schema', 'tool' or None, got 'json'"):
        OpenAIChatModel("m", base_url="http://127.0.0.1:9/v1", structured="json")


# -- invalid answers ------------------------------------------------------------------------------------
def test_invalid_json_then_valid_json(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream('{"name": "Paris", "population": '), text_stream(json.dumps(PARIS)))
    result = Runner.run_sync(typed(), "Largest city of France?")
    assert result.status is RunStatus.COMPLETED and result.turn_count == 2 and result.final_output == City(**PARIS)
    second = openai_server.requests[1].body
    assert second["messages"][-2] == {"role": "assistant", "content": '{"name": "Paris", "population": '}
    feedback = second["messages"][-1]
    assert feedback["role"] == "user" and "the answer is not valid JSON" in feedback["content"]
    assert "response_format" in second  # still asked the same way


def test_an_invalid_final_answer_call_gets_the_errors_as_its_tool_result(openai_server: OpenAIServer) -> None:
    openai_server.script(final_call({"name": "Paris", "population": "big"}), final_call(PARIS, "c2"))
    result = Runner.run_sync(typed(model=OpenAIChatModel("m", structured="tool")), "Largest city of France?")
    assert result.final_output == City(**PARIS) and result.turn_count == 2
    answer = openai_server.requests[1].body["messages"][-1]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "c1" and answer["name"] == FINAL_ANSWER_TOOL
    assert answer["content"].startswith("Error: the final answer does not match City:\n- population: Input should be")


def test_an_answer_that_never_validates_ends_failed_with_the_errors(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream('{"name": 7}'), text_stream('{"name": 7}'))
    result = Runner.run_sync(typed(), "Largest city of France?", config=RunConfig(max_turns=2))
    assert result.status is RunStatus.FAILED and len(openai_server.requests) == 2
    assert result.error is not None and result.error.startswith("max_turns=2 reached without a valid answer")
    assert "- name: Input should be a valid string (got 7)" in result.error
    assert "- population: Field required" in result.error


# -- every kind, streaming ---------------------------------------------------------------------------------
KINDS = [
    (City, PARIS, City(**PARIS)),
    (Point, {"x": 1, "y": 2}, Point(1, 2)),
    (Person, {"name": "Ada", "age": 36}, {"name": "Ada", "age": 36}),
    (int, {"response": 42}, 42),
    (list[str], {"response": ["a", "b"]}, ["a", "b"]),
]


@pytest.mark.parametrize("structured", ["json_schema", "tool"])
@pytest.mark.parametrize(("output_type", "wire", "expected"), KINDS, ids=lambda v: getattr(v, "__name__", None))
def test_each_output_type_kind(
    openai_server: OpenAIServer, structured: str, output_type: Any, wire: dict[str, Any], expected: Any
) -> None:
    openai_server.script(text_stream(json.dumps(wire)) if structured == "json_schema" else final_call(wire))
    result = Runner.run_sync(typed(output_type, model=OpenAIChatModel("m", structured=structured)), "go")
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.final_output == expected and type(result.final_output) is type(expected)
    body = openai_server.requests[0].body
    schema = (
        body["response_format"]["json_schema"]["schema"]
        if structured == "json_schema"
        else body["tools"][0]["function"]["parameters"]
    )
    assert schema["type"] == "object"


def test_streaming_with_an_output_type_streams_the_json_text(openai_server: OpenAIServer) -> None:
    text = json.dumps(PARIS)
    openai_server.script(text_stream(text, pieces=[text[i : i + 5] for i in range(0, len(text), 5)]))

    async def main() -> list[str]:
        return [chunk async for chunk in Runner.run_stream(typed(), "Largest city of France?")]

    chunks = arun(main())
    assert len(chunks) > 3 and "".join(chunks) == text


# -- record and replay -------------------------------------------------------------------------------------
def test_a_typed_run_records_and_replays_offline(openai_server: OpenAIServer, tmp_path: Path) -> None:
    cassette = tmp_path / "typed.jsonl"
    openai_server.script(final_call({"name": "Paris", "population": "big"}), final_call(PARIS, "c2"))
    model = OpenAIChatModel("m", structured="tool")
    with replay.recording(cassette):
        recorded = Runner.run_sync(typed(model=model), "Largest city of France?")
    replayed = Runner.run_sync(typed(model=f"replay:{cassette}"), "Largest city of France?")
    assert replayed.final_output == recorded.final_output == City(**PARIS) and replayed.turn_count == 2
    plain = Runner.run_sync(Agent(name="T", instructions="Be brief.", model=f"replay:{cassette}"), "Largest city?")
    assert plain.status is RunStatus.FAILED  # a text run is another request: not in the cassette


def test_concurrent_typed_runs(openai_server: OpenAIServer) -> None:
    openai_server.handler = lambda request: text_stream(json.dumps(PARIS))

    async def main() -> list[Any]:
        results = await asyncio.gather(*(Runner.run_async(typed(), f"q{i}") for i in range(5)))
        return [r.final_output for r in results]

    assert arun(main()) == [City(**PARIS)] * 5
