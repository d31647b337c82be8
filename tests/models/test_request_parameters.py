"""`Model.stream(messages, params)`: one frozen `ModelRequestParameters`; the 0.1 signature still runs (warned)."""

from __future__ import annotations

import dataclasses
import pickle
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from openstackai_nb import Agent, Runner, RunStatus, tool
from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolDefinition
from openstackai_nb.models import Model, ModelRequestParameters
from openstackai_nb.models.cached import CachedModel
from openstackai_nb.models.function import AgentInfo, FunctionModel, call
from openstackai_nb.runner import RunConfig
from tests._aio import arun

TOOL = ToolDefinition("f", "F.", {"type": "object", "properties": {}})
SPEC = OutputSpec(name="A", schema={"type": "object", "properties": {"x": {"type": "integer"}}})


def test_params_are_frozen_hashable_and_compare_by_value() -> None:
    a = ModelRequestParameters([TOOL], 12.5, {"seed": 7}, SPEC)
    b = ModelRequestParameters((TOOL,), 12.5, {"seed": 7}, SPEC)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.tools == (TOOL,)  # a tuple, whatever was passed
    assert a != ModelRequestParameters((TOOL,), 12.5, {"seed": 8}, SPEC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.deadline = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.settings["seed"] = 8  # type: ignore[index]
    assert pickle.loads(pickle.dumps(a)) == a
    empty = ModelRequestParameters()
    assert (empty.tools, empty.deadline, dict(empty.settings), empty.output) == ((), None, {}, None)


def test_the_settings_a_run_passes_are_its_own_copy() -> None:
    mine = {"seed": 1}
    params = ModelRequestParameters(settings=mine)
    mine["seed"] = 2
    assert params.settings["seed"] == 1


def test_a_function_model_sees_the_same_info_as_before() -> None:
    seen: list[AgentInfo] = []

    class Answer(BaseModel):
        x: int

    @tool
    def f() -> str:
        """F."""
        return "1"

    def fn(messages: list[Message], info: AgentInfo) -> Any:
        seen.append(info)
        return call("f") if info.turn == 1 else {"x": 1}

    agent = Agent(name="I", model=FunctionModel(fn), tools=[f], output_type=Answer, model_settings={"temperature": 0})
    r = Runner.run_sync(agent, "go", config=RunConfig(model_settings={"seed": 7}))
    assert r.status is RunStatus.COMPLETED and r.final_output == Answer(x=1)
    info = seen[0]
    assert type(info.settings) is dict and info.settings == {"temperature": 0, "seed": 7}
    assert [t.name for t in info.tools] == ["f"] and info.output is not None and info.output.name == "Answer"


def _old_model() -> type[Model]:
    with pytest.warns(DeprecationWarning, match=r"stream\(self, messages, params\)") as caught:
        line = sys._getframe().f_lineno + 2  # the class statement: the warning names it

        class Old(Model):
            """A third-party model written against 0.1's keyword signature (no `output` keyword)."""

            name = "old"

            def __init__(self) -> None:
                self.calls: list[tuple[list[str], float | None, dict[str, Any]]] = []

            async def stream(
                self,
                messages: Sequence[Message],
                tools: Sequence[ToolDefinition],
                *,
                deadline: float | None = None,
                settings: Mapping[str, Any] | None = None,
            ) -> AsyncIterator[ModelDelta]:
                self.calls.append(([t.name for t in tools], deadline, dict(settings or {})))
                yield ModelDelta("text", text="old ")
                yield ModelDelta("text", text="answer")
                yield ModelDelta("finish", text="stop")

    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]
    return Old


def test_a_model_with_the_old_signature_warns_once_when_defined_and_still_runs() -> None:
    old = _old_model()()
    r = Runner.run_sync(Agent(name="O", model=old, model_settings={"seed": 3}), "go")
    assert r.status is RunStatus.COMPLETED and r.final_output == "old answer"
    (tools, deadline, settings) = old.calls[0]
    assert tools == [] and deadline is not None and settings == {"seed": 3}


def test_a_model_with_the_old_signature_may_still_be_called_the_old_way() -> None:
    old = _old_model()()

    async def collect() -> list[str]:
        return [d.text async for d in old.stream([Message(role="user", content="hi")], [TOOL], deadline=None)]

    assert arun(collect()) == ["old ", "answer", "stop"]
    assert old.calls == [(["f"], None, {})]


def test_an_old_model_with_output_gets_it_only_for_a_typed_answer() -> None:
    seen: list[OutputSpec | None] = []
    with pytest.warns(DeprecationWarning):

        class Typed(Model):
            name = "typed-old"

            async def stream(
                self,
                messages: Sequence[Message],
                tools: Sequence[ToolDefinition],
                *,
                deadline: float | None = None,
                settings: Mapping[str, Any] | None = None,
                output: OutputSpec | None = None,
            ) -> AsyncIterator[ModelDelta]:
                seen.append(output)
                yield ModelDelta("text", text='{"x": 2}' if output is not None else "plain")
                yield ModelDelta("finish", text="stop")

    class Answer(BaseModel):
        x: int

    assert Runner.run_sync(Agent(name="T", model=Typed(), output_type=Answer), "go").final_output == Answer(x=2)
    assert Runner.run_sync(Agent(name="T", model=Typed()), "go").final_output == "plain"
    assert seen[0] is not None and seen[0].name == "Answer" and seen[1] is None


def test_a_wrapping_model_forwards_params_to_an_old_model() -> None:
    old = _old_model()()
    r = Runner.run_sync(Agent(name="W", model=CachedModel(old, _Keys())), "go")
    assert r.final_output == "old answer" and len(old.calls) == 1


class _Keys:
    """A ResponseStore that remembers the keys it was asked for and stores nothing."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def get(self, key: str, max_age: float | None = None) -> list[dict[str, Any]] | None:
        self.keys.append(key)
        return None

    def put(self, key: str, deltas: list[dict[str, Any]], model: str) -> None:
        pass


# The keys of this run's two model calls, computed by the code before ModelRequestParameters
# existed (main at 9ce09a6): a cache file written then still answers the same request now.
GOLDEN_KEYS = [
    "b25d4f94de430303def1ffe64cd4fefe6adcf4dbd2248073405ecefebfe8358a",
    "b563605078450ddb5402cce92ac5dd3e43b422648a481625724aef9d68fe645b",
]


def test_the_cache_key_of_a_request_is_unchanged() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    class Sum(BaseModel):
        total: int

    def fn(messages: list[Message], info: AgentInfo) -> Any:
        if messages[-1].role == "tool":
            return {"total": int(messages[-1].content or "0")}
        return call("add", a=1, b=2)

    store = _Keys()
    model = CachedModel(FunctionModel(fn, name="golden", cacheable=True), store, mode=True)
    agent = Agent(
        name="G", instructions="Add.", model=model, tools=[add], output_type=Sum, model_settings={"temperature": 0}
    )
    r = Runner.run_sync(agent, "add 1 and 2", config=RunConfig(model_settings={"seed": 7}))
    assert r.status is RunStatus.COMPLETED
    assert store.keys == GOLDEN_KEYS
