"""Typed answers offline: Agent(output_type=...) with the scripted model and FunctionModels.

Every output_type kind, an invalid answer sent back with its errors, an answer that never
validates, the final-answer tool, streaming, the displays and the JSON round trip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from openstackai_nb import Agent, Runner, RunResult, RunStatus, StreamingRunner, render
from openstackai_nb.errors import AgentError, ConfigError, OutputError
from openstackai_nb.messages import FINAL_ANSWER_TOOL, Message
from openstackai_nb.models.function import AgentInfo, FunctionModel, Reply, call
from openstackai_nb.runner import RunConfig
from tests._tools import add


class Line(BaseModel):
    item: str
    qty: int


class Invoice(BaseModel):
    """An invoice read from a text."""

    customer: str
    total: float
    lines: list[Line]
    currency: Literal["EUR", "USD"]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Person(TypedDict):
    name: str
    age: int


class Event(BaseModel):
    title: str
    when: datetime
    note: str | None = None
    tags: list[str] = Field(default_factory=list)


INVOICE = {"customer": "Acme", "total": 12.5, "lines": [{"item": "bolt", "qty": 5}], "currency": "EUR"}


def typed(output_type: Any, fn: Any, **kw: Any) -> Agent:
    return Agent(name="Typed", model=FunctionModel(fn), output_type=output_type, **kw)


# -- each kind --------------------------------------------------------------------------------------
KINDS: list[tuple[Any, str, Any]] = [
    (Invoice, json.dumps(INVOICE), Invoice.model_validate(INVOICE)),
    (Point, '{"x": 1, "y": 2}', Point(1, 2)),
    (Person, '{"name": "Ada", "age": 36}', {"name": "Ada", "age": 36}),
    (int, '{"response": 42}', 42),
    (list[str], '{"response": ["a", "b"]}', ["a", "b"]),
    (Literal["yes", "no"], '{"response": "yes"}', "yes"),
]


@pytest.mark.parametrize(("output_type", "text", "expected"), KINDS, ids=lambda v: getattr(v, "__name__", None))
def test_each_output_type_kind_is_validated_into_final_output(output_type: Any, text: str, expected: Any) -> None:
    seen: list[AgentInfo] = []

    def model(messages: list[Message], info: AgentInfo) -> str:
        seen.append(info)
        return text

    result = Runner.run_sync(typed(output_type, model), "go")
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.final_output == expected and type(result.final_output) is type(expected)
    assert result.output_text == text and result.turn_count == 1
    spec = seen[0].output
    assert spec is not None and spec.schema["type"] == "object"  # the root is an object, wrapped if needed
    assert result.output_schema == Agent(name="x", output_type=output_type).output.schema  # type: ignore[union-attr]


@pytest.mark.parametrize("output_type", [k[0] for k in KINDS] + [Event], ids=lambda v: getattr(v, "__name__", None))
def test_the_scripted_model_answers_with_a_valid_example_of_each_kind(output_type: Any) -> None:
    agent = Agent(name="Scripted", model="scripted", output_type=output_type)
    result = Runner.run_sync(agent, "Invoice from Acme for 3 bolts, total 12.5")
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.turn_count == 1 and result.final_output is not None


def test_the_scripted_example_is_filled_from_the_prompt_and_runs_tools_first() -> None:
    agent = Agent(name="Scripted", model="scripted", output_type=Invoice, tools=[add])
    result = Runner.run_sync(agent, "Invoice from Acme: 5 Bolts, total 12.5, add 2 and 3")
    assert [c.name for c in result.tool_calls] == ["add"] and result.turn_count == 2
    invoice = result.final_output
    assert isinstance(invoice, Invoice)
    assert invoice.customer == "Acme" and invoice.lines[0].item == "Bolts" and invoice.currency in ("EUR", "USD")


def test_a_plain_agent_and_output_type_str_answer_text() -> None:
    for output_type in (None, str):
        result = Runner.run_sync(Agent(name="Plain", model="scripted", output_type=output_type), "Hello")
        assert isinstance(result.final_output, str) and result.output_text == result.final_output
        assert result.output_schema is None and not result.typed


# -- invalid answers ---------------------------------------------------------------------------------
def test_an_invalid_answer_goes_back_with_its_errors_then_a_valid_one_ends_the_run() -> None:
    answers = iter(["Sure! The total is 12.5", '{"customer": "Acme", "total": "lots"}', json.dumps(INVOICE)])
    conversations: list[list[Message]] = []

    def model(messages: list[Message], info: AgentInfo) -> str:
        conversations.append(messages)
        return next(answers)

    result = Runner.run_sync(typed(Invoice, model), "read it")
    assert result.status is RunStatus.COMPLETED and result.turn_count == 3
    assert result.final_output == Invoice.model_validate(INVOICE)
    first_errors = conversations[1][-1]
    assert first_errors.role == "user" and "not valid JSON" in (first_errors.content or "")
    second_errors = conversations[2][-1].content or ""
    assert "- total: Input should be a valid number" in second_errors and "(got 'lots')" in second_errors
    assert "- lines: Field required" in second_errors and "Invoice" in second_errors


def test_a_function_model_counts_a_retry_as_the_next_turn() -> None:
    turns: list[int] = []

    def model(messages: list[Message], info: AgentInfo) -> str:
        turns.append(info.turn)
        return "42" if info.turn == 3 else "?"

    result = Runner.run_sync(typed(int, model), "How many?")
    assert result.final_output == 42 and turns == [1, 2, 3]
    assert [m.name for m in result.messages if m.role == "user"] == [None, "output_errors", "output_errors"]


def test_an_answer_that_never_validates_ends_failed_with_the_errors() -> None:
    result = Runner.run_sync(typed(Invoice, lambda m, i: '{"customer": 1}'), "read it", config=RunConfig(max_turns=3))
    assert result.status is RunStatus.FAILED and result.turn_count == 3
    assert result.error is not None and "max_turns=3 reached without a valid answer" in result.error
    assert "- customer: Input should be a valid string (got 1)" in result.error
    assert result.final_output == result.output_text == '{"customer": 1}'  # the last text, as for any failed run


def test_run_stream_raises_output_error_carrying_the_result() -> None:
    async def main() -> tuple[list[str], BaseException | None]:
        chunks: list[str] = []
        try:
            async for chunk in Runner.run_stream(typed(int, lambda m, i: "many"), "go", config=RunConfig(max_turns=2)):
                chunks.append(chunk)
        except AgentError as exc:
            return chunks, exc
        return chunks, None

    chunks, error = asyncio.run(main())
    assert isinstance(error, OutputError) and error.result is not None
    assert error.result.status is RunStatus.FAILED and "".join(chunks) == "manymany"


def test_the_final_answer_tool_validates_and_an_invalid_call_gets_a_tool_error() -> None:
    def model(messages: list[Message], info: AgentInfo) -> Any:
        assert info.output is not None and info.output.tool_name == FINAL_ANSWER_TOOL
        if info.turn == 1:
            return call(FINAL_ANSWER_TOOL, x=1)
        return call(FINAL_ANSWER_TOOL, x=1, y=2)

    result = Runner.run_sync(typed(Point, model), "where?")
    assert result.status is RunStatus.COMPLETED and result.final_output == Point(1, 2)
    assert result.output_text == '{"x": 1, "y": 2}' and result.tool_calls == []  # the answer is not a tool call
    tool_messages = [m for m in result.messages if m.role == "tool"]
    assert "Error: the final answer does not match Point" in (tool_messages[0].content or "")
    assert "- y: Field required" in (tool_messages[0].content or "")
    assert tool_messages[1].content == "Final answer received."
    # Every tool call has its answer: the conversation can go on.
    assert Runner.run_sync(Agent(name="Next", model="scripted"), "more", history=result.history_messages()).succeeded


def test_tools_run_before_the_answer_and_calls_next_to_a_valid_answer_are_not_run() -> None:
    def model(messages: list[Message], info: AgentInfo) -> Any:
        if info.turn == 1:
            return call("add", a=2, b=3)
        return [call(FINAL_ANSWER_TOOL, response=5), call("add", a=1, b=1)]

    result = Runner.run_sync(typed(int, model, tools=[add]), "2+3?")
    assert result.final_output == 5 and [(c.name, c.result) for c in result.tool_calls] == [("add", 5)]
    assert result.messages[-1].content == "Not run: the final answer came in the same response."


def test_a_function_may_return_the_typed_value_itself() -> None:
    result = Runner.run_sync(typed(Invoice, lambda m, i: Invoice.model_validate(INVOICE)), "go")
    assert result.final_output == Invoice.model_validate(INVOICE) and json.loads(result.output_text or "") == INVOICE
    fenced = Runner.run_sync(typed(Point, lambda m, i: '```json\n{"x": 3, "y": 4}\n```'), "go")
    assert fenced.final_output == Point(3, 4)
    bare = Runner.run_sync(typed(list[int], lambda m, i: "[1, 2]"), "go")  # not wrapped: taken as well
    assert bare.final_output == [1, 2]


# -- configuration -----------------------------------------------------------------------------------
def test_configuration_mistakes_are_config_errors_before_the_run() -> None:
    import typing

    class OldDict(typing.TypedDict):  # pydantic needs typing_extensions.TypedDict on Python 3.11
        a: int

    with pytest.raises(ConfigError, match=r"output_type=.*OldDict.*cannot be validated .*typing_extensions\.TypedDict"):
        Runner.run_sync(Agent(name="A", model="scripted", output_type=OldDict), "go")
    with pytest.raises(ConfigError, match="cannot be validated .*use a pydantic model"):
        Runner.run_sync(Agent(name="A", model="scripted", output_type=object()), "go")

    def final_answer(x: int) -> int:
        """A tool that takes the final answer's name."""
        return x

    with pytest.raises(ConfigError, match="tool named 'final_answer'"):
        Agent(name="A", model="scripted", tools=[final_answer], output_type=int)
    assert Agent(name="A", model="scripted", tools=[final_answer]).tools  # fine without output_type


def test_the_agent_shows_and_clones_its_output_type_and_builds_the_adapter_once() -> None:
    agent = Agent(name="A", model="scripted", output_type=Invoice)
    assert repr(agent) == "Agent(name='A', model='scripted', output_type=Invoice)"
    assert agent.clone(name="B").output_type is Invoice
    assert agent.output is not None and agent.output.adapter is agent.output.adapter
    spec = agent.output.spec
    assert spec.strict and spec.schema["additionalProperties"] is False  # every field required: strict
    optional = Agent(name="E", model="scripted", output_type=Event).output
    assert optional is not None and not optional.spec.strict  # an optional field: not strict
    assert Agent(name="I", model="scripted", output_type=list[str]).output.spec.name == "list_str"  # type: ignore[union-attr]


# -- streaming, displays, JSON -------------------------------------------------------------------
def test_streaming_a_typed_answer_streams_its_text() -> None:
    agent = typed(Invoice, lambda m, i: Reply(text=json.dumps(INVOICE)))

    async def main() -> tuple[list[Any], RunResult]:
        chunks = [c async for c in Runner.run_stream(agent, "go")]
        events = [e async for e in StreamingRunner(agent).run("go")]
        done = events[-1].run_result
        assert done is not None
        return [chunks, [e.content for e in events if e.type == "text"]], done

    (chunks, texts), done = asyncio.run(main())
    assert len(chunks) > 1 and "".join(chunks) == json.dumps(INVOICE) == "".join(texts)
    assert done.final_output == Invoice.model_validate(INVOICE)


def test_a_final_answer_call_is_streamed_as_the_answer_text() -> None:
    async def main() -> list[str]:
        agent = typed(Point, lambda m, i: call(FINAL_ANSWER_TOOL, x=1, y=2))
        return [c async for c in Runner.run_stream(agent, "go")]

    assert asyncio.run(main()) == ['{"x": 1, "y": 2}']


def test_displays_show_a_typed_answer_as_json_escaped() -> None:
    value = {**INVOICE, "customer": "<script>alert(1)</script>"}
    result = Runner.run_sync(typed(Invoice, lambda m, i: json.dumps(value)), "go")
    html = render.run_html(result)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<pre class=" in html and "<code" in html
    markdown = render.run_markdown(result)
    assert '```json\n{\n  "customer": "<script>alert(1)</script>",' in markdown
    assert json.loads(render.run_text(result).split("\n", 2)[2]) == value
    assert "output='{" in repr(result)


def test_a_typed_result_dumps_to_json_and_loads_back_equal() -> None:
    result = Runner.run_sync(typed(Invoice, lambda m, i: json.dumps(INVOICE)), "go")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["final_output"] == INVOICE and data["output_schema"]["title"] == "Invoice"
    back = RunResult.from_dict(data)
    assert back == result and back.final_output == INVOICE  # plain JSON data once loaded
    assert back.output_as(Invoice) == result.final_output
    assert back.typed and back.output_text == result.output_text
    changed = RunResult.from_dict({**data, "final_output": {**INVOICE, "total": 1.0}})
    assert changed != result


def test_a_result_dumped_before_output_text_existed_loads_with_its_text() -> None:
    data = Runner.run_sync(Agent(name="Plain", model="scripted"), "Hello").to_dict()
    del data["output_text"], data["output_schema"]
    old = RunResult.from_dict(data)
    assert old.output_text == old.final_output and old.output_schema is None
