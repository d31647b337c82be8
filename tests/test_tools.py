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
