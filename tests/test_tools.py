from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from openstackai_nb import Agent, tool
from openstackai_nb.errors import ConfigError
from openstackai_nb.runner import RunContext
from openstackai_nb.tools import ToolArgumentsError


class Point(BaseModel):
    x: int
    y: int


def search(query: str, limit: int = 5, mode: Literal["fast", "deep"] = "fast", ctx: RunContext | None = None) -> list:
    """Search the notes.

    Longer explanation that is part of the summary.

    Args:
        query: what to look for,
            over two lines.
        limit: how many results.
        mode: fast or deep.
        ctx: the run context.

    Returns:
        The hits.
    """
    return []


def test_schema_from_hints_and_docstring_with_postponed_annotations() -> None:
    t = tool(search)
    d = t.definition
    assert d.name == "search"
    assert d.description == "Search the notes. Longer explanation that is part of the summary."
    props = d.parameters["properties"]
    assert set(props) == {"query", "limit", "mode"}  # the RunContext parameter is hidden
    assert props["query"] == {"description": "what to look for, over two lines.", "type": "string"}
    assert props["limit"]["default"] == 5 and props["mode"]["enum"] == ["fast", "deep"]
    assert d.parameters["required"] == ["query"]
    assert d.parameters["additionalProperties"] is False


def test_validation_names_the_field() -> None:
    t = tool(search)
    assert t.validate('{"query": "x", "limit": "3"}')["limit"] == 3
    with pytest.raises(ToolArgumentsError, match="limit: Input should be a valid integer"):
        t.validate({"query": "x", "limit": "many"})
    with pytest.raises(ToolArgumentsError, match="query: Field required"):
        t.validate("{}")
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        t.validate("{query:")
    with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
        t.validate("[1, 2]")
    with pytest.raises(ToolArgumentsError, match="Extra inputs are not permitted"):
        t.validate({"query": "x", "unknown": 1})


def test_pydantic_model_parameter() -> None:
    def dist(p: Point) -> float:
        """Distance to origin."""
        return (p.x**2 + p.y**2) ** 0.5

    t = tool(dist)
    args = t.validate({"p": {"x": 3, "y": 4}})
    assert t.fn(**args) == 5.0


def test_decorator_forms_and_names() -> None:
    @tool(name="renamed", description="Custom.")
    def f(a: int) -> int:
        return a

    assert f.name == "renamed" and f.definition.description == "Custom." and f(2) == 2
    with pytest.raises(ConfigError, match="not allowed"):
        tool(lambda: 1)  # "<lambda>" is not a valid tool name
    with pytest.raises(ConfigError, match="two tools named 'search'"):
        Agent(name="x", tools=[search, search])
    with pytest.raises(ConfigError, match="must be functions"):
        Agent(name="x", tools=["search"])  # type: ignore[list-item]


def test_a_tool_given_again_with_a_name_is_a_renamed_copy() -> None:
    # tool(existing_tool, name="plus") used to hand back `existing_tool` under its old name.
    from openstackai_nb import Runner
    from openstackai_nb.models.function import FunctionModel, call

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    plus = tool(add, name="plus")
    assert plus.name == "plus" and plus.definition.name == "plus" and plus is not add
    assert plus.definition.description == "Add two numbers." and plus.definition.parameters == add.definition.parameters
    assert add.name == "add" and add.definition.name == "add"  # the original is left as it is
    assert tool(name="sum", description="Sum them.")(add).definition.to_openai()["function"] == {
        "name": "sum",
        "description": "Sum them.",
        "parameters": add.definition.parameters,
    }
    assert tool(add) is add and tool(add, name="add") is add  # nothing asked: the same tool
    gated = tool(add, name="guarded", requires_approval=True)
    assert (gated.name, gated.requires_approval, add.requires_approval) == ("guarded", True, False)
    assert tool(gated, name="again").requires_approval  # a copy keeps what it does not change

    # Both under their own names in one agent; a call of "plus" runs the function.
    def model(messages, info):  # noqa: ANN001, ANN202
        return call("plus", a=2, b=3) if info.turn == 1 else f"got {messages[-1].content}"

    result = Runner.run_sync(Agent(name="calc", tools=[add, plus], model=FunctionModel(model)), "2+3")
    assert [c.name for c in result.tool_calls] == ["plus"] and result.final_output == "got 5"


def test_renaming_a_tool_checks_the_new_name() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    with pytest.raises(ConfigError, match="tool name 'two words' is not allowed"):
        tool(add, name="two words")


def test_a_renamed_tool_without_a_docstring_is_described_by_its_new_name() -> None:
    def nameless(x: int) -> int:
        return x

    original = tool(nameless)
    assert original.definition.description == "nameless"
    assert tool(original, name="renamed").definition.description == "renamed"
